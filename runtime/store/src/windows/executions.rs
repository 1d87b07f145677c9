//! The openings of maintenance windows. A due window is opened in one transaction with
//! its next opening committed: the execution, its close and cutoff, and one Pending
//! task execution per task with the targets it will run on. A window whose whole
//! duration passed while the server was down is not opened late; the schedule goes on
//! from the next opening. The server's driver moves task executions on.

use bosun_engine::StoreError;
use bosun_protocol::Target;
use bosun_protocol::window::{CreateWindow, RegisterTask, TaskExecutionView, TaskNodeView, WindowExecutionView};
use bosun_schedule::Schedule;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, params};

use super::{from_json, window_id};
use crate::{Store, sql_error, timestamp};

/// A task execution of an open window.
#[derive(Debug, Clone)]
pub struct OpenTask {
    pub task_execution_id: String,
    pub task: RegisterTask,
    pub targets: Vec<Target>,
    pub status: String,
    pub run_id: Option<String>,
}

/// A window execution in progress.
#[derive(Debug, Clone)]
pub struct OpenWindow {
    pub execution_id: String,
    pub window_name: String,
    pub cutoff_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub tasks: Vec<OpenTask>,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

fn open(conn: &Connection, window: &str, definition: &CreateWindow, fire: DateTime<Utc>) -> Result<String, StoreError> {
    let closes = fire + Duration::hours(i64::from(definition.duration_hours));
    let cutoff = closes - Duration::hours(i64::from(definition.cutoff_hours));
    let id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO window_executions (id, window_id, opened_at, cutoff_at, closes_at, status) VALUES (?1, ?2, ?3, ?4, ?5, 'InProgress')",
        params![id, window, timestamp(fire), timestamp(cutoff), timestamp(closes)],
    )
    .map_err(sql_error)?;
    let mut statement = conn
        .prepare_cached("SELECT t.id, t.definition, w.targets FROM window_tasks t LEFT JOIN window_targets w ON w.id = json_extract(t.definition, '$.windowTarget') WHERE t.window_id = ?1")
        .map_err(sql_error)?;
    let tasks = statement
        .query_map([window], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(sql_error)?;
    for (task_id, task, window_targets) in tasks {
        let definition: RegisterTask = from_json(&task).map_err(sql_error)?;
        let targets = match window_targets {
            Some(targets) => targets,
            None => serde_json::to_string(&definition.targets).unwrap_or_default(),
        };
        conn.execute(
            "INSERT INTO window_task_executions (id, execution_id, task_id, task, targets, status) VALUES (?1, ?2, ?3, ?4, ?5, 'Pending')",
            params![uuid::Uuid::new_v4().to_string(), id, task_id, task, targets],
        )
        .map_err(sql_error)?;
    }
    Ok(id)
}

impl Store {
    /// Opens the windows due at `now`, committing each one's next opening; returns the executions opened.
    pub fn open_due_windows(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.write_job(move |conn| {
            let at = timestamp(now);
            let mut statement = conn
                .prepare_cached("SELECT id, definition, created_at, next_open_at FROM maintenance_windows WHERE next_open_at IS NOT NULL AND next_open_at <= ?1")
                .map_err(sql_error)?;
            let due = statement
                .query_map([&at], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(sql_error)?;
            let mut opened = Vec::new();
            for (id, definition, created_at, next_open_at) in due {
                let definition: CreateWindow = from_json(&definition).map_err(sql_error)?;
                let (Some(anchor), Some(fire)) = (parse_time(&created_at), parse_time(&next_open_at)) else { continue };
                let schedule = Schedule::new(&definition.schedule_expression, definition.schedule_timezone.as_deref(), 0).ok();
                if fire + Duration::hours(i64::from(definition.duration_hours)) > now {
                    opened.push(open(conn, &id, &definition, fire)?);
                }
                let next = schedule.and_then(|s| s.next_after(now.max(fire), anchor)).map(timestamp);
                conn.execute("UPDATE maintenance_windows SET next_open_at = ?2 WHERE id = ?1", params![id, next]).map_err(sql_error)?;
            }
            Ok(opened)
        })
    }

    /// The window executions in progress, with their tasks.
    pub fn open_window_executions(&self) -> Result<Vec<OpenWindow>, StoreError> {
        self.fleet_read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT e.id, w.name, e.cutoff_at, e.closes_at FROM window_executions e JOIN maintenance_windows w ON w.id = e.window_id \
                 WHERE e.status = 'InProgress' ORDER BY e.no",
            )?;
            let executions = statement
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut tasks =
                conn.prepare_cached("SELECT id, task, targets, status, run_id FROM window_task_executions WHERE execution_id = ?1")?;
            let mut open = Vec::new();
            for (id, window_name, cutoff_at, closes_at) in executions {
                let (Some(cutoff_at), Some(closes_at)) = (parse_time(&cutoff_at), parse_time(&closes_at)) else { continue };
                let list = tasks
                    .query_map([&id], |r| {
                        Ok(OpenTask {
                            task_execution_id: r.get(0)?,
                            task: from_json(&r.get::<_, String>(1)?)?,
                            targets: from_json(&r.get::<_, String>(2)?)?,
                            status: r.get(3)?,
                            run_id: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                open.push(OpenWindow { execution_id: id, window_name, cutoff_at, closes_at, tasks: list });
            }
            Ok(open)
        })
    }

    /// Sets a task execution's status (InProgress sets its start, any other but Pending its end).
    pub fn set_window_task(
        &self,
        task_execution_id: &str,
        status: &str,
        run_id: Option<&str>,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, status, run_id, detail) =
            (task_execution_id.to_string(), status.to_string(), run_id.map(str::to_string), detail.to_string());
        self.write_job(move |conn| {
            let at = timestamp(now);
            conn.execute(
                "UPDATE window_task_executions SET status = ?2, run_id = COALESCE(?3, run_id), detail = ?4, \
                 started_at = CASE WHEN ?2 = 'InProgress' AND started_at IS NULL THEN ?5 ELSE started_at END, \
                 ended_at = CASE WHEN ?2 NOT IN ('Pending', 'InProgress') THEN ?5 ELSE ended_at END WHERE id = ?1",
                params![id, status, run_id, detail, at],
            )
            .map(|_| ())
            .map_err(sql_error)
        })
    }

    /// Ends a window execution.
    pub fn end_window_execution(&self, execution_id: &str, status: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, status) = (execution_id.to_string(), status.to_string());
        self.write_job(move |conn| {
            conn.execute(
                "UPDATE window_executions SET status = ?2, ended_at = ?3 WHERE id = ?1 AND status = 'InProgress'",
                params![id, status, timestamp(now)],
            )
            .map(|_| ())
            .map_err(sql_error)
        })
    }

    /// A window's executions, newest first, with each task's status and nodes; None when there is no such window.
    pub fn window_history(&self, id_or_name: &str, limit: usize) -> Result<Option<Vec<WindowExecutionView>>, StoreError> {
        self.fleet_read(|conn| {
            let Some(window) = window_id(conn, id_or_name)? else { return Ok(None) };
            let mut statement = conn.prepare_cached(
                "SELECT id, opened_at, cutoff_at, closes_at, status, ended_at FROM window_executions WHERE window_id = ?1 ORDER BY no DESC LIMIT ?2",
            )?;
            let mut executions = statement
                .query_map(params![window, limit as i64], |r| {
                    Ok(WindowExecutionView {
                        window_execution_id: r.get(0)?,
                        window_id: window.clone(),
                        opened_at: r.get(1)?,
                        cutoff_at: r.get(2)?,
                        closes_at: r.get(3)?,
                        status: r.get(4)?,
                        ended_at: r.get(5)?,
                        tasks: Vec::new(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut tasks = conn.prepare_cached(
                "SELECT id, task_id, task, status, run_id, started_at, ended_at, detail FROM window_task_executions WHERE execution_id = ?1",
            )?;
            let mut nodes = conn.prepare_cached(
                "SELECT i.node_id, i.status FROM invocations i JOIN commands c ON c.no = i.command_no WHERE c.id = ?1 ORDER BY i.seq",
            )?;
            for execution in &mut executions {
                let mut list = tasks
                    .query_map([&execution.window_execution_id], |r| {
                        let task: RegisterTask = from_json(&r.get::<_, String>(2)?)?;
                        Ok(TaskExecutionView {
                            task_execution_id: r.get(0)?,
                            window_task_id: r.get(1)?,
                            name: task.name,
                            task_type: task.task_type,
                            priority: task.priority,
                            status: r.get(3)?,
                            run_id: r.get(4)?,
                            started_at: r.get(5)?,
                            ended_at: r.get(6)?,
                            detail: r.get(7)?,
                            nodes: Vec::new(),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for task in &mut list {
                    if let Some(run) = &task.run_id {
                        task.nodes = nodes
                            .query_map([run], |r| Ok(TaskNodeView { node_id: r.get(0)?, status: r.get(1)? }))?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                    }
                }
                list.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
                execution.tasks = list;
            }
            Ok(Some(executions))
        })
    }
}
