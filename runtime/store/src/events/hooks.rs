//! Webhook triggers: each hook's name, event source, signature scheme, body limit
//! and secrets (the current one and, for a grace period after a rotation, the one
//! before), and the message ids recently received, so a replayed message is refused
//! in the same transaction that would store its event.

use bosun_engine::StoreError;
use bosun_protocol::events::{CreateHook, HookScheme, HookView};
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::{NewAudit, append_audit};
use super::{TextEvent, append_text};
use crate::fleet::FleetError;
use crate::{Store, now, sql_error, timestamp};

pub(crate) const SCHEMA: &str = "
-- Secrets are kept as they are: checking an HMAC needs them.
CREATE TABLE IF NOT EXISTS hooks (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    scheme TEXT NOT NULL,
    body_limit INTEGER NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_valid_until TEXT,
    created_at TEXT NOT NULL
);
-- Message ids received lately (unix seconds), for replay protection.
CREATE TABLE IF NOT EXISTS hook_messages (
    hook TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (hook, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hook_messages_by_age ON hook_messages (received_at);
";

/// How long a message id is remembered: longer than a timestamp is accepted either
/// way, so a replay within the accepted window is always seen.
pub const REMEMBER_MESSAGE_SECONDS: i64 = 15 * 60;

/// A hook with the secrets a request may be signed with now.
#[derive(Debug, Clone)]
pub struct HookKeys {
    pub view: HookView,
    /// The current secret first.
    pub secrets: Vec<String>,
}

/// Checks a hook's or a rule's name: 1 to 64 letters, digits, '_', '.' or '-'.
pub fn validate_event_name(field: &str, name: &str) -> Result<(), FleetError> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok { Ok(()) } else { Err(FleetError::invalid(field, format!("{name:?} is not 1 to 64 letters, digits, '_', '.' or '-'"))) }
}

const COLUMNS: &str = "name, source, scheme, body_limit, created_at, previous_valid_until, secret, previous_secret";

fn hook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(HookView, String, Option<String>)> {
    let scheme: String = r.get(2)?;
    let view = HookView {
        name: r.get(0)?,
        source: r.get(1)?,
        scheme: HookScheme::parse(&scheme).unwrap_or_default(),
        body_limit: r.get::<_, i64>(3)? as u64,
        created_at: r.get(4)?,
        previous_secret_valid_until: r.get(5)?,
    };
    Ok((view, r.get(6)?, r.get(7)?))
}

/// A hook's view, with the grace period shown only while it lasts.
fn current(mut view: HookView, now: &str) -> HookView {
    if view.previous_secret_valid_until.as_deref().is_some_and(|until| until <= now) {
        view.previous_secret_valid_until = None;
    }
    view
}

/// Whether a replayed id was refused, or the id of the event stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Stored(String),
    Replayed,
}

impl Store {
    /// Creates a hook with its first secret.
    pub fn create_hook(&self, request: &CreateHook, secret: String) -> Result<HookView, FleetError> {
        validate_event_name("name", &request.name)?;
        let source = request.source.clone().unwrap_or_else(|| format!("hook.{}", request.name));
        if source.is_empty() || source.len() > 256 {
            return Err(FleetError::invalid("source", "a source has 1 to 256 characters"));
        }
        let limit = request.body_limit.unwrap_or(bosun_protocol::events::DEFAULT_HOOK_BODY_LIMIT);
        if !(1..=bosun_protocol::events::MAX_HOOK_BODY_LIMIT).contains(&limit) {
            return Err(FleetError::invalid(
                "bodyLimit",
                format!("a body limit is 1 to {} bytes", bosun_protocol::events::MAX_HOOK_BODY_LIMIT),
            ));
        }
        let (name, scheme) = (request.name.clone(), request.scheme);
        self.fleet_write(move |conn| {
            let created_at = now();
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO hooks (name, source, scheme, body_limit, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![name, source, scheme.as_str(), limit as i64, secret, created_at],
                )
                .map_err(sql_error)?;
            if inserted == 0 {
                return Err(FleetError::Conflict(format!("a hook named {name} exists")));
            }
            Ok(HookView {
                name: name.clone(),
                source: source.clone(),
                scheme,
                body_limit: limit,
                created_at,
                previous_secret_valid_until: None,
            })
        })
    }

    pub fn list_hooks(&self) -> Result<Vec<HookView>, StoreError> {
        let now = now();
        self.read(|conn| {
            let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM hooks ORDER BY name"))?;
            statement.query_map([], hook_row)?.map(|r| r.map(|(view, _, _)| current(view, &now))).collect()
        })
    }

    /// A hook and the secrets valid now.
    pub fn hook_keys(&self, name: &str) -> Result<Option<HookKeys>, StoreError> {
        let now = now();
        let row = self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM hooks WHERE name = ?1"))?.query_row([name], hook_row).optional()
        })?;
        Ok(row.map(|(view, secret, previous)| {
            let view = current(view, &now);
            let mut secrets = vec![secret];
            if view.previous_secret_valid_until.is_some() {
                secrets.extend(previous);
            }
            HookKeys { view, secrets }
        }))
    }

    /// Replaces a hook's secret; the old one stays valid for `grace_seconds`.
    pub fn rotate_hook_secret(&self, name: &str, secret: String, grace_seconds: u64) -> Result<HookView, FleetError> {
        let name = name.to_string();
        let until = timestamp(chrono::Utc::now() + chrono::Duration::seconds(grace_seconds.min(30 * 86_400) as i64));
        self.fleet_write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE hooks SET previous_secret = secret, previous_valid_until = ?2, secret = ?3 WHERE name = ?1",
                    params![name, until, secret],
                )
                .map_err(sql_error)?;
            if changed == 0 {
                return Err(FleetError::NotFound(format!("no hook named {name}")));
            }
            let (view, _, _) =
                conn.query_row(&format!("SELECT {COLUMNS} FROM hooks WHERE name = ?1"), [&name], hook_row).map_err(sql_error)?;
            Ok(view)
        })
    }

    /// Deletes a hook; its events stay in the log.
    pub fn delete_hook(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write_count(move |conn| {
            conn.execute("DELETE FROM hook_messages WHERE hook = ?1", [&name])?;
            conn.execute("DELETE FROM hooks WHERE name = ?1", [&name])
        })
    }

    /// Stores a hook's event unless its message id was received lately, with its
    /// audit row, in one transaction: once this returns, the event is durable (or
    /// was a replay).
    pub async fn ingest_hook_event(
        &self,
        hook: &str,
        message_id: &str,
        now_unix: i64,
        event: TextEvent,
        source_address: &str,
    ) -> Result<Ingested, StoreError> {
        let (hook, message_id) = (hook.to_string(), message_id.to_string());
        let audit = NewAudit {
            principal: format!("hook:{hook}"),
            action: format!("POST /v1/hooks/{hook}"),
            source_address: source_address.to_string(),
            outcome: "202".into(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let ingested = ingest(conn, &hook, &message_id, now_unix, &event)?;
                if ingested != Ingested::Replayed {
                    append_audit(conn, &audit)?;
                }
                let _ = tx.send(ingested);
                Ok(())
            }))
            .await?;
        rx.try_iter().last().ok_or_else(|| StoreError("the store's writer gave no answer".into()))
    }
}

fn ingest(conn: &Connection, hook: &str, message_id: &str, now_unix: i64, event: &TextEvent) -> Result<Ingested, StoreError> {
    conn.prepare_cached("DELETE FROM hook_messages WHERE received_at < ?1")
        .and_then(|mut s| s.execute([now_unix - REMEMBER_MESSAGE_SECONDS]))
        .map_err(sql_error)?;
    let fresh = conn
        .prepare_cached("INSERT OR IGNORE INTO hook_messages (hook, message_id, received_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![hook, message_id, now_unix]))
        .map_err(sql_error)?;
    if fresh == 0 {
        return Ok(Ingested::Replayed);
    }
    append_text(conn, event).map(Ingested::Stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durability;

    fn request(name: &str) -> CreateHook {
        CreateHook { name: name.into(), source: None, scheme: HookScheme::StandardWebhooks, body_limit: None }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_replayed_message_is_refused_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.create_hook(&request("ci"), "whsec_a".into()).unwrap();
        let event = TextEvent { source: "hook.ci".into(), detail_type: "Webhook".into(), detail_json: r#"{"a": [1, 2]}"#.into() };
        assert!(matches!(store.ingest_hook_event("ci", "m1", 1000, event.clone(), "127.0.0.1").await.unwrap(), Ingested::Stored(_)));
        assert_eq!(store.ingest_hook_event("ci", "m1", 1001, event.clone(), "127.0.0.1").await.unwrap(), Ingested::Replayed);
        assert!(matches!(store.ingest_hook_event("other", "m1", 1001, event.clone(), "127.0.0.1").await.unwrap(), Ingested::Stored(_)));
        // Forgotten once far older than any accepted timestamp.
        let later = 1000 + REMEMBER_MESSAGE_SECONDS + 1;
        assert!(matches!(store.ingest_hook_event("ci", "m1", later, event, "127.0.0.1").await.unwrap(), Ingested::Stored(_)));
        let events = store.events_after(0, 10).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].detail, serde_json::json!({"a": [1, 2]}));
    }

    #[test]
    fn hooks_are_created_rotated_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let view = store.create_hook(&request("ci"), "whsec_one".into()).unwrap();
        assert_eq!(view.source, "hook.ci");
        assert!(matches!(store.create_hook(&request("ci"), "whsec_x".into()), Err(FleetError::Conflict(_))));
        assert!(matches!(store.create_hook(&request("bad name"), "whsec_x".into()), Err(FleetError::Invalid { .. })));
        let big = CreateHook { body_limit: Some(0), ..request("zero") };
        assert!(matches!(store.create_hook(&big, "whsec_x".into()), Err(FleetError::Invalid { .. })));
        store.rotate_hook_secret("ci", "whsec_two".into(), 60).unwrap();
        assert_eq!(store.hook_keys("ci").unwrap().unwrap().secrets, vec!["whsec_two".to_string(), "whsec_one".to_string()]);
        store.rotate_hook_secret("ci", "whsec_three".into(), 0).unwrap();
        assert_eq!(store.hook_keys("ci").unwrap().unwrap().secrets, vec!["whsec_three".to_string()]);
        assert!(matches!(store.rotate_hook_secret("nope", "whsec_x".into(), 1), Err(FleetError::NotFound(_))));
        assert_eq!(store.list_hooks().unwrap().len(), 1);
        assert!(store.delete_hook("ci").unwrap());
        assert!(!store.delete_hook("ci").unwrap());
        assert!(store.hook_keys("ci").unwrap().is_none());
    }
}
