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
        Change::PutStep(step) => {
            conn.prepare_cached("INSERT OR REPLACE INTO steps (execution_id, seq, record) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![step.execution_id, step.seq, to_json(step).ok()]))
                .map_err(sql_error)?;
        }
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
        self.writer.run_blocking(Box::new(move |conn| changes.iter().try_for_each(|c| apply(conn, c))))
    }

    pub fn load_execution(&self, id: &str) -> Result<Option<StoredExecution>, StoreError> {
        let row: Option<(String, String)> = self.read(|c| {
            c.prepare_cached("SELECT record, document FROM executions WHERE id = ?1")?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })?;
        let Some((record, document)) = row else {
            return Ok(None);
        };
        let record: ExecutionRecord = from_json(&record)?;
        let document: DocumentSnapshot = from_json(&document)?;
        let steps: Vec<String> = self.read(|c| {
            c.prepare_cached("SELECT record FROM steps WHERE execution_id = ?1 ORDER BY seq")?
                .query_map(params![id], |r| r.get(0))?
                .collect()
        })?;
        let steps = steps.iter().map(|s| from_json::<StepRecord>(s)).collect::<Result<_, _>>()?;
        Ok(Some(StoredExecution { record, document, steps }))
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
        self.writer.run_async(Box::new(move |conn| changes.iter().try_for_each(|c| apply(conn, c)))).await
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
