//! OpsCenter's OpsItems: operational issues with a status (Open, InProgress,
//! Resolved), related resources, operational data, associated runbooks and the
//! executions started from them. An OpsItem with a deduplication string absorbs
//! later ones with the same string while it is not Resolved. Every change emits an
//! event (source `bosun.opsitem`) in the same transaction.

use bosun_engine::StoreError;
use bosun_protocol::JsonMap;
use bosun_protocol::events::{OPSITEM_STATUSES, OpsItemView, UpdateOpsItem};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::deliveries::mark_delivered;
use super::{NewEvent, append};
use crate::fleet::{FleetError, json_error};
use crate::{Store, now, sql_error};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS opsitems (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    -- JSON arrays and an object.
    related_resources TEXT NOT NULL,
    operational_data TEXT NOT NULL,
    deduplication TEXT,
    occurrences INTEGER NOT NULL,
    runbooks TEXT NOT NULL,
    executions TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS opsitems_open_by_deduplication ON opsitems (deduplication) WHERE status != 'Resolved';
";

/// Severities, as in OpsCenter (1 is the most severe).
pub const OPSITEM_SEVERITIES: &[&str] = &["1", "2", "3", "4"];

/// An OpsItem to open.
#[derive(Debug, Clone, Default)]
pub struct NewOpsItem {
    pub title: String,
    pub description: String,
    pub source: String,
    pub severity: String,
    pub category: String,
    pub related_resources: Vec<String>,
    pub operational_data: JsonMap,
    pub deduplication: Option<String>,
}

const COLUMNS: &str = "id, title, description, source, severity, category, status, related_resources, operational_data, deduplication, occurrences, runbooks, executions, created_at, updated_at";

fn opsitem_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OpsItemView> {
    let json = |i: usize| r.get::<_, String>(i);
    Ok(OpsItemView {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        source: r.get(3)?,
        severity: r.get(4)?,
        category: r.get(5)?,
        status: r.get(6)?,
        related_resources: serde_json::from_str(&json(7)?).map_err(|e| json_error(7, e))?,
        operational_data: serde_json::from_str(&json(8)?).map_err(|e| json_error(8, e))?,
        deduplication: r.get(9)?,
        occurrences: r.get(10)?,
        runbooks: serde_json::from_str(&json(11)?).map_err(|e| json_error(11, e))?,
        executions: serde_json::from_str(&json(12)?).map_err(|e| json_error(12, e))?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

fn load(conn: &Connection, id: &str) -> Result<Option<OpsItemView>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM opsitems WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], opsitem_row).optional())
        .map_err(sql_error)
}

fn emit(conn: &Connection, detail_type: &str, item: &OpsItemView) -> Result<(), StoreError> {
    let detail =
        json!({"opsitem-id": item.id, "title": item.title, "status": item.status, "severity": item.severity, "source": item.source});
    append(
        conn,
        &NewEvent {
            source: "bosun.opsitem".into(),
            detail_type: detail_type.into(),
            resources: vec![format!("opsitem/{}", item.id)],
            detail,
        },
    )
    .map(|_| ())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(e.to_string()))
}

/// Opens an OpsItem, or counts a repeat on the open one with the same deduplication string.
fn open_or_repeat(conn: &Connection, item: &NewOpsItem) -> Result<(OpsItemView, bool), StoreError> {
    let now = now();
    if let Some(dedup) = &item.deduplication {
        let existing: Option<String> = conn
            .prepare_cached("SELECT id FROM opsitems WHERE deduplication = ?1 AND status != 'Resolved' ORDER BY no LIMIT 1")
            .and_then(|mut s| s.query_row([dedup], |r| r.get(0)).optional())
            .map_err(sql_error)?;
        if let Some(id) = existing {
            let mut view = load(conn, &id)?.ok_or_else(|| StoreError(format!("OpsItem {id} vanished")))?;
            for resource in &item.related_resources {
                if !view.related_resources.contains(resource) {
                    view.related_resources.push(resource.clone());
                }
            }
            conn.execute(
                "UPDATE opsitems SET occurrences = occurrences + 1, related_resources = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, to_json(&view.related_resources)?, now],
            )
            .map_err(sql_error)?;
            let view = load(conn, &id)?.ok_or_else(|| StoreError(format!("OpsItem {id} vanished")))?;
            emit(conn, "OpsItem Updated", &view)?;
            return Ok((view, false));
        }
    }
    let id = format!("oi-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    conn.execute(
        &format!("INSERT INTO opsitems ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'Open', ?7, ?8, ?9, 1, '[]', '[]', ?10, ?10)"),
        params![
            id,
            item.title,
            item.description,
            item.source,
            item.severity,
            item.category,
            to_json(&item.related_resources)?,
            to_json(&item.operational_data)?,
            item.deduplication,
            now
        ],
    )
    .map_err(sql_error)?;
    let view = load(conn, &id)?.ok_or_else(|| StoreError(format!("OpsItem {id} vanished")))?;
    emit(conn, "OpsItem Created", &view)?;
    Ok((view, true))
}

/// Checks what a new OpsItem or an update sets.
fn check(field: &str, value: &str, allowed: &[&str]) -> Result<(), FleetError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(FleetError::invalid(field, format!("{value:?} is not one of {}", allowed.join(", "))))
    }
}

fn check_title(title: &str) -> Result<(), FleetError> {
    if title.trim().is_empty() || title.len() > 1024 {
        return Err(FleetError::invalid("title", "a title has 1 to 1024 characters"));
    }
    Ok(())
}

impl Store {
    /// Opens an OpsItem (or counts a repeat, see [`NewOpsItem::deduplication`]); with
    /// a delivery, marks it delivered in the same transaction. True when it is new.
    pub async fn open_opsitem(&self, item: NewOpsItem, delivery: Option<i64>) -> Result<(OpsItemView, bool), FleetError> {
        check_title(&item.title)?;
        check("severity", &item.severity, OPSITEM_SEVERITIES)?;
        self.fleet_write_async(move |conn| {
            let opened = open_or_repeat(conn, &item)?;
            if let Some(id) = delivery {
                mark_delivered(conn, id)?;
            }
            Ok(opened)
        })
        .await
    }

    /// OpsItems, newest first, optionally of one status.
    pub fn list_opsitems(&self, status: Option<&str>, limit: usize) -> Result<Vec<OpsItemView>, StoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM opsitems WHERE ?1 IS NULL OR status = ?1 ORDER BY no DESC LIMIT ?2"))?;
            statement.query_map(params![status, limit as i64], opsitem_row)?.collect()
        })
    }

    pub fn get_opsitem(&self, id: &str) -> Result<Option<OpsItemView>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM opsitems WHERE id = ?1"))?.query_row([id], opsitem_row).optional()
        })
    }

    /// Changes an OpsItem's status, severity, title, description or runbooks.
    pub fn update_opsitem(&self, id: &str, update: &UpdateOpsItem) -> Result<OpsItemView, FleetError> {
        if let Some(status) = &update.status {
            check("status", status, OPSITEM_STATUSES)?;
        }
        if let Some(severity) = &update.severity {
            check("severity", severity, OPSITEM_SEVERITIES)?;
        }
        if let Some(title) = &update.title {
            check_title(title)?;
        }
        let (id, update) = (id.to_string(), update.clone());
        self.fleet_write(move |conn| {
            let mut view = load(conn, &id)?.ok_or_else(|| FleetError::NotFound(format!("no OpsItem {id}")))?;
            for runbook in &update.add_runbooks {
                if !view.runbooks.contains(runbook) {
                    view.runbooks.push(runbook.clone());
                }
            }
            conn.execute(
                "UPDATE opsitems SET status = ?2, severity = ?3, title = ?4, description = ?5, runbooks = ?6, updated_at = ?7 WHERE id = ?1",
                params![
                    id,
                    update.status.as_ref().unwrap_or(&view.status),
                    update.severity.as_ref().unwrap_or(&view.severity),
                    update.title.as_ref().unwrap_or(&view.title),
                    update.description.as_ref().unwrap_or(&view.description),
                    to_json(&view.runbooks)?,
                    now()
                ],
            )
            .map_err(sql_error)?;
            let view = load(conn, &id)?.ok_or_else(|| FleetError::NotFound(format!("no OpsItem {id}")))?;
            emit(conn, "OpsItem Updated", &view)?;
            Ok(view)
        })
    }

    /// Records an execution started from an OpsItem (its runbook joins the associated ones).
    pub fn record_opsitem_execution(&self, id: &str, runbook: &str, execution_id: &str) -> Result<OpsItemView, FleetError> {
        let (id, runbook, execution_id) = (id.to_string(), runbook.to_string(), execution_id.to_string());
        self.fleet_write(move |conn| {
            let mut view = load(conn, &id)?.ok_or_else(|| FleetError::NotFound(format!("no OpsItem {id}")))?;
            if !view.runbooks.contains(&runbook) {
                view.runbooks.push(runbook.clone());
            }
            view.executions.push(execution_id.clone());
            conn.execute(
                "UPDATE opsitems SET runbooks = ?2, executions = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, to_json(&view.runbooks)?, to_json(&view.executions)?, now()],
            )
            .map_err(sql_error)?;
            let view = load(conn, &id)?.ok_or_else(|| FleetError::NotFound(format!("no OpsItem {id}")))?;
            emit(conn, "OpsItem Updated", &view)?;
            Ok(view)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durability;

    fn item(dedup: Option<&str>, resource: &str) -> NewOpsItem {
        NewOpsItem {
            title: "Disk full".into(),
            source: "rule:disk".into(),
            severity: "2".into(),
            related_resources: vec![resource.into()],
            deduplication: dedup.map(str::to_string),
            ..NewOpsItem::default()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_repeated_event_updates_the_open_opsitem() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let (first, new) = store.open_opsitem(item(Some("disk-n1"), "node/n1"), None).await.unwrap();
        assert!(new);
        let (again, new) = store.open_opsitem(item(Some("disk-n1"), "node/n2"), None).await.unwrap();
        assert!(!new);
        assert_eq!((again.id.as_str(), again.occurrences), (first.id.as_str(), 2));
        assert_eq!(again.related_resources, vec!["node/n1".to_string(), "node/n2".to_string()]);
        let (other, new) = store.open_opsitem(item(Some("disk-n2"), "node/n2"), None).await.unwrap();
        assert!(new && other.id != first.id);
        let (plain, new) = store.open_opsitem(item(None, "x"), None).await.unwrap();
        assert!(new && plain.id != first.id);
        // Once resolved, the same string opens a new one.
        let update = UpdateOpsItem { status: Some("Resolved".into()), ..UpdateOpsItem::default() };
        store.update_opsitem(&first.id, &update).unwrap();
        let (reopened, new) = store.open_opsitem(item(Some("disk-n1"), "node/n1"), None).await.unwrap();
        assert!(new && reopened.id != first.id);
        assert_eq!(store.list_opsitems(None, 10).unwrap().len(), 4);
        assert_eq!(store.list_opsitems(Some("Resolved"), 10).unwrap().len(), 1);
        let events = store.events_after(0, 100).unwrap();
        assert!(events.iter().all(|e| e.source == "bosun.opsitem"));
        assert_eq!(events.iter().filter(|e| e.detail_type == "OpsItem Created").count(), 4);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let bad_severity = NewOpsItem { severity: "9".into(), ..item(None, "x") };
        assert!(matches!(store.open_opsitem(bad_severity, None).await, Err(FleetError::Invalid { .. })));
        let no_title = NewOpsItem { title: " ".into(), ..item(None, "x") };
        assert!(matches!(store.open_opsitem(no_title, None).await, Err(FleetError::Invalid { .. })));
        let (view, _) = store.open_opsitem(item(None, "x"), None).await.unwrap();
        let bad_status = UpdateOpsItem { status: Some("Closed".into()), ..UpdateOpsItem::default() };
        assert!(matches!(store.update_opsitem(&view.id, &bad_status), Err(FleetError::Invalid { .. })));
        assert!(matches!(store.update_opsitem("oi-nope", &UpdateOpsItem::default()), Err(FleetError::NotFound(_))));
        let recorded = store.record_opsitem_execution(&view.id, "Restart", "exec-1").unwrap();
        assert_eq!((recorded.runbooks, recorded.executions), (vec!["Restart".to_string()], vec!["exec-1".to_string()]));
    }
}
