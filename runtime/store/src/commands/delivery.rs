//! The agents' side of Run Command: taking the invocations dispatched to a node
//! (again when unacknowledged for a while: delivery is at least once), recording a
//! node's reports (only on its own invocations; the first terminal report wins),
//! and cancelling.

use rusqlite::{Connection, OptionalExtension, params};

use bosun_engine::StoreError;

use crate::{Store, sql_error};

/// An invocation handed to its node. What the node runs is its command's (the same
/// for every node): read once per command, not once per delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub invocation_id: String,
    pub command_id: String,
}

/// What became of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// No such invocation for this node.
    NotFound,
    /// Recorded; the invocation's command may move on.
    Recorded { command_id: String, status: String },
    /// Not recorded (the invocation had ended, or the report repeats the status it has).
    Unchanged { status: String },
}

/// A node's report, as the store records it.
#[derive(Debug, Clone)]
pub struct Report {
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// JSON array of step reports.
    pub steps: String,
}

fn is_terminal(status: &str) -> bool {
    !matches!(status, "Pending" | "Delayed" | "InProgress")
}

fn record(conn: &Connection, node_id: &str, invocation_id: &str, report: &Report, now: &str) -> Result<ReportOutcome, StoreError> {
    let found: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT i.status, c.id FROM invocations i JOIN commands c ON c.no = i.command_no WHERE i.id = ?1 AND i.node_id = ?2",
        )
        .and_then(|mut s| s.query_row(params![invocation_id, node_id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(sql_error)?;
    let Some((status, command_id)) = found else { return Ok(ReportOutcome::NotFound) };
    if is_terminal(&status) || status == report.status {
        return Ok(ReportOutcome::Unchanged { status });
    }
    if report.status == "InProgress" {
        conn.prepare_cached(
            "UPDATE invocations SET status = 'InProgress', started_at = ?2, delivered_at = coalesce(delivered_at, ?2) WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![invocation_id, now]))
        .map_err(sql_error)?;
    } else {
        conn.prepare_cached(
            "UPDATE invocations SET status = ?2, exit_code = ?3, stdout = ?4, stderr = ?5, steps = ?6, \
             started_at = coalesce(started_at, ?7), ended_at = ?7 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![invocation_id, report.status, report.exit_code, report.stdout, report.stderr, report.steps, now])
        })
        .map_err(sql_error)?;
    }
    crate::events::emitted::invocation_status(conn, invocation_id, &report.status)?;
    Ok(ReportOutcome::Recorded { command_id, status: report.status.clone() })
}

impl Store {
    /// The invocations dispatched to `node_id` and not yet acknowledged, delivered
    /// now: those never sent, and those sent before `redeliver_before` without an answer.
    pub async fn take_deliveries(&self, node_id: &str, now: &str, redeliver_before: &str) -> Result<Vec<Delivery>, StoreError> {
        let waiting: i64 = self.read(|conn| {
            conn.prepare_cached(
                "SELECT count(*) FROM invocations WHERE node_id = ?1 AND status IN ('Pending', 'Delayed') AND dispatched_at IS NOT NULL \
                 AND (delivered_at IS NULL OR delivered_at < ?2)",
            )?
            .query_row(params![node_id, redeliver_before], |r| r.get(0))
        })?;
        if waiting == 0 {
            return Ok(Vec::new());
        }
        let (node, now, before) = (node_id.to_string(), now.to_string(), redeliver_before.to_string());
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let mut statement = conn
                    .prepare_cached(
                        "UPDATE invocations SET delivered_at = ?3 WHERE node_id = ?1 AND status IN ('Pending', 'Delayed') \
                         AND dispatched_at IS NOT NULL AND (delivered_at IS NULL OR delivered_at < ?2) RETURNING id, command_no",
                    )
                    .map_err(sql_error)?;
                let taken: Vec<(String, i64)> = statement
                    .query_map(params![node, before, now], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(sql_error)?;
                let mut command = conn.prepare_cached("SELECT id FROM commands WHERE no = ?1").map_err(sql_error)?;
                let mut deliveries = Vec::with_capacity(taken.len());
                for (invocation_id, no) in taken {
                    let command_id = command.query_row([no], |r| r.get(0)).map_err(sql_error)?;
                    deliveries.push(Delivery { invocation_id, command_id });
                }
                let _ = tx.send(deliveries);
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last().unwrap_or_default())
    }

    /// Records a node's report on one of its invocations.
    pub async fn record_report(&self, node_id: &str, invocation_id: &str, report: Report, now: &str) -> Result<ReportOutcome, StoreError> {
        let (node, id, now) = (node_id.to_string(), invocation_id.to_string(), now.to_string());
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let outcome = record(conn, &node, &id, &report, &now)?;
                let _ = tx.send(outcome);
                Ok(())
            }))
            .await?;
        rx.try_iter().last().ok_or_else(|| StoreError("the report was not recorded".into()))
    }

    /// Of the invocations a node says it runs, those it should stop: cancelled, or
    /// ended on the server (timed out), or not its own.
    pub fn invocations_to_stop(&self, node_id: &str, running: &[String]) -> Result<Vec<String>, StoreError> {
        if running.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT status, cancel_requested FROM invocations WHERE id = ?1 AND node_id = ?2")?;
            let mut stop = Vec::new();
            for id in running {
                let row: Option<(String, bool)> = statement.query_row(params![id, node_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
                if row.is_none_or(|(status, cancel)| cancel || is_terminal(&status)) {
                    stop.push(id.clone());
                }
            }
            Ok(stop)
        })
    }

    /// Asks to cancel a command: what has not started is Cancelled at once, what runs is
    /// flagged for its node. Returns the nodes running it (to wake), or None when there
    /// is no such command; a command that has ended is left as it is.
    pub async fn cancel_command(&self, command_id: &str, now: &str) -> Result<Option<Vec<String>>, StoreError> {
        let (id, now) = (command_id.to_string(), now.to_string());
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let found: Option<(i64, String)> = conn
                    .query_row("SELECT no, status FROM commands WHERE id = ?1", [&id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(sql_error)?;
                let Some((no, status)) = found else {
                    let _ = tx.send(None);
                    return Ok(());
                };
                if is_command_terminal(&status) {
                    let _ = tx.send(Some(Vec::new()));
                    return Ok(());
                }
                conn.execute("UPDATE commands SET status = 'Cancelling' WHERE no = ?1", [no]).map_err(sql_error)?;
                conn.execute(
                    "UPDATE invocations SET status = 'Cancelled', ended_at = ?2 WHERE command_no = ?1 AND status IN ('Pending', 'Delayed')",
                    params![no, now],
                )
                .map_err(sql_error)?;
                let mut statement = conn
                    .prepare(
                        "UPDATE invocations SET cancel_requested = 1 WHERE command_no = ?1 AND status = 'InProgress' RETURNING node_id",
                    )
                    .map_err(sql_error)?;
                let nodes: Vec<String> = statement.query_map([no], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(sql_error)?;
                let _ = tx.send(Some(nodes));
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last().flatten())
    }
}

fn is_command_terminal(status: &str) -> bool {
    matches!(status, "Success" | "Failed" | "TimedOut" | "Cancelled")
}
