//! State Manager's associations: each a versioned definition (a Command document,
//! parameters, targets, schedule, rate control, compliance severity), its runs (each
//! run is a Run Command command with the run's id) and each node's status and
//! compliance. `scheduling.rs` claims the runs that schedules make due and the runs for
//! nodes that start matching; `status.rs` records sent runs and derives node statuses
//! from their invocations, emitting compliance changes to the event log.

mod scheduling;
mod status;

use std::collections::BTreeMap;

use bosun_engine::StoreError;
use bosun_protocol::association::{
    AssociationDefinition, AssociationDetail, AssociationRunView, AssociationVersionView, AssociationView, SEVERITIES, UpdateAssociation,
};
use bosun_schedule::Schedule;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::fleet::FleetError;
use crate::{Store, sql_error, timestamp};

pub use scheduling::{PendingRun, jitter};
pub use status::RunSent;

pub(crate) const SCHEMA: &str = "
-- State Manager associations: the current version's definition (JSON) and the schedule's
-- state: the next fire (nominal), when it is due (the fire plus the association's jitter),
-- the last fire, and the anchor a rate counts from (when the schedule was last set).
CREATE TABLE IF NOT EXISTS associations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    schedule_anchor TEXT NOT NULL,
    next_fire_at TEXT,
    due_at TEXT,
    last_fire_at TEXT
);
CREATE INDEX IF NOT EXISTS associations_due ON associations (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS association_versions (
    association_id TEXT NOT NULL REFERENCES associations (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (association_id, version)
);
-- One row per run; the run's id is its Run Command command's id. `nodes` (a JSON array)
-- narrows a NewNode run to the nodes that started matching.
CREATE TABLE IF NOT EXISTS association_runs (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    association_id TEXT NOT NULL REFERENCES associations (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    fire_at TEXT,
    created_at TEXT NOT NULL,
    nodes TEXT,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS association_runs_by_association ON association_runs (association_id, no);
CREATE INDEX IF NOT EXISTS association_runs_pending ON association_runs (state) WHERE state = 'Pending';
-- Each node's status for an association: the outcome of the latest run that included it.
CREATE TABLE IF NOT EXISTS association_nodes (
    association_id TEXT NOT NULL REFERENCES associations (id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status TEXT NOT NULL,
    compliance TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (association_id, node_id)
);
CREATE INDEX IF NOT EXISTS association_nodes_pending ON association_nodes (status) WHERE status = 'Pending';
";

/// How many runs an association's detail shows.
const RUNS_SHOWN: usize = 20;
/// The most associations a store keeps.
pub const MAX_ASSOCIATIONS: i64 = 100_000;

/// Checks a definition; returns its parsed schedule, if it has one.
pub fn check_definition(definition: &AssociationDefinition) -> Result<Option<Schedule>, FleetError> {
    let name = &definition.name;
    let fits = !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !fits {
        return Err(FleetError::invalid("name", format!("association name {name:?} must be 1 to 128 letters, digits, '_', '.' or '-'")));
    }
    if definition.targets.is_empty() {
        return Err(FleetError::invalid("targets", "give at least one target (ids, a tag or a group)"));
    }
    for (i, target) in definition.targets.iter().enumerate() {
        target.check().map_err(|e| FleetError::invalid(format!("targets[{i}]"), e.0))?;
    }
    if let Some(severity) = &definition.compliance_severity
        && !SEVERITIES.contains(&severity.as_str())
    {
        return Err(FleetError::invalid("complianceSeverity", format!("{severity:?} is not one of {}", SEVERITIES.join(", "))));
    }
    match &definition.schedule_expression {
        None if definition.schedule_timezone.is_some() || definition.schedule_offset > 0 => {
            Err(FleetError::invalid("scheduleExpression", "a time zone or an offset needs a schedule expression"))
        }
        None => Ok(None),
        Some(expression) => {
            Schedule::new(expression, definition.schedule_timezone.as_deref(), definition.schedule_offset).map(Some).map_err(|e| {
                let field = match e {
                    bosun_schedule::ScheduleError::Zone(_) => "scheduleTimezone",
                    bosun_schedule::ScheduleError::Offset { .. } => "scheduleOffset",
                    _ => "scheduleExpression",
                };
                FleetError::invalid(field, e.to_string())
            })
        }
    }
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn definition_from(text: &str) -> rusqlite::Result<AssociationDefinition> {
    serde_json::from_str(text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

const VIEW_COLUMNS: &str = "id, version, definition, created_at, updated_at, next_fire_at, due_at, last_fire_at";

fn view_from(conn: &Connection, r: &rusqlite::Row<'_>) -> rusqlite::Result<AssociationView> {
    let id: String = r.get(0)?;
    let mut counts = BTreeMap::new();
    let mut statement = conn.prepare_cached("SELECT status, COUNT(*) FROM association_nodes WHERE association_id = ?1 GROUP BY status")?;
    for row in statement.query_map([&id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))? {
        let (status, n) = row?;
        counts.insert(status, n);
    }
    Ok(AssociationView {
        association_id: id,
        version: r.get(1)?,
        definition: definition_from(&r.get::<_, String>(2)?)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        next_fire_at: r.get(5)?,
        due_at: r.get(6)?,
        last_fire_at: r.get(7)?,
        status_counts: counts,
    })
}

/// An association by id or by name.
fn find(conn: &Connection, id_or_name: &str) -> rusqlite::Result<Option<AssociationView>> {
    conn.prepare_cached(&format!("SELECT {VIEW_COLUMNS} FROM associations WHERE id = ?1 OR name = ?1"))?
        .query_row([id_or_name], |r| view_from(conn, r))
        .optional()
}

/// Records a run to send (state Pending), returning its id.
pub(crate) fn insert_run(
    conn: &Connection,
    association_id: &str,
    version: u32,
    trigger: &str,
    fire_at: Option<&str>,
    nodes: Option<&[String]>,
    now: &str,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    conn.prepare_cached(
        "INSERT INTO association_runs (id, association_id, version, trigger, fire_at, created_at, nodes, state) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'Pending')",
    )
    .and_then(|mut s| s.execute(params![id, association_id, version, trigger, fire_at, now, nodes.map(to_json)]))
    .map_err(sql_error)?;
    Ok(id)
}

/// The schedule's first fire after `now` with its due time: (next_fire_at, due_at).
fn next_fire(id: &str, schedule: Option<&Schedule>, after: DateTime<Utc>, anchor: DateTime<Utc>) -> (Option<String>, Option<String>) {
    let Some(schedule) = schedule else { return (None, None) };
    match schedule.next_after(after, anchor) {
        None => (None, None),
        Some(fire) => {
            let following = schedule.next_after(fire, anchor);
            (Some(timestamp(fire)), Some(timestamp(fire + jitter(id, fire, following))))
        }
    }
}

impl Store {
    /// Runs a write job that answers a value.
    pub(crate) fn write_job<T: Send + 'static>(
        &self,
        job: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let value = job(conn)?;
            let _ = tx.send(value);
            Ok(())
        }))?;
        rx.try_iter().last().ok_or_else(|| StoreError("the write did not answer".into()))
    }

    /// Creates an association (version 1) and its first run (Create), at `now`.
    pub fn create_association(&self, definition: &AssociationDefinition, now: DateTime<Utc>) -> Result<AssociationView, FleetError> {
        let schedule = check_definition(definition)?;
        let definition = definition.clone();
        let id = uuid::Uuid::new_v4().to_string();
        let created = self.write_job(move |conn| {
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM associations", [], |r| r.get(0)).map_err(sql_error)?;
            if count >= MAX_ASSOCIATIONS {
                return Ok(Err(FleetError::Conflict(format!("this store keeps at most {MAX_ASSOCIATIONS} associations"))));
            }
            let taken: Option<String> = conn
                .query_row("SELECT id FROM associations WHERE name = ?1", [&definition.name], |r| r.get(0))
                .optional()
                .map_err(sql_error)?;
            if let Some(existing) = taken {
                return Ok(Err(FleetError::Conflict(format!("an association named {} exists already ({existing})", definition.name))));
            }
            let at = timestamp(now);
            let (next_fire_at, due_at) = next_fire(&id, schedule.as_ref(), now, now);
            let text = to_json(&definition);
            conn.execute(
                "INSERT INTO associations (id, name, version, definition, created_at, updated_at, schedule_anchor, next_fire_at, due_at) \
                 VALUES (?1, ?2, 1, ?3, ?4, ?4, ?4, ?5, ?6)",
                params![id, definition.name, text, at, next_fire_at, due_at],
            )
            .map_err(sql_error)?;
            conn.execute(
                "INSERT INTO association_versions (association_id, version, definition, created_at) VALUES (?1, 1, ?2, ?3)",
                params![id, text, at],
            )
            .map_err(sql_error)?;
            insert_run(conn, &id, 1, "Create", None, None, &at)?;
            Ok(Ok(id.clone()))
        })??;
        self.read(|conn| find(conn, &created))?.ok_or_else(|| FleetError::NotFound(format!("association {created} vanished")))
    }

    /// Makes a new version from `update` and applies it (an Update run); the schedule restarts from `now`.
    pub fn update_association(
        &self,
        id_or_name: &str,
        update: &UpdateAssociation,
        now: DateTime<Utc>,
    ) -> Result<AssociationView, FleetError> {
        let current =
            self.read(|conn| find(conn, id_or_name))?.ok_or_else(|| FleetError::NotFound(format!("no association {id_or_name}")))?;
        let definition = update.apply(&current.definition);
        let schedule = check_definition(&definition)?;
        let id = current.association_id.clone();
        let version = current.version;
        let updated = self.write_job(move |conn| {
            let at = timestamp(now);
            let (next_fire_at, due_at) = next_fire(&id, schedule.as_ref(), now, now);
            let text = to_json(&definition);
            // Only from the version read: a concurrent update makes this one fail rather than be lost.
            let changed = conn
                .execute(
                    "UPDATE associations SET version = version + 1, definition = ?2, updated_at = ?3, schedule_anchor = ?3, \
                     next_fire_at = ?4, due_at = ?5 WHERE id = ?1 AND version = ?6",
                    params![id, text, at, next_fire_at, due_at, version],
                )
                .map_err(sql_error)?;
            if changed == 0 {
                return Ok(Err(FleetError::Conflict(format!("association {id} changed meanwhile; read it again and retry"))));
            }
            conn.execute(
                "INSERT INTO association_versions (association_id, version, definition, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, version + 1, text, at],
            )
            .map_err(sql_error)?;
            insert_run(conn, &id, version + 1, "Update", None, None, &at)?;
            Ok(Ok(()))
        });
        updated??;
        self.read(|conn| find(conn, &current.association_id))?.ok_or_else(|| FleetError::NotFound(format!("no association {id_or_name}")))
    }

    /// Deletes an association with its versions, runs and node statuses (the commands it sent stay).
    pub fn delete_association(&self, id_or_name: &str) -> Result<bool, StoreError> {
        let key = id_or_name.to_string();
        self.write_job(move |conn| {
            conn.execute("DELETE FROM associations WHERE id = ?1 OR name = ?1", [&key]).map(|n| n > 0).map_err(sql_error)
        })
    }

    /// Records a RunNow run; None when there is no such association.
    pub fn run_association_now(&self, id_or_name: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let Some(current) = self.read(|conn| find(conn, id_or_name))? else { return Ok(None) };
        self.write_job(move |conn| {
            let version: Option<u32> = conn
                .query_row("SELECT version FROM associations WHERE id = ?1", [&current.association_id], |r| r.get(0))
                .optional()
                .map_err(sql_error)?;
            match version {
                Some(version) => insert_run(conn, &current.association_id, version, "RunNow", None, None, &timestamp(now)).map(Some),
                None => Ok(None),
            }
        })
    }

    pub fn list_associations(&self) -> Result<Vec<AssociationView>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!("SELECT {VIEW_COLUMNS} FROM associations ORDER BY name"))?;
            statement.query_map([], |r| view_from(conn, r))?.collect()
        })
    }

    /// An association (by id or name) with its node statuses and latest runs.
    pub fn get_association(&self, id_or_name: &str) -> Result<Option<AssociationDetail>, StoreError> {
        self.fleet_read(|conn| {
            let Some(association) = find(conn, id_or_name)? else { return Ok(None) };
            let nodes = status::node_statuses(conn, &association.association_id)?;
            let mut statement = conn.prepare_cached(
                "SELECT id, version, trigger, fire_at, created_at, state, detail FROM association_runs \
                 WHERE association_id = ?1 ORDER BY no DESC LIMIT ?2",
            )?;
            let runs = statement
                .query_map(params![association.association_id, RUNS_SHOWN as i64], |r| {
                    Ok(AssociationRunView {
                        run_id: r.get(0)?,
                        version: r.get(1)?,
                        trigger: r.get(2)?,
                        fire_at: r.get(3)?,
                        created_at: r.get(4)?,
                        state: r.get(5)?,
                        detail: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(AssociationDetail { association, nodes, runs }))
        })
    }

    /// Every version of an association, oldest first; None when there is no such association.
    pub fn association_versions(&self, id_or_name: &str) -> Result<Option<Vec<AssociationVersionView>>, StoreError> {
        self.read(|conn| {
            let Some(association) = find(conn, id_or_name)? else { return Ok(None) };
            let mut statement = conn.prepare_cached(
                "SELECT version, created_at, definition FROM association_versions WHERE association_id = ?1 ORDER BY version",
            )?;
            statement
                .query_map([&association.association_id], |r| {
                    Ok(AssociationVersionView {
                        version: r.get(0)?,
                        created_at: r.get(1)?,
                        definition: definition_from(&r.get::<_, String>(2)?)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(Some)
        })
    }
}

#[cfg(test)]
mod tests;
