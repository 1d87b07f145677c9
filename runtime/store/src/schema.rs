//! Connection settings (WAL, durability), the schema, and the move of older
//! databases to the current schema version.

use std::path::Path;
use std::time::Duration;

use bosun_engine::StoreError;
use rusqlite::Connection;

use crate::sql_error;
use crate::writer::Durability;

pub(crate) fn connect(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(sql_error)?;
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.execute_batch(&format!("PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON;"))
        .map_err(sql_error)?;
    Ok(conn)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    content TEXT NOT NULL,
    hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS document_defaults (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_name TEXT NOT NULL,
    status TEXT NOT NULL,
    terminal INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL,
    -- The first step_log row of the execution, while it runs.
    log_first INTEGER,
    -- The whole step history (a JSON array), once the execution has ended.
    steps TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_state ON executions (terminal, created_at);
CREATE INDEX IF NOT EXISTS executions_log_first ON executions (terminal, log_first);
-- The document an execution runs (a JSON DocumentSnapshot), apart from the execution's
-- row: that row is written again whenever the execution's status changes, and the
-- document, often the largest part, would be written again with it.
CREATE TABLE IF NOT EXISTS execution_documents (
    execution_no INTEGER PRIMARY KEY REFERENCES executions (no) ON DELETE CASCADE,
    document TEXT NOT NULL
);
-- The step records of running executions, in commit order: one row per committed
-- transition of one execution, holding the JSON array of the step records it wrote
-- (the latest record of a step's `seq` wins). Every commit appends at the end of
-- the table, so concurrent executions share pages instead of each dirtying its own.
-- When an execution ends its history moves to `executions.steps`, and rows older
-- than the first row of every running execution are deleted.
CREATE TABLE IF NOT EXISTS step_log (
    id INTEGER PRIMARY KEY,
    execution_no INTEGER NOT NULL,
    records TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signals (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_by_execution ON signals (execution_id, created_at);
-- Installed plugin versions: component bytes, manifest (JSON), the actions they
-- implement and the operator's grants (JSON arrays), limit overrides (JSON).
CREATE TABLE IF NOT EXISTS plugins (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    manifest TEXT NOT NULL,
    actions TEXT NOT NULL,
    grants TEXT NOT NULL,
    limits TEXT,
    builtin INTEGER NOT NULL,
    installed_at TEXT NOT NULL,
    -- The name of the trusted key that signed it, when it was signed.
    signed_by TEXT,
    wasm BLOB NOT NULL,
    PRIMARY KEY (name, version)
);
-- Public keys whose plugin signatures the operator trusts.
CREATE TABLE IF NOT EXISTS trusted_keys (
    name TEXT PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    added_at TEXT NOT NULL
);
-- Admin API tokens: only the sha256 of each token is kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
";

/// The schema version this Bosun writes and reads (`PRAGMA user_version`).
const VERSION: i64 = 2;

/// Schema version 1 kept each execution's document in its `executions` row.
const FROM_1: &str = "
CREATE TABLE execution_documents (
    execution_no INTEGER PRIMARY KEY REFERENCES executions (no) ON DELETE CASCADE,
    document TEXT NOT NULL
);
INSERT INTO execution_documents (execution_no, document) SELECT no, document FROM executions;
ALTER TABLE executions DROP COLUMN document;
";

pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version = user_version(conn)?;
    if version > VERSION {
        return Err(StoreError(format!("the database has schema version {version}, newer than this Bosun understands ({VERSION})")));
    }
    if version == 1 {
        // One transaction, with the version read again inside it: another process may
        // have moved the database on meanwhile.
        conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_error)?;
        let moved = match user_version(conn) {
            Ok(1) => {
                conn.execute_batch(FROM_1).and_then(|()| conn.execute_batch(&format!("PRAGMA user_version = {VERSION}"))).map_err(sql_error)
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match moved {
            Ok(()) => conn.execute_batch("COMMIT").map_err(sql_error)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(StoreError(format!("cannot move the database from schema version 1 to {VERSION}: {e}")));
            }
        }
    }
    // Creating what exists already writes nothing; setting user_version always
    // writes, so it is set only once, and opening a current database changes nothing.
    conn.execute_batch(SCHEMA).map_err(sql_error)?;
    if version < 1 {
        conn.execute_batch(&format!("PRAGMA user_version = {VERSION}")).map_err(sql_error)?;
    }
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql_error)
}
