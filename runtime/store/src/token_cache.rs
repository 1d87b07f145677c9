//! Admin tokens already verified, and their parameter scopes, kept in memory while no
//! token changed. Every change to a token (created, revoked, renamed, given another
//! hash, deleted) or to its parameter or session scopes bumps one generation number in
//! the database, by triggers, so a change made by any process or any code path counts.
//! Every lookup reads that number first (one indexed read) and is answered from memory
//! only when it has not moved since the entry was read: a revocation or a narrowed
//! scope holds from the next call on, in this process and in every other.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bosun_engine::StoreError;

use crate::Store;
use crate::generations::{bump_generation_after, generation_table};
use crate::params::ParamScopes;

pub(crate) const SCHEMA: &str = concat!(
    "
-- token_generation: bumped by every change to api_tokens (but last_used),
-- parameter_scopes and session_scopes, so that a process caching verified tokens
-- sees any change.
",
    generation_table!("token_generation"),
    bump_generation_after!("token_generation", "api_tokens_inserted", "INSERT", "api_tokens"),
    bump_generation_after!("token_generation", "api_tokens_updated", "UPDATE OF name, hash, revoked", "api_tokens"),
    bump_generation_after!("token_generation", "api_tokens_deleted", "DELETE", "api_tokens"),
    bump_generation_after!("token_generation", "parameter_scopes_inserted", "INSERT", "parameter_scopes"),
    bump_generation_after!("token_generation", "parameter_scopes_updated", "UPDATE", "parameter_scopes"),
    bump_generation_after!("token_generation", "parameter_scopes_deleted", "DELETE", "parameter_scopes"),
    bump_generation_after!("token_generation", "session_scopes_inserted", "INSERT", "session_scopes"),
    bump_generation_after!("token_generation", "session_scopes_updated", "UPDATE", "session_scopes"),
    bump_generation_after!("token_generation", "session_scopes_deleted", "DELETE", "session_scopes"),
);

/// The most tokens kept; past it the cache starts again empty (a deployment has a
/// few dozen tokens, and only tokens that verified are kept).
const MAX_TOKENS: usize = 4096;

/// What was read while the generation was `generation`.
#[derive(Debug, Default)]
struct Known {
    generation: i64,
    /// Active tokens by hash: the token's name.
    names: HashMap<[u8; 32], String>,
    /// Parameter scopes by token name.
    param_scopes: HashMap<String, ParamScopes>,
}

/// Verified tokens and scopes, valid for one token generation.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    known: Mutex<Known>,
}

impl TokenCache {
    /// What is known for `generation`; everything read at another generation is forgotten.
    fn at(&self, generation: i64) -> MutexGuard<'_, Known> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.generation != generation {
            *known = Known { generation, ..Known::default() };
        }
        known
    }

    pub(crate) fn name(&self, generation: i64, hash: &[u8; 32]) -> Option<String> {
        self.at(generation).names.get(hash).cloned()
    }

    /// Keeps a token found active by a read made after `generation` was read.
    pub(crate) fn remember_name(&self, generation: i64, hash: [u8; 32], name: String) {
        let mut known = self.at(generation);
        if known.names.len() >= MAX_TOKENS {
            known.names.clear();
        }
        known.names.insert(hash, name);
    }

    pub(crate) fn param_scopes(&self, generation: i64, token: &str) -> Option<ParamScopes> {
        self.at(generation).param_scopes.get(token).cloned()
    }

    /// Keeps a token's scopes read after `generation` was read.
    pub(crate) fn remember_param_scopes(&self, generation: i64, token: &str, scopes: ParamScopes) {
        let mut known = self.at(generation);
        if known.param_scopes.len() >= MAX_TOKENS {
            known.param_scopes.clear();
        }
        known.param_scopes.insert(token.to_string(), scopes);
    }
}

impl Store {
    /// The token generation now (see [`Store::generation`]).
    pub(crate) fn token_generation(&self) -> Result<i64, StoreError> {
        self.generation("token_generation")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Durability, token_hash};

    /// A store with the token `ci` (secret `secret-1`), and a second store on the same
    /// directory: another process, as `bosun token revoke` is to a running server.
    fn two_processes() -> (tempfile::TempDir, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        let server = Store::open(dir.path(), Durability::Normal).unwrap();
        server.create_token("ci", token_hash("secret-1")).unwrap();
        let other = Store::open(dir.path(), Durability::Normal).unwrap();
        (dir, server, other)
    }

    #[test]
    fn a_verified_token_is_answered_from_memory_until_a_token_changes() {
        let (_dir, server, other) = two_processes();
        assert_eq!(server.verify_token("secret-1").unwrap().as_deref(), Some("ci"));
        let generation = server.token_generation().unwrap();
        assert_eq!(server.token_cache.name(generation, &token_hash("secret-1")).as_deref(), Some("ci"));
        server.touch_token("ci").unwrap();
        assert_eq!(server.token_generation().unwrap(), generation, "recording a use changes no token");
        other.create_token("ops", token_hash("secret-2")).unwrap();
        assert!(server.token_generation().unwrap() > generation, "another process's new token moves the generation");
        assert_eq!(server.verify_token("secret-2").unwrap().as_deref(), Some("ops"));
    }

    #[test]
    fn a_token_revoked_by_another_process_is_refused_by_the_next_call() {
        let (_dir, server, other) = two_processes();
        for _ in 0..3 {
            assert_eq!(server.verify_token("secret-1").unwrap().as_deref(), Some("ci"));
        }
        assert!(other.revoke_token("ci").unwrap());
        assert_eq!(server.verify_token("secret-1").unwrap(), None);
        assert_eq!(server.verify_token("secret-1").unwrap(), None, "a refusal is not cached as anything else");
    }

    #[test]
    fn changes_made_in_sql_behind_the_store_are_seen() {
        let (dir, server, _other) = two_processes();
        server.create_token("ops", token_hash("secret-2")).unwrap();
        assert_eq!(server.verify_token("secret-1").unwrap().as_deref(), Some("ci"));
        assert_eq!(server.verify_token("secret-2").unwrap().as_deref(), Some("ops"));
        assert!(server.parameter_scopes("ops").unwrap().is_unrestricted());
        let conn = rusqlite::Connection::open(dir.path().join("bosun.db")).unwrap();
        conn.execute("UPDATE api_tokens SET revoked = 1 WHERE name = 'ci'", []).unwrap();
        assert_eq!(server.verify_token("secret-1").unwrap(), None);
        conn.execute("UPDATE api_tokens SET hash = ?1 WHERE name = 'ops'", [&token_hash("secret-3")[..]]).unwrap();
        assert_eq!(server.verify_token("secret-2").unwrap(), None, "the old secret of a re-hashed token");
        assert_eq!(server.verify_token("secret-3").unwrap().as_deref(), Some("ops"));
        conn.execute("INSERT INTO parameter_scopes (token, access, pattern) VALUES ('ops', 'read', '/app/*')", []).unwrap();
        assert_eq!(server.parameter_scopes("ops").unwrap().read, ["/app/*"]);
        conn.execute("DELETE FROM api_tokens WHERE name = 'ops'", []).unwrap();
        assert_eq!(server.verify_token("secret-3").unwrap(), None);
    }

    #[test]
    fn scopes_changed_by_another_process_hold_at_once() {
        let (_dir, server, other) = two_processes();
        assert!(server.parameter_scopes("ci").unwrap().is_unrestricted());
        assert!(server.parameter_scopes("ci").unwrap().may_read("/app/prod/db"));
        let narrowed = ParamScopes { read: vec!["/app/dev/*".into()], decrypt: vec![] };
        other.set_parameter_scopes("ci", &narrowed).unwrap();
        let scopes = server.parameter_scopes("ci").unwrap();
        assert_eq!(scopes, narrowed);
        assert!(!scopes.may_read("/app/prod/db"));
        other.set_parameter_scopes("ci", &ParamScopes { read: vec!["/app/dev/db".into()], decrypt: vec![] }).unwrap();
        assert_eq!(server.parameter_scopes("ci").unwrap().read, ["/app/dev/db"]);
        let before = server.token_generation().unwrap();
        other.set_session_scopes("ci", &[crate::TagCondition::parse("Env=dev").unwrap()]).unwrap();
        assert!(server.token_generation().unwrap() > before, "session scopes move the generation too");
    }

    #[test]
    fn entries_of_another_generation_are_forgotten() {
        let cache = TokenCache::default();
        cache.remember_name(1, [7; 32], "ci".into());
        cache.remember_param_scopes(1, "ci", ParamScopes::default());
        assert_eq!(cache.name(1, &[7; 32]).as_deref(), Some("ci"));
        assert_eq!(cache.name(2, &[7; 32]), None);
        assert_eq!(cache.name(1, &[7; 32]), None, "gone, not kept aside");
        assert_eq!(cache.param_scopes(1, "ci"), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::default();
        for i in 0..=MAX_TOKENS {
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
            cache.remember_name(1, hash, format!("t{i}"));
            cache.remember_param_scopes(1, &format!("t{i}"), ParamScopes::default());
        }
        let known = cache.at(1);
        assert!(known.names.len() <= MAX_TOKENS && known.param_scopes.len() <= MAX_TOKENS);
    }
}
