//! Plugin signatures: ed25519 key pairs, detached signatures over a
//! component's bytes, and their check against the keys an operator trusts.
//! Keys and signatures are text: `ed25519:` and base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const PREFIX: &str = "ed25519:";
/// A signature file holds one line of text; anything longer is not one.
const MAX_TEXT: usize = 1024;

fn decode<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    if text.len() > MAX_TEXT {
        return Err(format!("the {what} is too long to be one"));
    }
    let body = text.trim().strip_prefix(PREFIX).ok_or_else(|| format!("the {what} must start with {PREFIX}"))?;
    let bytes = STANDARD.decode(body).map_err(|e| format!("the {what} is not base64: {e}"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("the {what} has {} bytes, not {N}", b.len()))
}

fn encode(bytes: &[u8]) -> String {
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// A new key pair: (secret key text, public key text).
pub fn generate() -> Result<(String, String), String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness for a key: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    Ok((encode(&seed), encode(key.verifying_key().as_bytes())))
}

/// Checks a public key's text and returns it normalised.
pub fn parse_public(text: &str) -> Result<String, String> {
    let bytes = decode::<32>(text, "public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 public key: {e}"))?;
    Ok(encode(&bytes))
}

/// Signs `bytes` with a secret key's text.
pub fn sign(secret: &str, bytes: &[u8]) -> Result<String, String> {
    let key = SigningKey::from_bytes(&decode::<32>(secret, "secret key")?);
    Ok(encode(&key.sign(bytes).to_bytes()))
}

/// The public key of a secret key.
pub fn public_of(secret: &str) -> Result<String, String> {
    let key = SigningKey::from_bytes(&decode::<32>(secret, "secret key")?);
    Ok(encode(key.verifying_key().as_bytes()))
}

/// Returns the name of the trusted key whose signature `signature` is over
/// `bytes`, or says why none is.
pub fn verify<'a>(bytes: &[u8], signature: &str, trusted: &'a [(String, String)]) -> Result<&'a str, String> {
    let signature = Signature::from_bytes(&decode::<64>(signature, "signature")?);
    if trusted.is_empty() {
        return Err("no signing key is trusted; add one with `bosun plugin trust add NAME KEY`".into());
    }
    for (name, public) in trusted {
        let key = VerifyingKey::from_bytes(&decode::<32>(public, "trusted key")?).map_err(|e| format!("trusted key {name}: {e}"))?;
        if key.verify(bytes, &signature).is_ok() {
            return Ok(name);
        }
    }
    Err(format!("the signature is not from a trusted key ({} trusted), or the file changed after signing", trusted.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_key_and_bytes() {
        let (secret, public) = generate().unwrap();
        let (_, other) = generate().unwrap();
        assert_eq!(public_of(&secret).unwrap(), public);
        let signature = sign(&secret, b"component").unwrap();
        let trusted = vec![("other".to_string(), other.clone()), ("release".to_string(), public)];
        assert_eq!(verify(b"component", &signature, &trusted), Ok("release"));
        assert!(verify(b"componenT", &signature, &trusted).unwrap_err().contains("not from a trusted key"));
        assert!(verify(b"component", &signature, &trusted[..1]).is_err());
        assert!(verify(b"component", &signature, &[]).unwrap_err().contains("no signing key is trusted"));
    }

    #[test]
    fn malformed_text_is_refused_with_reasons() {
        assert!(parse_public("AAAA").unwrap_err().contains("must start with ed25519:"));
        assert!(parse_public("ed25519:!!!").unwrap_err().contains("not base64"));
        assert!(parse_public("ed25519:AAAA").unwrap_err().contains("not 32"));
        assert!(verify(b"x", &"ed25519:".repeat(200), &[]).unwrap_err().contains("too long"));
        assert!(sign("ed25519:AAAA", b"x").is_err());
    }
}
