//! The persistence traits the engine runs on. A store makes a committed list
//! of changes durable before `commit` returns; the SQLite store is the one
//! Bosun ships.

use async_trait::async_trait;

use crate::record::{Change, DocumentSnapshot, SignalRecord, StoredExecution};
use crate::status::ExecutionStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Commits all changes in one transaction; returns once they are durable.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError>;

    async fn load(&self, execution_id: &str) -> Result<Option<StoredExecution>, StoreError>;

    /// Only the status of an execution: cheaper than `load` for waiting on it.
    async fn status(&self, execution_id: &str) -> Result<Option<ExecutionStatus>, StoreError>;

    /// Ids of executions whose status is not terminal, oldest first.
    async fn unfinished(&self) -> Result<Vec<String>, StoreError>;

    /// Signals not yet consumed, oldest first.
    async fn pending_signals(&self, execution_id: &str) -> Result<Vec<SignalRecord>, StoreError>;
}

/// Finds documents by name for aws:executeAutomation.
#[async_trait]
pub trait DocumentSource: Send + Sync {
    /// `version`: a version number, `$LATEST`, `$DEFAULT`, or `None` for the default version.
    async fn document(&self, name: &str, version: Option<&str>) -> Result<Option<DocumentSnapshot>, StoreError>;
}
