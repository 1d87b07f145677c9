//! Maintenance Windows: each window's definition (schedule, duration, cutoff), its
//! registered targets and tasks; `executions.rs` holds each opening with its task
//! executions, claimed like State Manager's fires (the opening and the next one
//! committed together).

mod executions;

use bosun_protocol::window::{
    AUTOMATION, CreateWindow, RUN_COMMAND, RegisterTarget, RegisterTask, WindowTargetView, WindowTaskView, WindowView,
};
use bosun_schedule::Schedule;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::fleet::FleetError;
use crate::{Store, sql_error, timestamp};

pub use executions::{OpenTask, OpenWindow};

pub(crate) const SCHEMA: &str = "
-- Maintenance windows: the definition (JSON), the next opening, and the anchor a rate counts from.
CREATE TABLE IF NOT EXISTS maintenance_windows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    next_open_at TEXT
);
CREATE INDEX IF NOT EXISTS maintenance_windows_due ON maintenance_windows (next_open_at) WHERE next_open_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS window_targets (
    id TEXT PRIMARY KEY,
    window_id TEXT NOT NULL REFERENCES maintenance_windows (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    targets TEXT NOT NULL,
    UNIQUE (window_id, name)
);
CREATE TABLE IF NOT EXISTS window_tasks (
    id TEXT PRIMARY KEY,
    window_id TEXT NOT NULL REFERENCES maintenance_windows (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    UNIQUE (window_id, name)
);
-- Each opening of a window, and each task's execution in it. A task execution's
-- `targets` (JSON) are the targets it runs on, resolved from the window target when the
-- window opened; `run_id` is its Run Command command (whose id is the task execution's)
-- or its Automation execution.
CREATE TABLE IF NOT EXISTS window_executions (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    window_id TEXT NOT NULL REFERENCES maintenance_windows (id) ON DELETE CASCADE,
    opened_at TEXT NOT NULL,
    cutoff_at TEXT NOT NULL,
    closes_at TEXT NOT NULL,
    status TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS window_executions_open ON window_executions (status) WHERE status = 'InProgress';
CREATE TABLE IF NOT EXISTS window_task_executions (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES window_executions (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    task TEXT NOT NULL,
    targets TEXT NOT NULL,
    status TEXT NOT NULL,
    run_id TEXT,
    started_at TEXT,
    ended_at TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS window_task_executions_by_execution ON window_task_executions (execution_id);
";

/// The most tasks and targets a window has.
pub const MAX_WINDOW_PARTS: i64 = 100;

fn check_name(field: &str, name: &str) -> Result<(), FleetError> {
    let fits = !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if fits { Ok(()) } else { Err(FleetError::invalid(field, format!("{name:?} must be 1 to 128 letters, digits, '_', '.' or '-'"))) }
}

/// Checks a window's definition; returns its schedule.
pub fn check_window(window: &CreateWindow) -> Result<Schedule, FleetError> {
    check_name("name", &window.name)?;
    if window.description.chars().count() > 512 {
        return Err(FleetError::invalid("description", "a description has at most 512 characters"));
    }
    if !(1..=24).contains(&window.duration_hours) {
        return Err(FleetError::invalid("durationHours", "a window lasts 1 to 24 hours"));
    }
    if window.cutoff_hours >= window.duration_hours {
        return Err(FleetError::invalid(
            "cutoffHours",
            format!("the cutoff is 0 to {} hours (less than the duration)", window.duration_hours - 1),
        ));
    }
    Schedule::new(&window.schedule_expression, window.schedule_timezone.as_deref(), 0).map_err(|e| match e {
        bosun_schedule::ScheduleError::Zone(_) => FleetError::invalid("scheduleTimezone", e.to_string()),
        _ => FleetError::invalid("scheduleExpression", e.to_string()),
    })
}

fn check_targets(field: &str, targets: &[bosun_protocol::Target]) -> Result<(), FleetError> {
    for (i, target) in targets.iter().enumerate() {
        target.check().map_err(|e| FleetError::invalid(format!("{field}[{i}]"), e.0))?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// A window's id, by id or name.
fn window_id(conn: &Connection, id_or_name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT id FROM maintenance_windows WHERE id = ?1 OR name = ?1", [id_or_name], |r| r.get(0)).optional()
}

fn window_view(conn: &Connection, id: &str) -> rusqlite::Result<Option<WindowView>> {
    let Some((definition, created_at, next_open_at)) = conn
        .query_row("SELECT definition, created_at, next_open_at FROM maintenance_windows WHERE id = ?1", [id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let mut statement = conn.prepare_cached("SELECT id, name, targets FROM window_targets WHERE window_id = ?1 ORDER BY name")?;
    let targets = statement
        .query_map([id], |r| {
            Ok(WindowTargetView { window_target_id: r.get(0)?, name: r.get(1)?, targets: from_json(&r.get::<_, String>(2)?)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut statement = conn.prepare_cached("SELECT id, definition FROM window_tasks WHERE window_id = ?1 ORDER BY name")?;
    let tasks = statement
        .query_map([id], |r| Ok(WindowTaskView { window_task_id: r.get(0)?, task: from_json(&r.get::<_, String>(1)?)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(WindowView { window_id: id.to_string(), definition: from_json(&definition)?, created_at, next_open_at, targets, tasks }))
}

impl Store {
    /// Creates a window; it opens at its schedule's first fire after `now`.
    pub fn create_window(&self, window: &CreateWindow, now: DateTime<Utc>) -> Result<WindowView, FleetError> {
        let schedule = check_window(window)?;
        let window = window.clone();
        let id = uuid::Uuid::new_v4().to_string();
        let next = schedule.next_after(now, now).map(timestamp);
        let created = self.write_job(move |conn| {
            if window_id(conn, &window.name).map_err(sql_error)?.is_some() {
                return Ok(Err(FleetError::Conflict(format!("a maintenance window named {} exists already", window.name))));
            }
            conn.execute(
                "INSERT INTO maintenance_windows (id, name, definition, created_at, next_open_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, window.name, to_json(&window), timestamp(now), next],
            )
            .map_err(sql_error)?;
            Ok(Ok(id.clone()))
        })??;
        self.read(|conn| window_view(conn, &created))?.ok_or_else(|| FleetError::NotFound(format!("window {created} vanished")))
    }

    pub fn list_windows(&self) -> Result<Vec<WindowView>, StoreError> {
        self.read(|conn| {
            let ids: Vec<String> = conn
                .prepare_cached("SELECT id FROM maintenance_windows ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter().filter_map(|id| window_view(conn, id).transpose()).collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    /// A window by id or name.
    pub fn get_window(&self, id_or_name: &str) -> Result<Option<WindowView>, StoreError> {
        self.fleet_read(|conn| match window_id(conn, id_or_name)? {
            Some(id) => window_view(conn, &id),
            None => Ok(None),
        })
    }

    pub fn delete_window(&self, id_or_name: &str) -> Result<bool, StoreError> {
        let key = id_or_name.to_string();
        self.write_job(move |conn| {
            conn.execute("DELETE FROM maintenance_windows WHERE id = ?1 OR name = ?1", [&key]).map(|n| n > 0).map_err(sql_error)
        })
    }

    /// Registers targets with a window.
    pub fn register_window_target(&self, id_or_name: &str, target: &RegisterTarget) -> Result<WindowTargetView, FleetError> {
        check_name("name", &target.name)?;
        if target.targets.is_empty() {
            return Err(FleetError::invalid("targets", "give at least one target (ids, a tag or a group)"));
        }
        check_targets("targets", &target.targets)?;
        let (key, target) = (id_or_name.to_string(), target.clone());
        self.write_job(move |conn| {
            let Some(window) = window_id(conn, &key).map_err(sql_error)? else {
                return Ok(Err(FleetError::NotFound(format!("no maintenance window {key}"))));
            };
            let count: i64 =
                conn.query_row("SELECT COUNT(*) FROM window_targets WHERE window_id = ?1", [&window], |r| r.get(0)).map_err(sql_error)?;
            if count >= MAX_WINDOW_PARTS {
                return Ok(Err(FleetError::Conflict(format!("a window has at most {MAX_WINDOW_PARTS} targets"))));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let inserted = conn.execute(
                "INSERT INTO window_targets (id, window_id, name, targets) VALUES (?1, ?2, ?3, ?4)",
                params![id, window, target.name, to_json(&target.targets)],
            );
            match inserted {
                Ok(_) => Ok(Ok(WindowTargetView { window_target_id: id, name: target.name.clone(), targets: target.targets.clone() })),
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    Ok(Err(FleetError::Conflict(format!("the window has a target named {} already", target.name))))
                }
                Err(e) => Err(sql_error(e)),
            }
        })?
    }

    /// Registers a task with a window. The document is checked by the caller.
    pub fn register_window_task(&self, id_or_name: &str, task: &RegisterTask) -> Result<WindowTaskView, FleetError> {
        check_name("name", &task.name)?;
        if ![RUN_COMMAND, AUTOMATION].contains(&task.task_type.as_str()) {
            return Err(FleetError::invalid("taskType", format!("{:?} is not RUN_COMMAND or AUTOMATION", task.task_type)));
        }
        if task.priority > 1000 {
            return Err(FleetError::invalid("priority", "the priority is 0 to 1000 (lower runs first)"));
        }
        check_targets("targets", &task.targets)?;
        let run_command = task.task_type == RUN_COMMAND;
        match (run_command, &task.window_target, task.targets.is_empty()) {
            (true, None, true) => {
                return Err(FleetError::invalid("windowTarget", "a RUN_COMMAND task needs a registered target (or targets of its own)"));
            }
            (true, Some(_), false) => {
                return Err(FleetError::invalid("targets", "give a registered target or targets of the task's own, not both"));
            }
            (false, Some(_), _) | (false, _, false) => {
                return Err(FleetError::invalid("targets", "an AUTOMATION task runs centrally and takes no targets"));
            }
            _ => {}
        }
        let (key, given) = (id_or_name.to_string(), task.clone());
        self.write_job(move |conn| {
            let mut task = given.clone();
            let Some(window) = window_id(conn, &key).map_err(sql_error)? else {
                return Ok(Err(FleetError::NotFound(format!("no maintenance window {key}"))));
            };
            let definition: CreateWindow = conn
                .query_row("SELECT definition FROM maintenance_windows WHERE id = ?1", [&window], |r| from_json(&r.get::<_, String>(0)?))
                .map_err(sql_error)?;
            if !task.targets.is_empty() && !definition.allow_unassociated_targets {
                return Ok(Err(FleetError::invalid(
                    "targets",
                    "this window does not allow unassociated targets: register a target and name it",
                )));
            }
            if let Some(target) = &task.window_target {
                let found: Option<String> = conn
                    .query_row("SELECT id FROM window_targets WHERE window_id = ?1 AND (id = ?2 OR name = ?2)", [&window, target], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(sql_error)?;
                match found {
                    Some(id) => task.window_target = Some(id),
                    None => return Ok(Err(FleetError::invalid("windowTarget", format!("the window has no target {target}")))),
                }
            }
            let count: i64 =
                conn.query_row("SELECT COUNT(*) FROM window_tasks WHERE window_id = ?1", [&window], |r| r.get(0)).map_err(sql_error)?;
            if count >= MAX_WINDOW_PARTS {
                return Ok(Err(FleetError::Conflict(format!("a window has at most {MAX_WINDOW_PARTS} tasks"))));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let inserted = conn.execute(
                "INSERT INTO window_tasks (id, window_id, name, definition) VALUES (?1, ?2, ?3, ?4)",
                params![id, window, task.name, to_json(&task)],
            );
            match inserted {
                Ok(_) => Ok(Ok(WindowTaskView { window_task_id: id, task: task.clone() })),
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    Ok(Err(FleetError::Conflict(format!("the window has a task named {} already", task.name))))
                }
                Err(e) => Err(sql_error(e)),
            }
        })?
    }
}

use bosun_engine::StoreError;

#[cfg(test)]
mod tests;
