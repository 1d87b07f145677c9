//! Parameter Store: named, versioned parameters (String, StringList, SecureString)
//! in tiers with SSM's limits, labels on versions, history, path reads, policies
//! fired once by a durable scheduler, path-scoped read permissions of API tokens,
//! and SecureString values sealed under envelope encryption. Every change is one
//! writer job, so concurrent puts to one name get gapless versions.

mod names;
pub mod policies;
mod read;
mod schedule;
mod scopes;
mod seal;
mod write;

use bosun_engine::StoreError;
use bosun_protocol::params::{ParameterType, Tier};
use rusqlite::Connection;

use crate::Store;

pub use names::{
    MAX_DEPTH, MAX_LABEL_LEN, MAX_NAME_LEN, Selector, as_path, canonical_name, canonical_path, parse_selector, validate_label,
};
pub use read::{PathQuery, StoredParameter};
pub use schedule::Firing;
pub(crate) use scopes::glob;
pub use scopes::{Access, ParamScopes, validate_scope_pattern};
pub use seal::MasterKey;
pub use write::RotateReport;

/// The largest value of a Standard parameter, in bytes.
pub const STANDARD_VALUE_MAX: usize = 4096;
/// The largest value of an Advanced parameter, in bytes.
pub const ADVANCED_VALUE_MAX: usize = 8192;
/// How many Standard parameters a store may hold.
pub const STANDARD_COUNT_MAX: i64 = 10_000;
/// How many Advanced parameters a store may hold.
pub const ADVANCED_COUNT_MAX: i64 = 100_000;
/// How many versions a parameter's history keeps.
pub const MAX_VERSIONS: i64 = 100;
/// How many labels one version may carry.
pub const MAX_LABELS_PER_VERSION: usize = 10;
/// The longest description.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// The longest allowed pattern.
pub const MAX_PATTERN_LEN: usize = 1024;
/// How many names one get-many or delete-many takes.
pub const MAX_NAMES_PER_CALL: usize = 10;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS parameters (
    name TEXT PRIMARY KEY,
    latest INTEGER NOT NULL,
    tier TEXT NOT NULL,
    modified_at TEXT NOT NULL
) WITHOUT ROWID;
-- Every kept version. A SecureString's value is its ciphertext, with its data key
-- wrapped under the master key named by key_id.
CREATE TABLE IF NOT EXISTS parameter_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    tier TEXT NOT NULL,
    data_type TEXT NOT NULL,
    description TEXT,
    allowed_pattern TEXT,
    policies TEXT,
    value BLOB NOT NULL,
    wrapped_key BLOB,
    key_id TEXT,
    modified_at TEXT NOT NULL,
    modified_by TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parameter_labels (
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parameter_labels_by_version ON parameter_labels (name, version);
-- How many parameters each tier holds, kept with every create and delete.
CREATE TABLE IF NOT EXISTS parameter_tier_counts (
    tier TEXT PRIMARY KEY,
    count INTEGER NOT NULL
) WITHOUT ROWID;
-- One row per policy firing, committed with the event it emitted: a firing is
-- keyed by its due time, so it happens once however often the scheduler looks.
CREATE TABLE IF NOT EXISTS parameter_policy_firings (
    name TEXT NOT NULL,
    policy TEXT NOT NULL,
    due_at TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (name, policy, due_at)
) WITHOUT ROWID;
-- Path patterns an API token may read or decrypt; a token with none is unrestricted.
CREATE TABLE IF NOT EXISTS parameter_scopes (
    token TEXT NOT NULL,
    access TEXT NOT NULL,
    pattern TEXT NOT NULL,
    PRIMARY KEY (token, access, pattern)
) WITHOUT ROWID;
";

/// What a Parameter Store operation can refuse, apart from a failing store. Messages
/// never carry a SecureString's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A field of the request is not acceptable; `field` is its JSON name.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The name exists already, a label or version limit is reached, a tier cannot change.
    #[error("{0}")]
    Conflict(String),
    /// A limit on the number of parameters is reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// The caller may not read, decrypt or change this.
    #[error("{0}")]
    Denied(String),
    /// Sealing or opening a SecureString failed (no key, a wrong key, a damaged value).
    #[error("{0}")]
    Crypto(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn sql(e: rusqlite::Error) -> ParamError {
    ParamError::Store(crate::sql_error(e))
}

pub(crate) fn parse_type(text: &str) -> Result<ParameterType, rusqlite::Error> {
    ParameterType::parse(text)
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(0, format!("parameter type {text}"), rusqlite::types::Type::Text))
}

pub(crate) fn parse_tier(text: &str) -> Result<Tier, rusqlite::Error> {
    Tier::parse(text).ok_or_else(|| rusqlite::Error::InvalidColumnType(0, format!("tier {text}"), rusqlite::types::Type::Text))
}

impl Store {
    /// Runs a Parameter Store job in one transaction and returns what it answered. A
    /// job that refuses rolls its transaction back.
    pub(crate) fn param_job<T: Send + 'static>(
        &self,
        job: impl Fn(&Connection) -> Result<T, ParamError> + Send + 'static,
    ) -> Result<T, ParamError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let ran = self.writer.run_blocking(Box::new(move |conn| answer(&tx, job(conn))));
        last_answer(ran, rx.try_iter().last())
    }

    /// The same from async code: concurrent callers share commits.
    pub(crate) async fn param_job_async<T: Send + 'static>(
        &self,
        job: impl Fn(&Connection) -> Result<T, ParamError> + Send + 'static,
    ) -> Result<T, ParamError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let ran = self.writer.run_async(Box::new(move |conn| answer(&tx, job(conn)))).await;
        last_answer(ran, rx.try_iter().last())
    }
}

/// Hands a job's answer to its caller; a refusal also fails the job, so its changes roll back.
fn answer<T>(tx: &std::sync::mpsc::Sender<Result<T, ParamError>>, result: Result<T, ParamError>) -> Result<(), StoreError> {
    let failed = result.as_ref().err().map(|e| StoreError(e.to_string()));
    let _ = tx.send(result);
    failed.map_or(Ok(()), Err)
}

/// A job may run twice (see the writer): its last answer counts, unless the commit failed.
fn last_answer<T>(ran: Result<(), StoreError>, answer: Option<Result<T, ParamError>>) -> Result<T, ParamError> {
    match (ran, answer) {
        (Ok(()), Some(answer)) => answer,
        (Err(_), Some(Err(refused))) => Err(refused),
        (Err(e), _) => Err(ParamError::Store(e)),
        (Ok(()), None) => Err(ParamError::Store(StoreError("the parameter job gave no answer".into()))),
    }
}
