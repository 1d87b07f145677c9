//! The engine's persistence: executions, steps and signals as JSON records,
//! with status columns for queries.

mod compact;
mod ops;
mod steps;

use async_trait::async_trait;
use bosun_engine::{
    Change, DocumentSnapshot, DocumentSource, ExecutionRecord, ExecutionStatus, ExecutionStore, SignalRecord, StoreError, StoredExecution,
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

/// Housekeeping: deletes the step-log rows no running execution needs.
pub(crate) fn tidy(conn: &Connection) -> Result<(), StoreError> {
    steps::purge_step_log(conn)
}

fn load_in(conn: &Connection, id: &str) -> Result<Option<StoredExecution>, StoreError> {
    type Row = (i64, String, String, Option<i64>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT no, record, document, log_first, steps FROM executions JOIN execution_documents ON execution_no = no WHERE id = ?1",
        )
        .and_then(|mut s| s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional())
        .map_err(sql_error)?;
    let Some((no, record, document, log_first, archived)) = row else { return Ok(None) };
    let record: ExecutionRecord = from_json(&record)?;
    let document: DocumentSnapshot = from_json(&document)?;
    let steps = match (archived, log_first) {
        (Some(steps), _) => compact::decode_steps(id, &steps)?,
        (None, Some(first)) => steps::load_steps(conn, id, no, first)?,
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
        let ops = ops::encode(changes)?;
        let ends = ops::ends_an_execution(&ops);
        self.writer.run_blocking(Box::new(move |conn| ops::apply(conn, &ops)))?;
        if ends {
            self.housekeeping.request();
        }
        Ok(())
    }

    pub fn load_execution(&self, id: &str) -> Result<Option<StoredExecution>, StoreError> {
        let conn = self.readers.get();
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
        let ops = ops::encode(changes)?;
        let ends = ops::ends_an_execution(&ops);
        self.writer.run_async(Box::new(move |conn| ops::apply(conn, &ops))).await?;
        if ends {
            self.housekeeping.request();
        }
        Ok(())
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
