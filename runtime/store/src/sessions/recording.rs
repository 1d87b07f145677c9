//! A session's recorded output: chunks with the milliseconds since the session
//! started, appended in batches, capped per session (past the cap the session is
//! marked truncated and the rest is not kept).

use bosun_engine::StoreError;
use rusqlite::{OptionalExtension, params};

use super::read_session;
use crate::{Store, sql_error};
use bosun_protocol::session::SessionView;

/// One piece of output as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedChunk {
    pub at_ms: u64,
    pub data: Vec<u8>,
}

/// A session with its terminal size and its recorded output.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub session: SessionView,
    pub rows: u16,
    pub cols: u16,
    pub chunks: Vec<RecordedChunk>,
}

impl Store {
    /// Appends output chunks to a session's recording, keeping at most `max_bytes`
    /// in all; whether everything given was kept.
    pub async fn record_session_output(&self, id: &str, chunks: Vec<RecordedChunk>, max_bytes: u64) -> Result<bool, StoreError> {
        let id = id.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let (recorded, next): (i64, i64) = conn
                    .prepare_cached(
                        "SELECT recorded_bytes, (SELECT COALESCE(MAX(seq), -1) + 1 FROM session_output WHERE session_id = ?1)
                         FROM sessions WHERE id = ?1",
                    )
                    .and_then(|mut s| s.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                    .map_err(sql_error)?
                    .ok_or_else(|| StoreError(format!("no session {id}")))?;
                let mut room = max_bytes.saturating_sub(recorded as u64);
                let (mut seq, mut added, mut cut) = (next, 0u64, false);
                let mut insert = conn
                    .prepare_cached("INSERT INTO session_output (session_id, seq, at_ms, data) VALUES (?1, ?2, ?3, ?4)")
                    .map_err(sql_error)?;
                for chunk in &chunks {
                    let keep = chunk.data.len().min(room as usize);
                    if keep < chunk.data.len() {
                        cut = true;
                    }
                    if keep == 0 {
                        continue;
                    }
                    insert.execute(params![id, seq, chunk.at_ms as i64, &chunk.data[..keep]]).map_err(sql_error)?;
                    seq += 1;
                    added += keep as u64;
                    room -= keep as u64;
                }
                conn.execute(
                    "UPDATE sessions SET recorded_bytes = recorded_bytes + ?2, truncated = truncated OR ?3 WHERE id = ?1",
                    params![id, added as i64, cut],
                )
                .map_err(sql_error)?;
                let _ = tx.send(!cut);
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last().unwrap_or(false))
    }

    /// A session with its terminal size and its recorded output, in order.
    pub fn session_recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        self.read(|conn| {
            let Some(session) = read_session(conn, id)? else { return Ok(None) };
            let (rows, cols): (u16, u16) =
                conn.prepare_cached("SELECT rows, cols FROM sessions WHERE id = ?1")?.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let chunks = conn
                .prepare_cached("SELECT at_ms, data FROM session_output WHERE session_id = ?1 ORDER BY seq")?
                .query_map([id], |r| Ok(RecordedChunk { at_ms: r.get::<_, i64>(0)? as u64, data: r.get(1)? }))?
                .collect::<Result<_, _>>()?;
            Ok(Some(Recording { session, rows, cols, chunks }))
        })
    }
}
