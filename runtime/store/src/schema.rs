//! Connection settings (WAL, durability), the schema, and the move of older
//! databases to the current schema version.

use std::path::Path;
use std::time::Duration;

use bosun_engine::StoreError;
use rusqlite::Connection;

use crate::sql_error;
use crate::writer::Durability;

/// WAL pages (4 KiB each) after which a commit copies the WAL back into the database.
const WAL_CHECKPOINT_PAGES: u32 = 4000;

pub(crate) fn connect(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(sql_error)?;
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    // A checkpoint every WAL_CHECKPOINT_PAGES instead of SQLite's 1,000: the pages a
    // stream of small commits rewrites (the tail of a table, an index leaf) are then
    // copied back to the database once for many commits instead of once for few. The
    // store's write connection replaces this with the checkpointer's hook.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES};"
    ))
    .map_err(sql_error)?;
    // Plans that do not depend on bound values: otherwise a cached statement whose plan
    // looked at a bound value is prepared again each time the cache clears its bindings.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(sql_error)?;
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
-- Hybrid activations: only the sha256 of each code is kept.
CREATE TABLE IF NOT EXISTS activations (
    id TEXT PRIMARY KEY,
    code_hash BLOB NOT NULL UNIQUE,
    description TEXT NOT NULL,
    -- The tags its nodes get (a JSON object).
    tags TEXT NOT NULL,
    registration_limit INTEGER NOT NULL,
    registrations_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- Registered nodes: only the sha256 of each node credential is kept.
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    credential_hash BLOB NOT NULL UNIQUE,
    activation_id TEXT NOT NULL,
    -- The platform the agent reported (a JSON object).
    platform TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    last_seen TEXT,
    deregistered_at TEXT
);
CREATE TABLE IF NOT EXISTS node_tags (
    node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (node_id, key)
);
CREATE INDEX IF NOT EXISTS node_tags_by_value ON node_tags (key, value);
-- Resource groups: a tag query (a JSON object of key to the values allowed).
CREATE TABLE IF NOT EXISTS resource_groups (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Run Command: one row per command; the document sent (JSON: the document text and
-- the documents it includes) and the parameters are kept with it.
CREATE TABLE IF NOT EXISTS commands (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_name TEXT NOT NULL,
    document_version INTEGER,
    document TEXT NOT NULL,
    parameters TEXT NOT NULL,
    targets TEXT NOT NULL,
    max_concurrency TEXT NOT NULL,
    max_errors TEXT NOT NULL,
    timeout_seconds INTEGER NOT NULL,
    delivery_timeout_seconds INTEGER NOT NULL,
    comment TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status TEXT NOT NULL,
    completed_at TEXT,
    -- The completion notification (the --command-webhook): when it ended, and how
    -- (Delivered, GaveUp, NoWebhook); NULL while it is due or the command runs.
    notified_at TEXT,
    notify_outcome TEXT
);
CREATE INDEX IF NOT EXISTS commands_by_status ON commands (status);
CREATE INDEX IF NOT EXISTS commands_to_notify ON commands (no) WHERE notified_at IS NULL;
-- One row per command and node, in dispatch order (seq).
CREATE TABLE IF NOT EXISTS invocations (
    id TEXT PRIMARY KEY,
    command_no INTEGER NOT NULL REFERENCES commands (no) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    stdout TEXT NOT NULL DEFAULT '',
    stderr TEXT NOT NULL DEFAULT '',
    -- The step reports (a JSON array), once ended.
    steps TEXT,
    -- Made available to the node; sent to it in a poll; acknowledged by it; ended.
    dispatched_at TEXT,
    delivered_at TEXT,
    started_at TEXT,
    ended_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS invocations_by_command ON invocations (command_no, seq);
-- Counting a command's invocations by status, and finding the next to dispatch.
CREATE INDEX IF NOT EXISTS invocations_by_command_status ON invocations (command_no, status, dispatched_at);
CREATE INDEX IF NOT EXISTS invocations_by_node ON invocations (node_id, status);
";

/// The schema in parts: the tables above, and those each feature module keeps beside
/// its code. Every part creates only what does not exist yet.
const PARTS: &[&str] = &[
    SCHEMA,
    crate::events::SCHEMA,
    crate::events::hooks::SCHEMA,
    crate::events::rules::SCHEMA,
    crate::events::deliveries::SCHEMA,
    crate::events::opsitems::SCHEMA,
    crate::events::audit::SCHEMA,
    crate::events::presence::SCHEMA,
    crate::params::SCHEMA,
    crate::associations::SCHEMA,
    crate::windows::SCHEMA,
    crate::inventory::SCHEMA,
    crate::sessions::SCHEMA,
    crate::packages::SCHEMA,
    crate::patches::SCHEMA,
    crate::token_cache::SCHEMA,
];

/// The schema version this Bosun writes and reads (`PRAGMA user_version`).
const VERSION: i64 = 3;

// Versions 3 and later only added tables: creating the schema moves an older database
// on. A version is needed only when existing tables change.

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
    for part in PARTS {
        conn.execute_batch(part).map_err(sql_error)?;
    }
    if version < VERSION {
        conn.execute_batch(&format!("PRAGMA user_version = {VERSION}")).map_err(sql_error)?;
    }
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql_error)
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    /// How often a cached statement was prepared again over three uses.
    fn reprepared(conn: &rusqlite::Connection) -> i32 {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS t_by_k ON t (k);
             INSERT INTO t (k, v) VALUES ('a', 'x');",
        )
        .unwrap();
        // The planner weighs a plan that does not use `k = ?1` (a scan in `v` order):
        // without the stability guarantee it looks at the bound value for it, and the
        // cache's clearing of the bindings then expires the statement.
        let sql = "SELECT v FROM t WHERE k = ?1 ORDER BY v";
        for _ in 0..3 {
            let found: String = conn.prepare_cached(sql).unwrap().query_row(["a"], |r| r.get(0)).unwrap();
            assert_eq!(found, "x");
        }
        conn.prepare_cached(sql).unwrap().get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn cached_statements_are_not_prepared_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        assert!(reprepared(&rusqlite::Connection::open(&path).unwrap()) > 0, "SQLite's default re-plans");
        assert_eq!(reprepared(&super::connect(&path, super::Durability::Normal).unwrap()), 0);
    }
}
