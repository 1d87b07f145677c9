//! Run Command's records: one `commands` row per command and one `invocations` row
//! per command and node. Sending commits both in one transaction; the dispatcher's
//! rules (`advance.rs`) and the agents' deliveries and reports (`delivery.rs`) move
//! invocations on, each move one transaction; the completion notifications due
//! (`notify.rs`).

mod advance;
mod delivery;
#[cfg(test)]
pub(crate) mod fixtures;
mod notify;

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use bosun_engine::StoreError;

use crate::{Store, sql_error};

pub use advance::{Advance, Advanced, Plan, command_status, plan};
pub use delivery::{Delivery, Report, ReportOutcome};
pub use notify::{DueNotification, NotifyOutcome};

/// A command to record, with the nodes it goes to.
#[derive(Debug, Clone)]
pub struct NewCommand {
    pub id: String,
    pub document_name: String,
    pub document_version: Option<u32>,
    /// JSON: the document text and the documents it includes.
    pub document: String,
    /// JSON object of the checked parameters.
    pub parameters: String,
    /// JSON array of the targets as sent.
    pub targets: String,
    pub max_concurrency: String,
    pub max_errors: String,
    pub timeout_seconds: u64,
    pub delivery_timeout_seconds: u64,
    pub comment: String,
    pub requested_by: String,
    pub requested_at: String,
    /// The nodes to run on, in dispatch order.
    pub nodes: Vec<String>,
    /// Targeted node ids that cannot receive it (unknown or deregistered): Undeliverable at once.
    pub undeliverable: Vec<String>,
}

/// A command as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub no: i64,
    pub id: String,
    pub document_name: String,
    pub document_version: Option<u32>,
    pub document: String,
    pub parameters: String,
    pub targets: String,
    pub max_concurrency: String,
    pub max_errors: String,
    pub timeout_seconds: u64,
    pub delivery_timeout_seconds: u64,
    pub comment: String,
    pub requested_by: String,
    pub requested_at: String,
    pub status: String,
    pub completed_at: Option<String>,
}

/// One invocation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    pub id: String,
    pub node_id: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// JSON array of step reports, once ended.
    pub steps: Option<String>,
    pub dispatched_at: Option<String>,
    pub delivered_at: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

const COMMAND_COLUMNS: &str = "no, id, document_name, document_version, document, parameters, targets, max_concurrency, max_errors, \
     timeout_seconds, delivery_timeout_seconds, comment, requested_by, requested_at, status, completed_at";

fn command_from_row(r: &Row<'_>) -> rusqlite::Result<CommandRecord> {
    Ok(CommandRecord {
        no: r.get(0)?,
        id: r.get(1)?,
        document_name: r.get(2)?,
        document_version: r.get(3)?,
        document: r.get(4)?,
        parameters: r.get(5)?,
        targets: r.get(6)?,
        max_concurrency: r.get(7)?,
        max_errors: r.get(8)?,
        timeout_seconds: r.get::<_, i64>(9)? as u64,
        delivery_timeout_seconds: r.get::<_, i64>(10)? as u64,
        comment: r.get(11)?,
        requested_by: r.get(12)?,
        requested_at: r.get(13)?,
        status: r.get(14)?,
        completed_at: r.get(15)?,
    })
}

/// The id of an invocation: `COMMAND_ID.NODE_ID`, unique, readable in logs, and safe in a URL path or a file name.
pub fn invocation_id(command_id: &str, node_id: &str) -> String {
    format!("{command_id}.{node_id}")
}

impl Store {
    /// Records a command and its invocations (Pending; Undeliverable for `undeliverable`) in one transaction.
    pub fn create_command(&self, new: NewCommand) -> Result<i64, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let status = if new.nodes.is_empty() { "Failed" } else { "Pending" };
            let completed_at = new.nodes.is_empty().then_some(&new.requested_at);
            conn.prepare_cached(
                "INSERT INTO commands (id, document_name, document_version, document, parameters, targets, max_concurrency, max_errors, \
                 timeout_seconds, delivery_timeout_seconds, comment, requested_by, requested_at, status, completed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    new.id,
                    new.document_name,
                    new.document_version,
                    new.document,
                    new.parameters,
                    new.targets,
                    new.max_concurrency,
                    new.max_errors,
                    new.timeout_seconds as i64,
                    new.delivery_timeout_seconds as i64,
                    new.comment,
                    new.requested_by,
                    new.requested_at,
                    status,
                    completed_at
                ])
            })
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError(format!("a command with id {} exists already", new.id)),
                _ => sql_error(e),
            })?;
            let no = conn.last_insert_rowid();
            let mut insert = conn
                .prepare_cached("INSERT INTO invocations (id, command_no, seq, node_id, status, ended_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(sql_error)?;
            let pending = new.nodes.iter().map(|n| (n, "Pending", None));
            let undeliverable = new.undeliverable.iter().map(|n| (n, "Undeliverable", Some(&new.requested_at)));
            for (seq, (node, status, ended_at)) in pending.chain(undeliverable).enumerate() {
                insert.execute(params![invocation_id(&new.id, node), no, seq as i64, node, status, ended_at]).map_err(sql_error)?;
            }
            let _ = tx.send(no);
            Ok(())
        }))?;
        rx.try_iter().last().ok_or_else(|| StoreError("the command was not recorded".into()))
    }

    pub fn get_command(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?1"))?
                .query_row([id], command_from_row)
                .optional()
        })
    }

    /// The newest commands first, at most `limit`.
    pub fn list_commands(&self, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!("SELECT {COMMAND_COLUMNS} FROM commands ORDER BY no DESC LIMIT ?1"))?;
            statement.query_map([limit as i64], command_from_row)?.collect()
        })
    }

    /// The commands that have not ended, oldest first: the dispatcher's work after a start.
    pub fn unfinished_commands(&self) -> Result<Vec<CommandRecord>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE status IN ('Pending', 'InProgress', 'Cancelling') ORDER BY no"
            ))?;
            statement.query_map([], command_from_row)?.collect()
        })
    }

    /// How many invocations of a command have each status.
    pub fn invocation_counts(&self, command_no: i64) -> Result<BTreeMap<String, u32>, StoreError> {
        self.read(|conn| advance::counts(conn, command_no))
    }

    /// Every invocation of a command, in dispatch order.
    pub fn invocations(&self, command_no: i64) -> Result<Vec<InvocationRecord>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, node_id, status, exit_code, stdout, stderr, steps, dispatched_at, delivered_at, started_at, ended_at \
                 FROM invocations WHERE command_no = ?1 ORDER BY seq",
            )?;
            statement
                .query_map([command_no], |r| {
                    Ok(InvocationRecord {
                        id: r.get(0)?,
                        node_id: r.get(1)?,
                        status: r.get(2)?,
                        exit_code: r.get(3)?,
                        stdout: r.get(4)?,
                        stderr: r.get(5)?,
                        steps: r.get(6)?,
                        dispatched_at: r.get(7)?,
                        delivered_at: r.get(8)?,
                        started_at: r.get(9)?,
                        ended_at: r.get(10)?,
                    })
                })?
                .collect()
        })
    }
}
