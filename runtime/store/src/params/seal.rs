//! Envelope encryption of SecureString values: each value is sealed with AES-256-GCM
//! under a fresh data key, and the data key is sealed (wrapped) under the master key.
//! The master key never reaches the database; its id (a hash prefix) is stored beside
//! each wrapped data key, so a wrong key is named as such instead of failing as noise.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::ParamError;

const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

/// The master key: 32 bytes, written as 64 hex digits in a key file or an environment variable.
pub struct MasterKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A sealed value with its wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, ParamError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(bytes.as_mut_slice()).map_err(|e| ParamError::Crypto(format!("no randomness from the system: {e}")))?;
    Ok(bytes)
}

fn seal_with(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, ParamError> {
    let nonce = random::<NONCE_LEN>()?;
    let cipher = Aes256Gcm::new(key.into());
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce.as_slice()), Payload { msg: plaintext, aad })
        .map_err(|_| ParamError::Crypto("encryption failed".into()))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

fn open_with(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into()).decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad }).ok().map(Zeroizing::new)
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Result<Self, ParamError> {
        Ok(Self::from_bytes(*random::<KEY_LEN>()?))
    }

    fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let digest = Sha256::digest([b"bosun-parameter-master-key".as_slice(), &bytes].concat());
        Self { key: Zeroizing::new(bytes), id: hex::encode(&digest[..8]) }
    }

    /// Reads a key from its text form: 64 hex digits, spaces around allowed.
    /// The message never repeats the text.
    pub fn from_hex(text: &str) -> Result<Self, ParamError> {
        let text = text.trim();
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| {
            ParamError::Crypto(format!("a master key must be {} hex digits (it has {} characters)", KEY_LEN * 2, text.len()))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key's text form, for writing a key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.key.as_slice()))
    }

    /// The key's id: it names the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` for the parameter version `context` (the name and version bind it).
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<Sealed, ParamError> {
        let data_key = random::<KEY_LEN>()?;
        let ciphertext = seal_with(&data_key, plaintext.as_bytes(), context.as_bytes())?;
        let wrapped_key = seal_with(&self.key, data_key.as_slice(), self.id.as_bytes())?;
        Ok(Sealed { ciphertext, wrapped_key, key_id: self.id.clone() })
    }

    fn unwrap_key(&self, sealed: &Sealed) -> Result<Zeroizing<[u8; KEY_LEN]>, ParamError> {
        if sealed.key_id != self.id {
            return Err(ParamError::Crypto(format!(
                "the value was sealed under master key {}, but the key loaded is {}",
                sealed.key_id, self.id
            )));
        }
        let opened = open_with(&self.key, &sealed.wrapped_key, self.id.as_bytes())
            .ok_or_else(|| ParamError::Crypto(format!("the data key does not open under master key {}", self.id)))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if opened.len() != KEY_LEN {
            return Err(ParamError::Crypto("a stored data key has the wrong length".into()));
        }
        key.copy_from_slice(&opened);
        Ok(key)
    }

    /// Opens a value sealed by [`MasterKey::seal`] for the same `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Zeroizing<String>, ParamError> {
        let data_key = self.unwrap_key(sealed)?;
        let plaintext = open_with(&data_key, &sealed.ciphertext, context.as_bytes())
            .ok_or_else(|| ParamError::Crypto("a stored value does not open with its data key".into()))?;
        String::from_utf8(plaintext.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| ParamError::Crypto("a stored value is not UTF-8 after opening".into()))
    }

    /// The same data key, wrapped under `to` instead of this key.
    pub fn rewrap(&self, sealed: &Sealed, to: &MasterKey) -> Result<Sealed, ParamError> {
        let data_key = self.unwrap_key(sealed)?;
        let wrapped_key = seal_with(&to.key, data_key.as_slice(), to.id.as_bytes())?;
        Ok(Sealed { ciphertext: sealed.ciphertext.clone(), wrapped_key, key_id: to.id.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_its_key_and_context() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("hunter2", "/db/pw#1").unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(key.open(&sealed, "/db/pw#1").unwrap().as_str(), "hunter2");
        assert!(key.open(&sealed, "/db/pw#2").is_err(), "the context is bound");
        let other = MasterKey::generate().unwrap();
        let message = other.open(&sealed, "/db/pw#1").unwrap_err().to_string();
        assert!(message.contains(key.id()) && message.contains(other.id()), "{message}");
        let mut tampered = sealed.clone();
        *tampered.ciphertext.last_mut().unwrap() ^= 1;
        assert!(key.open(&tampered, "/db/pw#1").is_err());
    }

    #[test]
    fn rewrapping_keeps_the_value() {
        let (old, new) = (MasterKey::generate().unwrap(), MasterKey::generate().unwrap());
        let sealed = old.seal("s3cret", "x#1").unwrap();
        let moved = old.rewrap(&sealed, &new).unwrap();
        assert_eq!(moved.key_id, new.id());
        assert_eq!(new.open(&moved, "x#1").unwrap().as_str(), "s3cret");
        assert!(old.open(&moved, "x#1").is_err());
    }

    #[test]
    fn key_text_is_checked_and_never_echoed() {
        let key = MasterKey::generate().unwrap();
        let again = MasterKey::from_hex(&format!("{}\n", key.to_hex().as_str())).unwrap();
        assert_eq!(again.id(), key.id());
        let message = MasterKey::from_hex("not-a-key-secretish").unwrap_err().to_string();
        assert!(!message.contains("secretish"), "{message}");
        assert!(MasterKey::from_hex(&"a".repeat(63)).is_err());
        assert!(MasterKey::from_hex(&"a".repeat(66)).is_err());
        assert!(!format!("{key:?}").contains(key.to_hex().as_str()));
    }
}
