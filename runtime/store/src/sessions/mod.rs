//! Session Manager's records: one row per session (who opened it to which node,
//! what it ran, when it connected and ended, how, with what exit code), its
//! recorded output (`recording.rs`), the tag conditions of tokens (`access.rs`)
//! and the server's session preferences (`preferences.rs`). A session's start and
//! end each commit with an audit row and a `bosun.session` event.

mod access;
mod preferences;
mod recording;

use bosun_engine::StoreError;
use bosun_protocol::session::SessionView;
use rusqlite::{Connection, OptionalExtension, params};

use crate::events::audit::{NewAudit, append_audit};
use crate::events::{NewEvent, append};
use crate::{Store, now, sql_error};

pub use access::{SessionScopes, TagCondition};
pub use recording::{RecordedChunk, Recording};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    document TEXT NOT NULL,
    status TEXT NOT NULL,
    run_as TEXT,
    rows INTEGER NOT NULL,
    cols INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    connected_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    reason TEXT,
    recorded_bytes INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions (started_at);
CREATE TABLE IF NOT EXISTS session_output (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_scopes (
    token TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    PRIMARY KEY (token, tag_key, pattern)
);
CREATE TABLE IF NOT EXISTS session_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    preferences TEXT NOT NULL
);
";

/// The statuses of a session, as SSM names them.
pub const CONNECTING: &str = "Connecting";
pub const CONNECTED: &str = "Connected";
pub const TERMINATED: &str = "Terminated";
pub const FAILED: &str = "Failed";

/// The event source of sessions.
const SOURCE: &str = "bosun.session";

/// A session to record as it opens.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub node_id: String,
    pub owner: String,
    pub document: String,
    pub run_as: String,
    pub rows: u16,
    pub cols: u16,
    /// Where the request came from, for the audit trail.
    pub source_address: String,
}

/// How a session ended.
#[derive(Debug, Clone)]
pub struct SessionEnd {
    /// [`TERMINATED`] or [`FAILED`].
    pub status: &'static str,
    pub exit_code: Option<i32>,
    pub reason: String,
}

const COLUMNS: &str =
    "id, node_id, owner, document, status, started_at, ended_at, exit_code, reason, run_as, recorded_bytes, truncated, rows, cols";

fn view_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionView> {
    Ok(SessionView {
        session_id: r.get(0)?,
        target: r.get(1)?,
        owner: r.get(2)?,
        document: r.get(3)?,
        status: r.get(4)?,
        started_at: r.get(5)?,
        ended_at: r.get(6)?,
        exit_code: r.get(7)?,
        reason: r.get(8)?,
        run_as: r.get(9)?,
        recorded_bytes: r.get::<_, i64>(10)? as u64,
        truncated: r.get::<_, i64>(11)? != 0,
    })
}

fn read_session(conn: &Connection, id: &str) -> rusqlite::Result<Option<SessionView>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"))?.query_row([id], view_row).optional()
}

fn event(detail_type: &str, view: &SessionView) -> NewEvent {
    NewEvent {
        source: SOURCE.into(),
        detail_type: detail_type.into(),
        resources: vec![format!("session/{}", view.session_id), format!("node/{}", view.target)],
        detail: serde_json::json!({
            "sessionId": view.session_id,
            "target": view.target,
            "owner": view.owner,
            "document": view.document,
            "status": view.status,
            "exitCode": view.exit_code,
            "reason": view.reason,
        }),
    }
}

impl Store {
    /// Records a new session (Connecting) with its audit row and a "Session Started" event.
    pub async fn create_session(&self, session: NewSession) -> Result<SessionView, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let s = &session;
                conn.execute(
                    "INSERT INTO sessions (id, node_id, owner, document, status, run_as, rows, cols, started_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![s.id, s.node_id, s.owner, s.document, CONNECTING, s.run_as, s.rows, s.cols, now()],
                )
                .map_err(sql_error)?;
                let view = read_session(conn, &s.id).map_err(sql_error)?.ok_or_else(|| StoreError("the session vanished".into()))?;
                append_audit(
                    conn,
                    &NewAudit {
                        principal: s.owner.clone(),
                        action: format!("session start {} on {} ({})", s.id, s.node_id, s.document),
                        source_address: s.source_address.clone(),
                        outcome: "started".into(),
                    },
                )?;
                append(conn, &event("Session Started", &view))?;
                let _ = tx.send(view);
                Ok(())
            }))
            .await?;
        rx.try_iter().last().ok_or_else(|| StoreError("the session was not stored".into()))
    }

    /// Marks a session Connected (both ends are attached); false when it is not Connecting.
    pub async fn session_connected(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE sessions SET status = ?2, connected_at = ?3 WHERE id = ?1 AND status = ?4",
                        params![id, CONNECTED, now(), CONNECTING],
                    )
                    .map_err(sql_error)?;
                let _ = tx.send(changed > 0);
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last().unwrap_or(false))
    }

    /// Ends a session that has not ended, with its audit row and a "Session Ended"
    /// event; `None` when it had ended already (or does not exist).
    pub async fn end_session(&self, id: &str, end: SessionEnd) -> Result<Option<SessionView>, StoreError> {
        let id = id.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let changed = conn
                    .execute(
                        "UPDATE sessions SET status = ?2, ended_at = ?3, exit_code = ?4, reason = ?5
                         WHERE id = ?1 AND ended_at IS NULL",
                        params![id, end.status, now(), end.exit_code, end.reason],
                    )
                    .map_err(sql_error)?;
                if changed == 0 {
                    return Ok(());
                }
                let view = read_session(conn, &id).map_err(sql_error)?.ok_or_else(|| StoreError("the session vanished".into()))?;
                let exit = view.exit_code.map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}"));
                append_audit(
                    conn,
                    &NewAudit {
                        principal: view.owner.clone(),
                        action: format!("session end {} on {}", view.session_id, view.target),
                        source_address: "-".into(),
                        outcome: format!("{}: {} ({exit})", view.status, view.reason.as_deref().unwrap_or("-")),
                    },
                )?;
                append(conn, &event("Session Ended", &view))?;
                let _ = tx.send(view);
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last())
    }

    /// Ends every session still open, e.g. when the server starts again (their relays are gone).
    pub async fn end_open_sessions(&self, reason: &str) -> Result<usize, StoreError> {
        let open: Vec<String> =
            self.read(|conn| conn.prepare("SELECT id FROM sessions WHERE ended_at IS NULL")?.query_map([], |r| r.get(0))?.collect())?;
        for id in &open {
            self.end_session(id, SessionEnd { status: FAILED, exit_code: None, reason: reason.to_string() }).await?;
        }
        Ok(open.len())
    }

    pub fn get_session(&self, id: &str) -> Result<Option<SessionView>, StoreError> {
        self.read(|conn| read_session(conn, id))
    }

    /// The node a session was opened to, and whether it is still open.
    pub fn session_node(&self, id: &str) -> Result<Option<(String, bool)>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT node_id, ended_at IS NULL FROM sessions WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }

    /// The latest sessions first, optionally of one node or with one status.
    pub fn list_sessions(&self, node: Option<&str>, status: Option<&str>, limit: usize) -> Result<Vec<SessionView>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM sessions WHERE (?1 IS NULL OR node_id = ?1) AND (?2 IS NULL OR status = ?2)
                 ORDER BY started_at DESC, id LIMIT ?3"
            ))?
            .query_map(params![node, status, limit as i64], view_row)?
            .collect()
        })
    }
}

#[cfg(test)]
mod tests;
