//! Verifying an inbound hook request: Standard Webhooks (webhook-id,
//! webhook-timestamp within 5 minutes, webhook-signature with any of the hook's
//! valid secrets) or GitHub (X-Hub-Signature-256 over the body, X-GitHub-Delivery as
//! the message id). Comparisons are constant-time. Returns the message id, which the
//! store then refuses to see twice.

use axum::http::HeaderMap;
use bosun_protocol::events::HookScheme;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::webhook_sign::{self, Secret};

/// GitHub's signature header and message id header.
pub const GITHUB_SIGNATURE_HEADER: &str = "x-hub-signature-256";
pub const GITHUB_DELIVERY_HEADER: &str = "x-github-delivery";
/// The longest message id accepted.
const MAX_ID_LEN: usize = 256;

/// Why a request is refused (each is a 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the {0} header is missing or not text")]
    Missing(&'static str),
    #[error("the message id is longer than {MAX_ID_LEN} characters")]
    LongId,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error(transparent)]
    Timestamp(webhook_sign::VerifyError),
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Refusal> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).ok_or(Refusal::Missing(name))
}

/// Checks a request's signature with any of `secrets` (text as stored), at unix time `now`.
pub fn verify(scheme: HookScheme, secrets: &[String], headers: &HeaderMap, body: &[u8], now: i64) -> Result<String, Refusal> {
    let id = match scheme {
        HookScheme::StandardWebhooks => header(headers, webhook_sign::ID_HEADER)?,
        HookScheme::Github => header(headers, GITHUB_DELIVERY_HEADER)?,
    };
    if id.len() > MAX_ID_LEN {
        return Err(Refusal::LongId);
    }
    match scheme {
        HookScheme::StandardWebhooks => {
            let timestamp =
                webhook_sign::check_timestamp(header(headers, webhook_sign::TIMESTAMP_HEADER)?, now).map_err(Refusal::Timestamp)?;
            let signatures = header(headers, webhook_sign::SIGNATURE_HEADER)?;
            let matches = secrets
                .iter()
                .filter_map(|text| Secret::parse(text).ok())
                .any(|secret| webhook_sign::verify(&secret, id, timestamp, body, signatures).is_ok());
            if !matches {
                return Err(Refusal::Mismatch);
            }
        }
        HookScheme::Github => {
            let signature = header(headers, GITHUB_SIGNATURE_HEADER)?;
            let expected = signature.strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()).ok_or(Refusal::Mismatch)?;
            let matches = secrets.iter().any(|secret| github_mac(secret, body).verify_slice(&expected).is_ok());
            if !matches {
                return Err(Refusal::Mismatch);
            }
        }
    }
    Ok(id.to_string())
}

/// GitHub's HMAC: the secret's text is the key.
fn github_mac(secret: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The `X-Hub-Signature-256` value GitHub would send.
    fn github_signature(secret: &str, body: &[u8]) -> String {
        format!("sha256={}", hex::encode(github_mac(secret, body).finalize().into_bytes()))
    }

    const NOW: i64 = 1_700_000_000;

    fn standard(secret: &Secret, id: &str, at: i64, body: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(webhook_sign::ID_HEADER, HeaderValue::from_str(id).unwrap());
        headers.insert(webhook_sign::TIMESTAMP_HEADER, HeaderValue::from_str(&at.to_string()).unwrap());
        headers.insert(webhook_sign::SIGNATURE_HEADER, HeaderValue::from_str(&webhook_sign::sign(secret, id, at, body)).unwrap());
        headers
    }

    #[test]
    fn standard_webhooks_signatures() {
        let (old, new) = (Secret::generate().unwrap(), Secret::generate().unwrap());
        let secrets = vec![new.to_text(), old.to_text()];
        let body = br#"{"a":1}"#;
        assert_eq!(verify(HookScheme::StandardWebhooks, &secrets, &standard(&new, "m1", NOW, body), body, NOW), Ok("m1".into()));
        // The old secret still passes during its grace period (it is in the list).
        assert!(verify(HookScheme::StandardWebhooks, &secrets, &standard(&old, "m1", NOW, body), body, NOW).is_ok());
        let stranger = Secret::generate().unwrap();
        assert_eq!(
            verify(HookScheme::StandardWebhooks, &secrets, &standard(&stranger, "m1", NOW, body), body, NOW),
            Err(Refusal::Mismatch)
        );
        assert_eq!(verify(HookScheme::StandardWebhooks, &secrets, &standard(&new, "m1", NOW, body), b"{}", NOW), Err(Refusal::Mismatch));
        let old_timestamp = standard(&new, "m1", NOW - 301, body);
        assert!(matches!(verify(HookScheme::StandardWebhooks, &secrets, &old_timestamp, body, NOW), Err(Refusal::Timestamp(_))));
        let mut missing = standard(&new, "m1", NOW, body);
        missing.remove(webhook_sign::SIGNATURE_HEADER);
        assert_eq!(verify(HookScheme::StandardWebhooks, &secrets, &missing, body, NOW), Err(Refusal::Missing("webhook-signature")));
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(verify(HookScheme::StandardWebhooks, &secrets, &standard(&new, &long, NOW, body), body, NOW), Err(Refusal::LongId));
    }

    #[test]
    fn github_signatures() {
        let secrets = vec!["whsec_abc".to_string()];
        let body = br#"{"zen":"x"}"#;
        let mut headers = HeaderMap::new();
        headers.insert(GITHUB_DELIVERY_HEADER, HeaderValue::from_static("d-1"));
        assert_eq!(verify(HookScheme::Github, &secrets, &headers, body, NOW), Err(Refusal::Missing(GITHUB_SIGNATURE_HEADER)));
        headers.insert(GITHUB_SIGNATURE_HEADER, HeaderValue::from_str(&github_signature("whsec_abc", body)).unwrap());
        assert_eq!(verify(HookScheme::Github, &secrets, &headers, body, NOW), Ok("d-1".into()));
        assert_eq!(verify(HookScheme::Github, &secrets, &headers, b"{}", NOW), Err(Refusal::Mismatch));
        headers.insert(GITHUB_SIGNATURE_HEADER, HeaderValue::from_static("sha256=zz"));
        assert_eq!(verify(HookScheme::Github, &secrets, &headers, body, NOW), Err(Refusal::Mismatch));
    }
}
