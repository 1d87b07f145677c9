//! The event bus's durable, ordered log: every event Bosun emits or receives is a
//! row here, committed in the same transaction as the change it reports, so an event
//! is neither lost nor invented when the process dies. Events carry EventBridge's
//! envelope (id, source, detail-type, time, resources, detail); `seq` orders them.
//! Beside it: hooks, rules, deliveries to rule targets, OpsItems and the audit trail.

pub(crate) mod audit;
pub(crate) mod deliveries;
pub(crate) mod emitted;
pub(crate) mod hooks;
pub(crate) mod opsitems;
pub(crate) mod presence;
pub(crate) mod rules;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use bosun_engine::StoreError;

use crate::{Store, now, sql_error};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    resources TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// An event to append: where it comes from, what kind it is, what it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NewEvent {
    /// Bosun's own events use `bosun.<area>` (e.g. `bosun.parameter`).
    pub source: String,
    pub detail_type: String,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: serde_json::Value,
}

/// An event as stored, in EventBridge's envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Event {
    /// Its place in the log: later events have larger numbers.
    #[serde(skip)]
    pub seq: i64,
    pub version: String,
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub time: String,
    pub resources: Vec<String>,
    pub detail: serde_json::Value,
}

impl Event {
    /// The event as the JSON an event pattern is matched against (its envelope, as it
    /// serializes), built by moving its fields rather than copying them.
    pub fn into_value(self) -> serde_json::Value {
        let mut envelope = serde_json::Map::with_capacity(7);
        envelope.insert("version".into(), self.version.into());
        envelope.insert("id".into(), self.id.into());
        envelope.insert("detail-type".into(), self.detail_type.into());
        envelope.insert("source".into(), self.source.into());
        envelope.insert("time".into(), self.time.into());
        envelope.insert("resources".into(), self.resources.into());
        envelope.insert("detail".into(), self.detail);
        serde_json::Value::Object(envelope)
    }
}

/// An event whose detail is JSON text already checked (a webhook's body), stored as it
/// came: it is neither parsed into a value nor written out again.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEvent {
    pub source: String,
    pub detail_type: String,
    pub detail_json: String,
}

/// Appends `event` within the caller's transaction (any writer job), returning its id.
pub(crate) fn append(conn: &Connection, event: &NewEvent) -> Result<String, StoreError> {
    let resources = serde_json::to_string(&event.resources).map_err(|e| StoreError(e.to_string()))?;
    insert(conn, &event.source, &event.detail_type, &resources, &event.detail.to_string())
}

/// Appends an event with checked JSON text as its detail and no resources.
pub(crate) fn append_text(conn: &Connection, event: &TextEvent) -> Result<String, StoreError> {
    insert(conn, &event.source, &event.detail_type, "[]", &event.detail_json)
}

fn insert(conn: &Connection, source: &str, detail_type: &str, resources_json: &str, detail_json: &str) -> Result<String, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    conn.prepare_cached("INSERT INTO events (id, time, source, detail_type, resources, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .and_then(|mut s| s.execute(params![id, now(), source, detail_type, resources_json, detail_json]))
        .map_err(sql_error)?;
    Ok(id)
}

pub(crate) fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    let text = |i: usize| r.get::<_, String>(i);
    let resources = serde_json::from_str(&text(5)?).unwrap_or_default();
    let detail = serde_json::from_str(&text(6)?).unwrap_or(serde_json::Value::Null);
    Ok(Event {
        seq: r.get(0)?,
        version: "0".into(),
        id: text(1)?,
        time: text(2)?,
        source: text(3)?,
        detail_type: text(4)?,
        resources,
        detail,
    })
}

impl Store {
    /// Runs one statement (or a few) in the writer; whether it changed a row.
    pub(crate) fn write_count(
        &self,
        statement: impl Fn(&Connection) -> rusqlite::Result<usize> + Send + 'static,
    ) -> Result<bool, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let _ = tx.send(statement(conn).map_err(sql_error)? > 0);
            Ok(())
        }))?;
        Ok(rx.try_iter().last().unwrap_or(false))
    }

    /// Appends an event on its own (an event that reports no other change of the store).
    pub fn emit_event(&self, event: NewEvent) -> Result<String, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let id = append(conn, &event)?;
            let _ = tx.send(id);
            Ok(())
        }))?;
        rx.try_iter().last().ok_or_else(|| StoreError("the event was not stored".into()))
    }

    /// The place of the latest event in the log (0 when it is empty).
    pub fn last_event_seq(&self) -> Result<i64, StoreError> {
        self.read(|conn| conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?.query_row([], |r| r.get(0)))
    }

    /// Up to `limit` events after `seq`, in log order.
    pub fn events_after(&self, seq: i64, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT seq, id, time, source, detail_type, resources, detail FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            statement.query_map(params![seq, limit as i64], event_row)?.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durability;

    #[test]
    fn events_are_kept_in_order_with_their_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let first = NewEvent {
            source: "bosun.test".into(),
            detail_type: "Thing Changed".into(),
            resources: vec!["thing/1".into()],
            detail: serde_json::json!({"state": "on"}),
        };
        let id = store.emit_event(first.clone()).unwrap();
        store.emit_event(NewEvent { detail: serde_json::json!({"state": "off"}), ..first }).unwrap();
        let events = store.events_after(0, 10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].id, id);
        assert!(events[0].seq < events[1].seq);
        assert_eq!(events[1].detail["state"], "off");
        let envelope = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(envelope["detail-type"], "Thing Changed");
        assert_eq!(envelope["resources"][0], "thing/1");
        assert_eq!(store.events_after(events[1].seq, 10).unwrap(), vec![]);
        assert_eq!(store.last_event_seq().unwrap(), events[1].seq);
        // What patterns are matched against is the envelope as it serializes.
        assert_eq!(events[0].clone().into_value(), envelope);
        // Ids follow the order of the log (time-ordered), so their index grows at its end.
        assert!(events[0].id < events[1].id, "{} then {}", events[0].id, events[1].id);
    }

    #[test]
    fn an_empty_log_ends_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        assert_eq!(store.last_event_seq().unwrap(), 0);
    }
}
