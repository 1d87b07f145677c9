//! Errors the engine returns to its callers (starting, signalling, reading executions).

use bosun_document::params::ParamError;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The document has errors; each line is `line:col: path: message`.
    #[error("the document is not valid:\n{}", .0.join("\n"))]
    InvalidDocument(Vec<String>),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    InvalidParameters(Vec<ParamError>),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no execution with id {0}")]
    NotFound(String),
    /// The request does not fit the execution's state (e.g. approving a step that is not waiting).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
