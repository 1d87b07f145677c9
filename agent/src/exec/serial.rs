//! Plugin steps that must not overlap on one machine: `aws:configurePackage`
//! runs for the same package (their install and uninstall scripts would
//! interleave, and both would write the package's record) wait for each other;
//! runs for different packages proceed together. The locks are the process's,
//! so every node an agent process runs shares them, and an entry lives only
//! while some step holds or awaits it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OwnedMutexGuard;

/// The action whose runs are serialised per package.
const CONFIGURE_PACKAGE: &str = "aws:configurePackage";

/// What a step must hold while it runs, if anything: `package:NAME` for `aws:configurePackage`.
pub fn key_of(action: &str, inputs: &Value) -> Option<String> {
    (action == CONFIGURE_PACKAGE).then(|| format!("package:{}", inputs.get("name").and_then(Value::as_str).unwrap_or_default()))
}

/// One lock per key, created on first use and dropped when nobody holds or awaits it.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds a key's lock; dropping it lets the next step with the key run.
pub struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    /// Waits until no other holder of `key` runs, and holds it.
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let lock = self.locks.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_string()).or_default().clone();
        // Built before awaiting, so a cancelled wait still forgets an unused entry.
        let mut held = KeyedGuard { locks: self, key: key.to_string(), guard: None };
        held.guard = Some(lock.lock_owned().await);
        held
    }

    /// How many keys have an entry (held or awaited).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self.locks.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it: nobody holds or awaits the key (a new waiter needs the map's lock to clone it).
        if locks.get(&self.key).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_configure_package_is_serialised_by_its_package() {
        assert_eq!(key_of("aws:configurePackage", &json!({"name": "tools"})).as_deref(), Some("package:tools"));
        assert_eq!(key_of("aws:configurePackage", &json!({})).as_deref(), Some("package:"));
        assert_eq!(key_of("bosun:readFile", &json!({"name": "tools"})), None);
    }

    #[tokio::test]
    async fn one_key_runs_one_at_a_time_and_others_proceed() {
        let locks = Arc::new(KeyedLocks::default());
        let first = locks.lock("package:tools").await;
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _held = locks.lock("package:tools").await;
            })
        };
        // Another package is not held up by the first.
        drop(locks.lock("package:other").await);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second run of the same package waits");
        drop(first);
        waiting.await.unwrap();
        assert_eq!(locks.len(), 0, "entries go when nobody holds or awaits them");

        // A wait given up (a cancelled step) leaves nothing behind either.
        let held = locks.lock("package:tools").await;
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(1), locks.lock("package:tools")).await;
        assert!(abandoned.is_err());
        drop(held);
        assert_eq!(locks.len(), 0);
    }
}
