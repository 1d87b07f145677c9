//! Admin API tokens: only a sha256 of each token is kept, with its name, when it
//! was created and last used, and whether it was revoked. Checking a token compares
//! its hash with every active hash in constant time; a token found active is then
//! found by its hash in memory while no token or scope changes (`token_cache.rs`).

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use bosun_engine::StoreError;

use crate::{Store, now, sql_error};

/// What the store knows of a token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub name: String,
    pub created_at: String,
    pub last_used: Option<String>,
    pub revoked: bool,
}

/// The sha256 of a token, as the store keeps it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A token name: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn validate_token_name(name: &str) -> Result<(), StoreError> {
    let fits = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fits { Ok(()) } else { Err(StoreError(format!("token name \"{name}\" must be 1 to 64 letters, digits, '-', '_' or '.'"))) }
}

/// The name of the first active token whose hash equals `hash`, comparing every
/// candidate in constant time and without stopping early.
fn find_active(hash: &[u8; 32], active: &[(String, Vec<u8>)]) -> Option<String> {
    let mut found = None;
    for (name, stored) in active {
        if bool::from(stored.as_slice().ct_eq(hash.as_slice())) && found.is_none() {
            found = Some(name.clone());
        }
    }
    found
}

impl Store {
    /// Records a new token under a new name; `hash` is its sha256 ([`token_hash`]).
    pub fn create_token(&self, name: &str, hash: [u8; 32]) -> Result<TokenInfo, StoreError> {
        validate_token_name(name)?;
        let (owned, created_at) = (name.to_string(), now());
        let at = created_at.clone();
        self.writer.run_blocking(Box::new(move |conn| {
            let exists: Option<i64> =
                conn.query_row("SELECT 1 FROM api_tokens WHERE name = ?1", params![owned], |r| r.get(0)).optional().map_err(sql_error)?;
            if exists.is_some() {
                return Err(StoreError(format!("a token named {owned} exists already")));
            }
            conn.execute("INSERT INTO api_tokens (name, hash, created_at, revoked) VALUES (?1, ?2, ?3, 0)", params![owned, &hash[..], at])
                .map_err(sql_error)?;
            Ok(())
        }))?;
        Ok(TokenInfo { name: name.to_string(), created_at, last_used: None, revoked: false })
    }

    /// Every token, by name.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare("SELECT name, created_at, last_used, revoked FROM api_tokens ORDER BY name")?;
            statement
                .query_map([], |r| Ok(TokenInfo { name: r.get(0)?, created_at: r.get(1)?, last_used: r.get(2)?, revoked: r.get(3)? }))?
                .collect()
        })
    }

    /// Revokes a token; false when no token has that name.
    pub fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let owned = name.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let changed = conn.execute("UPDATE api_tokens SET revoked = 1 WHERE name = ?1", params![owned]).map_err(sql_error)?;
            let _ = tx.send(changed > 0);
            Ok(())
        }))?;
        Ok(rx.try_iter().last().unwrap_or(false))
    }

    /// The name of the active (not revoked) token this is, if any. A token found active
    /// is kept in memory until any token or scope changes (`token_cache.rs`).
    pub fn verify_token(&self, token: &str) -> Result<Option<String>, StoreError> {
        let hash = token_hash(token);
        let generation = self.token_generation()?;
        if let Some(name) = self.token_cache.name(generation, &hash) {
            return Ok(Some(name));
        }
        let active: Vec<(String, Vec<u8>)> = self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT name, hash FROM api_tokens WHERE revoked = 0")?;
            statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        })?;
        let found = find_active(&hash, &active);
        if let Some(name) = &found {
            self.token_cache.remember_name(generation, hash, name.clone());
        }
        Ok(found)
    }

    /// Records that a token was used now.
    pub fn touch_token(&self, name: &str) -> Result<(), StoreError> {
        let (owned, at) = (name.to_string(), now());
        self.writer.run_blocking(Box::new(move |conn| {
            conn.execute("UPDATE api_tokens SET last_used = ?2 WHERE name = ?1", params![owned, at]).map_err(sql_error)?;
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durability;

    #[test]
    fn the_hash_is_sha256() {
        let hash = token_hash("abc");
        assert_eq!(hex::encode(hash), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn only_an_exact_hash_matches() {
        let active = vec![("a".to_string(), token_hash("one").to_vec()), ("b".to_string(), token_hash("two").to_vec())];
        assert_eq!(find_active(&token_hash("two"), &active).as_deref(), Some("b"));
        assert_eq!(find_active(&token_hash("three"), &active), None);
        assert_eq!(find_active(&token_hash("two"), &[("short".into(), vec![1, 2, 3])]), None);
    }

    #[test]
    fn tokens_are_created_verified_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.create_token("ci", token_hash("secret-1")).unwrap();
        store.create_token("ops", token_hash("secret-2")).unwrap();
        assert!(store.create_token("ci", token_hash("secret-3")).unwrap_err().0.contains("exists already"));
        assert!(store.create_token("bad name", token_hash("x")).is_err());
        assert_eq!(store.verify_token("secret-1").unwrap().as_deref(), Some("ci"));
        assert_eq!(store.verify_token("secret-2").unwrap().as_deref(), Some("ops"));
        assert_eq!(store.verify_token("secret-").unwrap(), None);
        store.touch_token("ci").unwrap();
        assert!(store.revoke_token("ci").unwrap());
        assert!(!store.revoke_token("nobody").unwrap());
        assert_eq!(store.verify_token("secret-1").unwrap(), None);
        let list = store.list_tokens().unwrap();
        assert_eq!(list.iter().map(|t| (t.name.as_str(), t.revoked)).collect::<Vec<_>>(), [("ci", true), ("ops", false)]);
        assert!(list[0].last_used.is_some() && list[1].last_used.is_none());
        let text = std::fs::read(dir.path().join("bosun.db")).unwrap_or_default();
        assert!(!text.windows(8).any(|w| w == b"secret-1"), "the token itself is never stored");
    }
}
