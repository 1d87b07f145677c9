//! The audit trail: who (principal) did what, when, from where, with what outcome,
//! for every state-changing API call and every execution start. Append-only: the
//! table refuses updates and deletes.

use bosun_engine::StoreError;
use bosun_protocol::events::AuditEntry;
use rusqlite::{Connection, params};

use crate::{Store, now, sql_error};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    principal TEXT NOT NULL,
    action TEXT NOT NULL,
    source_address TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_principal ON audit (principal, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
";

/// What to record.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub principal: String,
    pub action: String,
    pub source_address: String,
    pub outcome: String,
}

/// Appends a row within the caller's transaction.
pub(crate) fn append_audit(conn: &Connection, entry: &NewAudit) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (time, principal, action, source_address, outcome) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![now(), entry.principal, entry.action, entry.source_address, entry.outcome]))
        .map(|_| ())
        .map_err(sql_error)
}

impl Store {
    /// Appends a row to the audit trail.
    pub async fn record_audit(&self, entry: NewAudit) -> Result<(), StoreError> {
        self.writer.run_async(Box::new(move |conn| append_audit(conn, &entry))).await
    }

    /// Audit rows, oldest first, optionally of one principal and from a time on.
    pub fn list_audit(&self, principal: Option<&str>, since: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT seq, time, principal, action, source_address, outcome FROM audit
                 WHERE (?1 IS NULL OR principal = ?1) AND (?2 IS NULL OR time >= ?2) ORDER BY seq DESC LIMIT ?3",
            )?;
            let mut rows: Vec<AuditEntry> = statement
                .query_map(params![principal, since, limit as i64], |r| {
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        time: r.get(1)?,
                        principal: r.get(2)?,
                        action: r.get(3)?,
                        source_address: r.get(4)?,
                        outcome: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            rows.reverse();
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durability;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_trail_is_append_only_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        for principal in ["alice", "bob", "alice"] {
            let entry = NewAudit {
                principal: principal.into(),
                action: "POST /v1/rules".into(),
                source_address: "127.0.0.1".into(),
                outcome: "201".into(),
            };
            store.record_audit(entry).await.unwrap();
        }
        assert_eq!(store.list_audit(None, None, 10).unwrap().len(), 3);
        let alice = store.list_audit(Some("alice"), None, 10).unwrap();
        assert_eq!(alice.len(), 2);
        assert!(alice[0].seq < alice[1].seq);
        assert!(store.list_audit(None, Some("9999"), 10).unwrap().is_empty());
        let refused = store.writer.run_blocking(Box::new(|conn| conn.execute("DELETE FROM audit", []).map(|_| ()).map_err(sql_error)));
        assert!(refused.unwrap_err().0.contains("append-only"));
        let refused =
            store.writer.run_blocking(Box::new(|conn| conn.execute("UPDATE audit SET principal = 'x'", []).map(|_| ()).map_err(sql_error)));
        assert!(refused.is_err());
        assert_eq!(store.list_audit(None, None, 10).unwrap().len(), 3);
    }
}
