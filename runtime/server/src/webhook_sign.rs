//! Standard Webhooks signatures: secrets written `whsec_<base64>`, the
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, and the
//! `v1,<base64 HMAC-SHA256>` signature over `{id}.{timestamp}.{body}`. Bosun signs
//! what it sends with [`sign`] and checks what it receives with [`verify`] and
//! [`check_timestamp`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header carrying the message id: the same for every attempt at one message.
pub const ID_HEADER: &str = "webhook-id";
/// The header carrying the time of the attempt, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header carrying the signatures: `v1,<base64>`, several separated by spaces.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How a secret's text starts.
pub const SECRET_PREFIX: &str = "whsec_";
/// The fewest and the most bytes a secret may have.
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;
/// The bytes of a generated secret.
pub const GENERATED_SECRET_BYTES: usize = 32;
/// How far a received timestamp may be from now, in seconds, before it counts as a replay.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

const VERSION: &str = "v1";

/// A signing secret. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Why a secret's text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with {SECRET_PREFIX}")]
    Prefix,
    #[error("a webhook secret is {SECRET_PREFIX} and base64, and this is not base64: {0}")]
    Base64(String),
    #[error("a webhook secret has {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, and this has {0}")]
    Length(usize),
    #[error("cannot draw random bytes for a webhook secret: {0}")]
    Random(String),
}

impl Secret {
    /// A new secret of [`GENERATED_SECRET_BYTES`] random bytes.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// A secret from its bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// A secret from its text, `whsec_<base64>` (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.trim().strip_prefix(SECRET_PREFIX).ok_or(SecretError::Prefix)?;
        Self::from_bytes(STANDARD.decode(encoded).map_err(|e| SecretError::Base64(e.to_string()))?)
    }

    /// The secret's text, `whsec_<base64>`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The value of the `webhook-signature` header for one attempt at one message:
/// `v1,<base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("{VERSION},{}", STANDARD.encode(secret.mac(id, timestamp, body).finalize().into_bytes()))
}

/// Why a received message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no v1 signature matches the message")]
    Mismatch,
    #[error("the webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the webhook-timestamp is more than {TOLERANCE_SECONDS} seconds from now")]
    OutOfTolerance,
}

/// Checks a `webhook-signature` header (one or more space-separated
/// `version,signature` entries) against a message: one `v1` entry must match.
/// Compares in constant time. Check the timestamp as well, with [`check_timestamp`].
pub fn verify(secret: &Secret, id: &str, timestamp: i64, body: &[u8], signatures: &str) -> Result<(), VerifyError> {
    let expected = secret.mac(id, timestamp, body);
    let matches = signatures
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, signature)| STANDARD.decode(signature).ok())
        .any(|signature| expected.clone().verify_slice(&signature).is_ok());
    if matches { Ok(()) } else { Err(VerifyError::Mismatch) }
}

/// Checks a `webhook-timestamp` header against the time `now` (unix seconds):
/// at most [`TOLERANCE_SECONDS`] away either way. Returns the timestamp.
pub fn check_timestamp(header: &str, now: i64) -> Result<i64, VerifyError> {
    let timestamp: i64 = header.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if timestamp.abs_diff(now) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(VerifyError::OutOfTolerance);
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specifications_example() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(sign(&secret, ID, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(secret.to_text(), SECRET);
    }

    #[test]
    fn verifies_its_own_and_the_examples_signatures() {
        let secret = Secret::parse(SECRET).unwrap();
        verify(&secret, ID, TIMESTAMP, BODY, SIGNATURE).unwrap();
        // Several entries: one v1 match is enough; other versions and junk are skipped.
        verify(&secret, ID, TIMESTAMP, BODY, &format!("v2,abc v1,bm90IGl0 garbage {SIGNATURE}")).unwrap();
        let mine = Secret::generate().unwrap();
        verify(&mine, "cmd_1", 7, b"{}", &sign(&mine, "cmd_1", 7, b"{}")).unwrap();
    }

    #[test]
    fn refuses_a_tampered_message() {
        let secret = Secret::parse(SECRET).unwrap();
        let refused = |id: &str, timestamp: i64, body: &[u8], signature: &str| verify(&secret, id, timestamp, body, signature);
        assert_eq!(refused(ID, TIMESTAMP, br#"{"test": 2432232315}"#, SIGNATURE), Err(VerifyError::Mismatch));
        assert_eq!(refused("msg_other", TIMESTAMP, BODY, SIGNATURE), Err(VerifyError::Mismatch));
        assert_eq!(refused(ID, TIMESTAMP + 1, BODY, SIGNATURE), Err(VerifyError::Mismatch));
        assert_eq!(refused(ID, TIMESTAMP, BODY, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), Err(VerifyError::Mismatch));
        assert_eq!(refused(ID, TIMESTAMP, BODY, ""), Err(VerifyError::Mismatch));
        assert_eq!(refused(ID, TIMESTAMP, BODY, "v1,not base64!"), Err(VerifyError::Mismatch));
    }

    #[test]
    fn refuses_another_secret() {
        let other = Secret::generate().unwrap();
        assert_ne!(other, Secret::parse(SECRET).unwrap());
        assert_eq!(verify(&other, ID, TIMESTAMP, BODY, SIGNATURE), Err(VerifyError::Mismatch));
    }

    #[test]
    fn reads_and_writes_secrets() {
        let generated = Secret::generate().unwrap();
        let text = generated.to_text();
        assert!(text.starts_with("whsec_"), "{text}");
        assert_eq!(Secret::parse(&format!("  {text}\n")).unwrap(), generated);
        assert_eq!(format!("{generated:?}"), "Secret(..)");
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(SecretError::Prefix));
        assert!(matches!(Secret::parse("whsec_%%%"), Err(SecretError::Base64(_))));
        assert_eq!(Secret::parse("whsec_c2hvcnQ="), Err(SecretError::Length(5)));
    }

    #[test]
    fn timestamps_within_the_tolerance_pass() {
        assert_eq!(check_timestamp("1000", 1000 + TOLERANCE_SECONDS), Ok(1000));
        assert_eq!(check_timestamp(" 1000 ", 1000 - TOLERANCE_SECONDS), Ok(1000));
        assert_eq!(check_timestamp("1000", 1001 + TOLERANCE_SECONDS), Err(VerifyError::OutOfTolerance));
        assert_eq!(check_timestamp("1000", 999 - TOLERANCE_SECONDS), Err(VerifyError::OutOfTolerance));
        assert_eq!(check_timestamp("10.5", 10), Err(VerifyError::BadTimestamp));
    }
}
