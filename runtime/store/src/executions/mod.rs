//! The engine's persistence: executions, steps and signals as JSON records,
//! with status columns for queries.

use async_trait::async_trait;
use bosun_engine::{
    Change, DocumentSnapshot, DocumentSource, ExecutionRecord, ExecutionStatus, ExecutionStore, SignalRecord, StepRecord, StoreError,
    StoredExecution,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Store, sql_error};

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(format!("cannot encode a record: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError(format!("cannot decode a stored record: {e}")))
}

/// Applies one transition's changes: step records go to the step log as one row per
/// execution, except for an execution that ends in the same changes (its whole history
/// comes with its end).
fn apply_all(conn: &Connection, changes: &[Change]) -> Result<(), StoreError> {
    let ending: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::EndExecution { record, .. } => Some(record.id.as_str()),
            _ => None,
        })
        .collect();
    let mut by_execution: Vec<(&str, Vec<&StepRecord>)> = Vec::new();
    for change in changes {
        match change {
            Change::PutStep(step) if ending.contains(&step.execution_id.as_str()) => {}
            Change::PutStep(step) => match by_execution.iter_mut().find(|(id, _)| *id == step.execution_id) {
                Some((_, steps)) => steps.push(step),
                None => by_execution.push((&step.execution_id, vec![step])),
            },
            other => apply(conn, other)?,
        }
    }
    by_execution.into_iter().try_for_each(|(id, steps)| append_steps(conn, id, &steps))?;
    if changes.iter().any(|c| matches!(c, Change::EndExecution { .. })) {
        purge_step_log(conn)?;
    }
    Ok(())
}

fn encode_err(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn append_steps(conn: &Connection, execution_id: &str, steps: &[&StepRecord]) -> Result<(), StoreError> {
    let found: Option<(i64, Option<i64>, bool)> = conn
        .prepare_cached("SELECT no, log_first, terminal FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![execution_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(sql_error)?;
    let (no, log_first, terminal) = found.ok_or_else(|| StoreError(format!("no execution with id {execution_id}")))?;
    if terminal {
        return Err(StoreError(format!("execution {execution_id} has ended; its steps cannot change")));
    }
    conn.prepare_cached("INSERT INTO step_log (execution_no, records) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![no, to_json(&steps).map_err(encode_err)?]))
        .map_err(sql_error)?;
    if log_first.is_none() {
        let row = conn.last_insert_rowid();
        conn.prepare_cached("UPDATE executions SET log_first = ?2 WHERE no = ?1")
            .and_then(|mut s| s.execute(params![no, row]))
            .map_err(sql_error)?;
    }
    Ok(())
}

/// Deletes the step-log rows older than the first row of every running execution: they
/// belong to executions that have ended, whose history is in `executions.steps`.
fn purge_step_log(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM step_log WHERE id < COALESCE(
             (SELECT MIN(log_first) FROM executions WHERE terminal = 0 AND log_first IS NOT NULL),
             (SELECT MAX(id) + 1 FROM step_log))",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(sql_error)?;
    Ok(())
}

/// The latest record of every step, in sequence order, from a running execution's step log.
fn load_steps(conn: &Connection, no: i64, log_first: i64) -> Result<Vec<StepRecord>, StoreError> {
    let rows: Vec<String> = conn
        .prepare_cached("SELECT records FROM step_log WHERE id >= ?1 AND execution_no = ?2 ORDER BY id")
        .and_then(|mut s| s.query_map(params![log_first, no], |r| r.get(0))?.collect())
        .map_err(sql_error)?;
    let mut steps: Vec<StepRecord> = Vec::new();
    for row in rows {
        for step in from_json::<Vec<StepRecord>>(&row)? {
            let seq = step.seq as usize;
            match seq.cmp(&steps.len()) {
                std::cmp::Ordering::Less => steps[seq] = step,
                std::cmp::Ordering::Equal => steps.push(step),
                std::cmp::Ordering::Greater => return Err(StoreError(format!("the step log skips from step {} to {seq}", steps.len()))),
            }
        }
    }
    Ok(steps)
}

fn apply(conn: &Connection, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::CreateExecution { record, document } => {
            conn.prepare_cached(
                "INSERT INTO executions (id, document_name, status, terminal, created_at, record, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    record.id,
                    record.document_name,
                    record.status.as_str(),
                    record.status.is_terminal(),
                    record.created_at.to_rfc3339(),
                    to_json(record).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    to_json(document).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                ])
            })
            .map_err(sql_error)?;
        }
        Change::UpdateExecution(record) if record.status.is_terminal() => {
            return Err(StoreError(format!("execution {} cannot end without its step history", record.id)));
        }
        Change::EndExecution { record, steps } => {
            let n = conn
                .prepare_cached("UPDATE executions SET status = ?2, terminal = 1, record = ?3, steps = ?4, log_first = NULL WHERE id = ?1 AND terminal = 0")
                .and_then(|mut s| {
                    s.execute(params![record.id, record.status.as_str(), to_json(record).map_err(encode_err)?, to_json(steps).map_err(encode_err)?])
                })
                .map_err(sql_error)?;
            if n == 0 {
                return Err(StoreError(format!("no running execution with id {}", record.id)));
            }
        }
        Change::UpdateExecution(record) => {
            let n = conn
                .prepare_cached("UPDATE executions SET status = ?2, terminal = ?3, record = ?4 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![record.id, record.status.as_str(), record.status.is_terminal(), to_json(record).ok()]))
                .map_err(sql_error)?;
            if n == 0 {
                return Err(StoreError(format!("no execution with id {}", record.id)));
            }
        }
        Change::PutStep(step) => append_steps(conn, &step.execution_id, &[step])?,
        Change::AddSignal(signal) => {
            conn.prepare_cached("INSERT INTO signals (id, execution_id, created_at, record) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![signal.id, signal.execution_id, signal.created_at.to_rfc3339(), to_json(signal).ok()]))
                .map_err(sql_error)?;
        }
        Change::ConsumeSignal { id } => {
            conn.prepare_cached("DELETE FROM signals WHERE id = ?1").and_then(|mut s| s.execute(params![id])).map_err(sql_error)?;
        }
    }
    Ok(())
}

fn load_in(conn: &Connection, id: &str) -> Result<Option<StoredExecution>, StoreError> {
    type Row = (i64, String, String, Option<i64>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached("SELECT no, record, document, log_first, steps FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional())
        .map_err(sql_error)?;
    let Some((no, record, document, log_first, archived)) = row else { return Ok(None) };
    let record: ExecutionRecord = from_json(&record)?;
    let document: DocumentSnapshot = from_json(&document)?;
    let steps = match (archived, log_first) {
        (Some(steps), _) => from_json(&steps)?,
        (None, Some(first)) => load_steps(conn, no, first)?,
        (None, None) => Vec::new(),
    };
    Ok(Some(StoredExecution { record, document, steps }))
}

/// A line of an execution listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub execution_id: String,
    pub document_name: String,
    pub status: ExecutionStatus,
    pub created_at: String,
}

impl Store {
    /// Commits changes from blocking code (tools, tests).
    pub fn commit_blocking(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        self.writer.run_blocking(Box::new(move |conn| apply_all(conn, &changes)))
    }

    pub fn load_execution(&self, id: &str) -> Result<Option<StoredExecution>, StoreError> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        // One read transaction, so the record and its steps come from the same commit.
        conn.execute_batch("BEGIN").map_err(sql_error)?;
        let loaded = load_in(&conn, id);
        let _ = conn.execute_batch("COMMIT");
        loaded
    }

    /// Executions, newest first.
    pub fn list_executions(&self, limit: usize) -> Result<Vec<ExecutionSummary>, StoreError> {
        let rows: Vec<(String, String, String, String)> = self.read(|c| {
            c.prepare_cached("SELECT id, document_name, status, created_at FROM executions ORDER BY created_at DESC LIMIT ?1")?
                .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })?;
        rows.into_iter()
            .map(|(execution_id, document_name, status, created_at)| {
                let status = status.parse().map_err(|e: bosun_engine::status::UnknownStatus| StoreError(e.to_string()))?;
                Ok(ExecutionSummary { execution_id, document_name, status, created_at })
            })
            .collect()
    }
}

#[async_trait]
impl ExecutionStore for Store {
    async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        self.writer.run_async(Box::new(move |conn| apply_all(conn, &changes))).await
    }

    async fn load(&self, execution_id: &str) -> Result<Option<StoredExecution>, StoreError> {
        self.load_execution(execution_id)
    }

    async fn status(&self, execution_id: &str) -> Result<Option<ExecutionStatus>, StoreError> {
        let status: Option<String> = self.read(|c| {
            c.prepare_cached("SELECT status FROM executions WHERE id = ?1")?.query_row(params![execution_id], |r| r.get(0)).optional()
        })?;
        status.map(|s| s.parse().map_err(|e: bosun_engine::status::UnknownStatus| StoreError(e.to_string()))).transpose()
    }

    async fn unfinished(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT id FROM executions WHERE terminal = 0 ORDER BY created_at")?.query_map([], |r| r.get(0))?.collect()
        })
    }

    async fn pending_signals(&self, execution_id: &str) -> Result<Vec<SignalRecord>, StoreError> {
        let rows: Vec<String> = self.read(|c| {
            c.prepare_cached("SELECT record FROM signals WHERE execution_id = ?1 ORDER BY created_at")?
                .query_map(params![execution_id], |r| r.get(0))?
                .collect()
        })?;
        rows.iter().map(|r| from_json(r)).collect()
    }
}

#[async_trait]
impl DocumentSource for Store {
    async fn document(&self, name: &str, version: Option<&str>) -> Result<Option<DocumentSnapshot>, StoreError> {
        Ok(self.get_document(name, version)?.map(|(_, snapshot)| snapshot))
    }
}
