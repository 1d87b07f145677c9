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

/// Applies one transition's changes: step records go to the step log as one row per execution.
fn apply_all(conn: &Connection, changes: &[Change]) -> Result<(), StoreError> {
    changes.iter().try_for_each(|c| apply(conn, c))?;
    let mut by_execution: Vec<(&str, Vec<&StepRecord>)> = Vec::new();
    for change in changes {
        if let Change::PutStep(step) = change {
            match by_execution.iter_mut().find(|(id, _)| *id == step.execution_id) {
                Some((_, steps)) => steps.push(step),
                None => by_execution.push((&step.execution_id, vec![step])),
            }
        }
    }
    by_execution.into_iter().try_for_each(|(id, steps)| append_steps(conn, id, &steps))
}

/// The range of step-log row ids that belongs to an execution.
fn log_range(no: i64) -> (i64, i64) {
    (no << 32, (no << 32) | 0xFFFF_FFFF)
}

fn execution_no(conn: &Connection, id: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT no FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![id], |r| r.get(0)).optional())
        .map_err(sql_error)
}

fn append_steps(conn: &Connection, execution_id: &str, steps: &[&StepRecord]) -> Result<(), StoreError> {
    let no = execution_no(conn, execution_id)?.ok_or_else(|| StoreError(format!("no execution with id {execution_id}")))?;
    let (first, last) = log_range(no);
    let next: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id) + 1, ?1) FROM step_log WHERE id BETWEEN ?1 AND ?2")
        .and_then(|mut s| s.query_row(params![first, last], |r| r.get(0)))
        .map_err(sql_error)?;
    if next > last {
        return Err(StoreError(format!("execution {execution_id} has used up its step log")));
    }
    conn.prepare_cached("INSERT INTO step_log (id, records) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![next, to_json(&steps).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?]))
        .map_err(sql_error)?;
    Ok(())
}

/// The latest record of every step, in sequence order, from an execution's step log.
fn load_steps(conn: &Connection, no: i64) -> Result<Vec<StepRecord>, StoreError> {
    let (first, last) = log_range(no);
    let rows: Vec<String> = conn
        .prepare_cached("SELECT records FROM step_log WHERE id BETWEEN ?1 AND ?2 ORDER BY id")
        .and_then(|mut s| s.query_map(params![first, last], |r| r.get(0))?.collect())
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
        Change::UpdateExecution(record) => {
            let n = conn
                .prepare_cached("UPDATE executions SET status = ?2, terminal = ?3, record = ?4 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![record.id, record.status.as_str(), record.status.is_terminal(), to_json(record).ok()]))
                .map_err(sql_error)?;
            if n == 0 {
                return Err(StoreError(format!("no execution with id {}", record.id)));
            }
        }
        Change::PutStep(_) => {} // written by `append_steps`
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
    let row: Option<(i64, String, String)> = conn
        .prepare_cached("SELECT no, record, document FROM executions WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(sql_error)?;
    let Some((no, record, document)) = row else { return Ok(None) };
    let record: ExecutionRecord = from_json(&record)?;
    let document: DocumentSnapshot = from_json(&document)?;
    let steps = load_steps(conn, no)?;
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
