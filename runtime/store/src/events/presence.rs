//! Node online/offline events: the ping status of a node (Online, ConnectionLost,
//! Inactive) is derived from its last contact, so nothing is written when a node
//! falls silent. A sweep compares each node's status now with the last one it
//! reported and, in one transaction, records the new ones and emits a `bosun.node`
//! "Node Status Change" event for each change.

use std::time::Duration;

use bosun_engine::StoreError;
use rusqlite::params;
use serde_json::json;

use super::{NewEvent, append};
use crate::fleet::ping_status;
use crate::{Store, sql_error};

pub(crate) const SCHEMA: &str = "
-- The ping status each node was last reported in (by a `bosun.node` event).
CREATE TABLE IF NOT EXISTS node_presence (
    node_id TEXT PRIMARY KEY,
    status TEXT NOT NULL
);
";

impl Store {
    /// Emits an event for each node whose ping status changed since the last sweep; returns how many.
    pub async fn sweep_node_presence(&self, heartbeat_gap: Duration) -> Result<usize, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let now = chrono::Utc::now();
                let rows: Vec<(String, Option<String>, bool, Option<String>)> = conn
                    .prepare_cached(
                        "SELECT n.id, n.last_seen, n.deregistered_at IS NOT NULL, p.status FROM nodes n LEFT JOIN node_presence p ON p.node_id = n.id",
                    )
                    .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect())
                    .map_err(sql_error)?;
                let mut changed = 0;
                for (node, last_seen, deregistered, reported) in rows {
                    let status = ping_status(last_seen.as_deref(), deregistered, heartbeat_gap, now).to_string();
                    if reported.as_deref() == Some(status.as_str()) {
                        continue;
                    }
                    conn.prepare_cached("INSERT INTO node_presence (node_id, status) VALUES (?1, ?2) ON CONFLICT (node_id) DO UPDATE SET status = excluded.status")
                        .and_then(|mut s| s.execute(params![node, status]))
                        .map_err(sql_error)?;
                    let detail = json!({"instance-id": node, "status": status, "previous-status": reported});
                    append(conn, &NewEvent { source: "bosun.node".into(), detail_type: "Node Status Change".into(), resources: vec![format!("node/{node}")], detail })?;
                    changed += 1;
                }
                let _ = tx.send(changed);
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last().unwrap_or(0))
    }
}
