//! The fleet: hybrid activations, the nodes registered with them (identity,
//! credential, platform, last contact, tags), resource groups by tag query, and
//! the resolution of command targets to node ids. Secrets (activation codes, node
//! credentials) are random, shown once, and kept only as sha256 hashes.

mod activations;
mod groups;
mod nodes;
mod targets;

use std::collections::BTreeMap;

use bosun_engine::StoreError;
use bosun_protocol::target::{check_tag_key, check_tag_value};
use rusqlite::Connection;

use crate::{Store, sql_error};

pub use groups::validate_group_name;
pub use nodes::{MAX_TAGS, ping_status};
pub use targets::ResolvedTargets;

/// What a fleet operation can refuse, apart from a failing store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// A field of the request is not acceptable; `field` is its JSON name.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A registration was refused. The message does not say why, so that it does
    /// not tell whether an activation id exists.
    #[error("the activation id or code is wrong, expired or used up")]
    Refused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FleetError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }
}

/// `n` random bytes from the operating system, as lowercase hex.
pub(crate) fn random_hex(n: usize) -> Result<String, StoreError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| StoreError(format!("cannot get random bytes: {e}")))?;
    Ok(hex::encode(bytes))
}

/// A time as the store writes it ([`crate::timestamp`]).
pub(crate) fn parse_stamp(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// Checks a set of tags: at most [`MAX_TAGS`], each key and value by the AWS rules.
pub(crate) fn check_tags(field: &str, tags: &BTreeMap<String, String>) -> Result<(), FleetError> {
    if tags.len() > MAX_TAGS {
        return Err(FleetError::invalid(field, format!("at most {MAX_TAGS} tags are allowed, not {}", tags.len())));
    }
    for (key, value) in tags {
        check_tag_key(key).map_err(|e| FleetError::invalid(format!("{field}.{key}"), e.0))?;
        check_tag_value(value).map_err(|e| FleetError::invalid(format!("{field}.{key}"), e.0))?;
    }
    Ok(())
}

pub(crate) fn json_error(i: usize, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
}

/// A writer job that runs `job` inside a savepoint and sends its answer on `tx`.
fn savepoint_job<T: Send + 'static>(
    job: impl Fn(&Connection) -> Result<T, FleetError> + Send + 'static,
    tx: std::sync::mpsc::Sender<Result<T, FleetError>>,
) -> crate::writer::Job {
    Box::new(move |conn| {
        conn.execute_batch("SAVEPOINT fleet").map_err(sql_error)?;
        let outcome = job(conn);
        let end = if outcome.is_ok() { "RELEASE fleet" } else { "ROLLBACK TO fleet; RELEASE fleet" };
        conn.execute_batch(end).map_err(sql_error)?;
        match outcome {
            Err(FleetError::Store(e)) => Err(e),
            other => {
                let _ = tx.send(other);
                Ok(())
            }
        }
    })
}

impl Store {
    /// Runs `job` in the writer's transaction, inside a savepoint: a refusal
    /// (any error but a store error) undoes what the job wrote and commits the
    /// rest of the batch; a store error fails the job. The job may run twice (see
    /// `writer.rs`); the answer of its last run is returned.
    pub(crate) fn fleet_write<T: Send + 'static>(
        &self,
        job: impl Fn(&Connection) -> Result<T, FleetError> + Send + 'static,
    ) -> Result<T, FleetError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(savepoint_job(job, tx))?;
        rx.try_iter().last().unwrap_or_else(|| Err(StoreError("the store's writer gave no answer".into()).into()))
    }

    /// The same from async code: no thread waits for the commit.
    pub(crate) async fn fleet_write_async<T: Send + 'static>(
        &self,
        job: impl Fn(&Connection) -> Result<T, FleetError> + Send + 'static,
    ) -> Result<T, FleetError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_async(savepoint_job(job, tx)).await?;
        rx.try_iter().last().unwrap_or_else(|| Err(StoreError("the store's writer gave no answer".into()).into()))
    }

    /// Runs `f` on the read connection inside one read transaction, so that what
    /// it reads in several queries is one snapshot.
    pub(crate) fn fleet_read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>) -> Result<T, StoreError> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
    }
}
