//! Delivery of events to rule targets, at least once. The router reads the log
//! after its cursor, and in one transaction records a delivery per matching rule
//! target and moves the cursor past what it read: an event is routed exactly once
//! even if the process dies. Each delivery is then tried until it succeeds, with
//! backoff between attempts; one that runs out of attempts is dead (the dead-letter
//! list), where an operator can read it and send it again.

use bosun_engine::StoreError;
use bosun_protocol::events::DeadLetter;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Event, event_row};
use crate::{Store, now, sql_error};

pub(crate) const SCHEMA: &str = "
-- How far each reader of the log has read (the router: 'rules').
CREATE TABLE IF NOT EXISTS event_cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
-- One row per event and rule target: Pending until it succeeds (Delivered) or runs
-- out of attempts (Dead).
CREATE TABLE IF NOT EXISTS event_deliveries (
    id INTEGER PRIMARY KEY,
    event_seq INTEGER NOT NULL,
    rule TEXT NOT NULL,
    target_id TEXT NOT NULL,
    -- The rule's target when the event was routed (a JSON RuleTarget).
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS event_deliveries_due ON event_deliveries (next_at) WHERE status = 'Pending';
CREATE INDEX IF NOT EXISTS event_deliveries_dead ON event_deliveries (id) WHERE status = 'Dead';
";

/// The router's cursor.
pub const RULES_CURSOR: &str = "rules";

/// A delivery to record: a rule target an event matched.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub event_seq: i64,
    pub rule: String,
    pub target_id: String,
    /// The target, as JSON.
    pub target: String,
}

/// A delivery due now, with its event.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub event: Event,
    pub rule: String,
    pub target_id: String,
    pub target: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// Marks a delivery done, inside the caller's transaction (so a target whose effect
/// is in the store happens exactly once).
pub(crate) fn mark_delivered(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE event_deliveries SET status = 'Delivered', ended_at = ?2 WHERE id = ?1 AND status = 'Pending'")
        .and_then(|mut s| s.execute(params![id, now()]))
        .map(|_| ())
        .map_err(sql_error)
}

/// Where a reader of the log stands.
const CURSOR_SEQ: &str = "SELECT seq FROM event_cursors WHERE name = ?1";

impl Store {
    /// Where a reader of the log stands (0 before the first event).
    pub fn event_cursor(&self, name: &str) -> Result<i64, StoreError> {
        self.read(|conn| conn.prepare_cached(CURSOR_SEQ)?.query_row([name], |r| r.get(0)).optional()).map(|seq| seq.unwrap_or(0))
    }

    /// Records deliveries and moves a cursor to `to_seq`, in one transaction. Does
    /// nothing if the cursor is there already (another router got there first).
    pub async fn route_events(&self, cursor: &str, from_seq: i64, to_seq: i64, deliveries: Vec<NewDelivery>) -> Result<(), StoreError> {
        let cursor = cursor.to_string();
        self.writer
            .run_async(Box::new(move |conn| {
                let at: i64 = conn
                    .prepare_cached(CURSOR_SEQ)
                    .and_then(|mut s| s.query_row([&cursor], |r| r.get(0)).optional())
                    .map_err(sql_error)?
                    .unwrap_or(0);
                if at != from_seq {
                    return Ok(());
                }
                let now = now();
                let mut insert = conn
                    .prepare_cached(
                        "INSERT INTO event_deliveries (event_seq, rule, target_id, target, status, next_at) VALUES (?1, ?2, ?3, ?4, 'Pending', ?5)",
                    )
                    .map_err(sql_error)?;
                for d in &deliveries {
                    insert.execute(params![d.event_seq, d.rule, d.target_id, d.target, now]).map_err(sql_error)?;
                }
                conn.prepare_cached(
                    "INSERT INTO event_cursors (name, seq) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                )
                .and_then(|mut s| s.execute(params![cursor, to_seq]))
                .map_err(sql_error)?;
                Ok(())
            }))
            .await
    }

    /// Up to `limit` deliveries due now, oldest first.
    pub fn due_deliveries(&self, limit: usize) -> Result<Vec<DueDelivery>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT e.seq, e.id, e.time, e.source, e.detail_type, e.resources, e.detail, d.id, d.rule, d.target_id, d.target, d.attempts
                 FROM event_deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.status = 'Pending' AND d.next_at <= ?1 ORDER BY d.next_at, d.id LIMIT ?2",
            )?;
            statement
                .query_map(params![now(), limit as i64], |r| {
                    Ok(DueDelivery {
                        event: event_row(r)?,
                        id: r.get(7)?,
                        rule: r.get(8)?,
                        target_id: r.get(9)?,
                        target: r.get(10)?,
                        attempts: r.get(11)?,
                    })
                })?
                .collect()
        })
    }

    /// When the next pending delivery is due, if any is.
    pub fn next_delivery_at(&self) -> Result<Option<String>, StoreError> {
        self.read(|conn| conn.query_row("SELECT min(next_at) FROM event_deliveries WHERE status = 'Pending'", [], |r| r.get(0)))
    }

    /// Marks a delivery done.
    pub async fn delivery_succeeded(&self, id: i64) -> Result<(), StoreError> {
        self.writer.run_async(Box::new(move |conn| mark_delivered(conn, id))).await
    }

    /// Records a failed attempt: tried again at `retry_at`, or dead when that is None.
    pub async fn delivery_failed(&self, id: i64, error: &str, retry_at: Option<String>) -> Result<(), StoreError> {
        let error: String = error.chars().take(2000).collect();
        self.writer
            .run_async(Box::new(move |conn| {
                let (status, next_at, ended_at) = match &retry_at {
                    Some(at) => ("Pending", at.clone(), None),
                    None => ("Dead", now(), Some(now())),
                };
                conn.execute(
                    "UPDATE event_deliveries SET attempts = attempts + 1, last_error = ?2, status = ?3, next_at = ?4, ended_at = ?5
                     WHERE id = ?1 AND status = 'Pending'",
                    params![id, error, status, next_at, ended_at],
                )
                .map_err(sql_error)?;
                Ok(())
            }))
            .await
    }

    /// The dead letters, oldest first.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT d.id, e.id, d.rule, d.target_id, d.attempts, d.last_error, d.ended_at
                 FROM event_deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.status = 'Dead' ORDER BY d.id LIMIT ?1",
            )?;
            statement
                .query_map([limit as i64], |r| {
                    Ok(DeadLetter {
                        delivery_id: r.get(0)?,
                        event_id: r.get(1)?,
                        rule: r.get(2)?,
                        target_id: r.get(3)?,
                        attempts: r.get(4)?,
                        last_error: r.get(5)?,
                        failed_at: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    })
                })?
                .collect()
        })
    }

    /// Sends dead letters again (all of them when `ids` is empty), with fresh attempts.
    pub fn replay_dead_letters(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let ids = ids.to_vec();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let sql = "UPDATE event_deliveries SET status = 'Pending', attempts = 0, next_at = ?1, ended_at = NULL WHERE status = 'Dead'";
            let count = if ids.is_empty() {
                conn.execute(sql, [now()]).map_err(sql_error)?
            } else {
                let mut statement = conn.prepare_cached(&format!("{sql} AND id = ?2")).map_err(sql_error)?;
                let mut count = 0;
                for id in &ids {
                    count += statement.execute(params![now(), id]).map_err(sql_error)?;
                }
                count
            };
            let _ = tx.send(count);
            Ok(())
        }))?;
        Ok(rx.try_iter().last().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Durability, NewEvent};

    fn delivery(seq: i64) -> NewDelivery {
        NewDelivery { event_seq: seq, rule: "r".into(), target_id: "t".into(), target: "{}".into() }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn routing_is_once_and_failures_end_in_the_dead_letter_list() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let event = NewEvent { source: "s".into(), detail_type: "d".into(), resources: vec![], detail: serde_json::json!({}) };
        store.emit_event(event).unwrap();
        let seq = store.events_after(0, 1).unwrap()[0].seq;
        store.route_events(RULES_CURSOR, 0, seq, vec![delivery(seq)]).await.unwrap();
        // A second router that read from the same place records nothing.
        store.route_events(RULES_CURSOR, 0, seq, vec![delivery(seq)]).await.unwrap();
        assert_eq!(store.event_cursor(RULES_CURSOR).unwrap(), seq);
        let due = store.due_deliveries(10).unwrap();
        assert_eq!(due.len(), 1);
        let id = due[0].id;
        store.delivery_failed(id, "refused", Some("9999-01-01T00:00:00.000Z".into())).await.unwrap();
        assert!(store.due_deliveries(10).unwrap().is_empty(), "not due before its retry time");
        assert_eq!(store.next_delivery_at().unwrap().as_deref(), Some("9999-01-01T00:00:00.000Z"));
        store.replay_dead_letters(&[]).unwrap();
        assert!(store.dead_letters(10).unwrap().is_empty());
        // Give up: dead, listed, and replayable.
        store.delivery_failed(id, "refused again", None).await.unwrap();
        let dead = store.dead_letters(10).unwrap();
        assert_eq!((dead.len(), dead[0].attempts, dead[0].last_error.as_str()), (1, 2, "refused again"));
        assert_eq!(store.replay_dead_letters(&[id + 1]).unwrap(), 0);
        assert_eq!(store.replay_dead_letters(&[id]).unwrap(), 1);
        let due = store.due_deliveries(10).unwrap();
        assert_eq!((due.len(), due[0].attempts), (1, 0));
        store.delivery_succeeded(id).await.unwrap();
        assert!(store.due_deliveries(10).unwrap().is_empty());
        assert!(store.next_delivery_at().unwrap().is_none());
    }
}
