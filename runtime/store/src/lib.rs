//! Bosun's SQLite store (WAL mode): documents with versions, installed plugins, API tokens,
//! the engine's executions, steps and signals, the fleet (activations, nodes, tags,
//! groups), Run Command and the event log. There is no writer thread: writers queue
//! their jobs, and whichever writer holds the write connection commits what is
//! queued in one transaction (group commit; see `writer.rs`). Reads use
//! connections of their own (`readers.rs`).

mod associations;
mod checkpointer;
mod commands;
mod documents;
mod events;
mod executions;
mod fleet;
mod generations;
mod housekeeping;
pub mod inventory;
pub mod packages;
pub mod params;
pub mod patches;
mod plugins;
mod readers;
mod schema;
pub mod sessions;
mod token_cache;
mod tokens;
mod windows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

pub use associations::{MAX_ASSOCIATIONS, PendingRun, RunSent, check_definition, jitter};
pub use commands::{
    Advance, Advanced, CommandRecord, Delivery, DueNotification, InvocationRecord, NewCommand, NotifyOutcome, Plan, Report, ReportOutcome,
    command_status, invocation_id, plan,
};
pub use documents::{DocumentInfo, DocumentOwner, NewDocument, content_hash, validate_document_name};
pub use events::audit::NewAudit;
pub use events::deliveries::{DueDelivery, NewDelivery, RULES_CURSOR};
pub use events::hooks::{HookKeys, Ingested, REMEMBER_MESSAGE_SECONDS, validate_event_name};
pub use events::opsitems::{NewOpsItem, OPSITEM_SEVERITIES};
pub use events::{Event, NewEvent, TextEvent};
pub use executions::ExecutionSummary;
pub use fleet::{FleetError, MAX_TAGS, ResolvedTargets, ping_status, validate_group_name};
pub use params::{MasterKey, ParamError, ParamScopes, StoredParameter};
pub use plugins::{InstalledPlugin, NewPlugin, TrustedKey, version_order};
pub use sessions::{NewSession, RecordedChunk, Recording, SessionEnd, SessionScopes, TagCondition};
pub use tokens::{TokenInfo, token_hash, validate_token_name};
pub use windows::{OpenTask, OpenWindow, check_window};
pub use writer::Durability;

use bosun_engine::StoreError;

/// The store of one data directory.
pub struct Store {
    writer: Arc<writer::Writer>,
    readers: readers::Readers,
    housekeeping: housekeeping::Housekeeper,
    /// Copies the WAL back into the database off the commit path; held for its thread,
    /// which ends when the store is dropped.
    _checkpointer: checkpointer::Checkpointer,
    path: PathBuf,
    /// Verified admin tokens and their scopes, checked against the database on every use.
    token_cache: token_cache::TokenCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// How the store writes a time: RFC 3339 in UTC with milliseconds, fixed width, so
/// that text order is time order.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn now() -> String {
    timestamp(chrono::Utc::now())
}

pub(crate) fn sql_error(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl Store {
    /// Opens (creating if needed) `bosun.db` in `dir`.
    pub fn open(dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("bosun.db");
        let mut conn = schema::connect(&path, durability)?;
        schema::migrate(&conn)?;
        let readers = (0..readers::READERS).map(|_| schema::connect(&path, durability)).collect::<Result<Vec<_>, _>>()?;
        let checkpointer = checkpointer::Checkpointer::start(&path, durability, &mut conn)?;
        let writer = Arc::new(writer::Writer::new(conn));
        let housekeeping = housekeeping::Housekeeper::start(Arc::clone(&writer));
        Ok(Self {
            writer,
            readers: readers::Readers::new(readers),
            housekeeping,
            _checkpointer: checkpointer,
            path,
            token_cache: Default::default(),
        })
    }

    /// Does now the housekeeping that otherwise runs in the background after executions
    /// end (deleting step-log rows that no running execution needs).
    pub fn tidy(&self) -> Result<(), StoreError> {
        self.writer.run_blocking(Box::new(executions::tidy))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>) -> Result<T, StoreError> {
        let conn = self.readers.get();
        f(&conn).map_err(sql_error)
    }
}

/// The machine's rate of single-row commits (one INSERT per transaction) for a
/// durability mode, measured for `for_how_long` in a fresh database in `dir`:
/// the ceiling the engine's one-commit-per-transition design is compared with.
pub fn measure_commit_rate(dir: &Path, durability: Durability, for_how_long: std::time::Duration) -> Result<f64, StoreError> {
    let conn = schema::connect(&dir.join("commit-rate.db"), durability)?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").map_err(sql_error)?;
    let mut insert = conn.prepare("INSERT INTO t (v) VALUES (?1)").map_err(sql_error)?;
    let started = std::time::Instant::now();
    let mut commits = 0u64;
    while started.elapsed() < for_how_long {
        conn.execute_batch("BEGIN").map_err(sql_error)?;
        insert.execute(["a small row of about forty bytes of text.."]).map_err(sql_error)?;
        conn.execute_batch("COMMIT").map_err(sql_error)?;
        commits += 1;
    }
    Ok(commits as f64 / started.elapsed().as_secs_f64())
}
