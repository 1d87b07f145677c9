//! Completion notifications of Run Command: the ended commands whose notification
//! is still due (`notified_at` NULL), and recording how a notification ended, so
//! that what was due before a restart is sent after it and nothing is sent forever.

use rusqlite::params;

use bosun_engine::StoreError;

use crate::Store;

/// An ended command whose completion notification is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotification {
    pub command_no: i64,
    pub command_id: String,
    pub status: String,
    pub completed_at: Option<String>,
}

/// How a command's completion notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// The webhook answered 2xx.
    Delivered,
    /// The webhook kept failing for as long as deliveries are tried.
    GaveUp,
    /// No webhook was configured when the command ended.
    NoWebhook,
}

impl NotifyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "Delivered",
            Self::GaveUp => "GaveUp",
            Self::NoWebhook => "NoWebhook",
        }
    }
}

impl Store {
    /// The ended commands whose completion notification is due, oldest first.
    pub fn due_notifications(&self) -> Result<Vec<DueNotification>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT no, id, status, completed_at FROM commands \
                 WHERE notified_at IS NULL AND status IN ('Success', 'Failed', 'TimedOut', 'Cancelled') ORDER BY no",
            )?;
            statement
                .query_map([], |r| {
                    Ok(DueNotification { command_no: r.get(0)?, command_id: r.get(1)?, status: r.get(2)?, completed_at: r.get(3)? })
                })?
                .collect()
        })
    }

    /// Records that a command's completion notification ended at `at`, and how.
    /// False when it had ended already (or there is no such command).
    pub async fn mark_notified(&self, command_no: i64, outcome: NotifyOutcome, at: &str) -> Result<bool, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let at = at.to_string();
        self.writer
            .run_async(Box::new(move |conn| {
                let changed = conn
                    .prepare_cached("UPDATE commands SET notified_at = ?2, notify_outcome = ?3 WHERE no = ?1 AND notified_at IS NULL")
                    .and_then(|mut s| s.execute(params![command_no, at, outcome.as_str()]))
                    .map_err(crate::sql_error)?;
                let _ = tx.send(changed > 0);
                Ok(())
            }))
            .await?;
        Ok(rx.try_iter().last().unwrap_or(false))
    }

    /// How a command's completion notification ended and when, once it has.
    pub fn notification(&self, command_id: &str) -> Result<Option<(String, String)>, StoreError> {
        use rusqlite::OptionalExtension as _;
        self.read(|conn| {
            conn.prepare_cached("SELECT notify_outcome, notified_at FROM commands WHERE id = ?1 AND notified_at IS NOT NULL")?
                .query_row([command_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::fixtures::{advance_now as advance, new_command as command};
    use crate::{Report, timestamp};

    #[tokio::test(flavor = "multi_thread")]
    async fn ended_commands_are_due_until_marked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::Durability::Normal).unwrap();
        // No nodes: Failed at once, and due at once.
        let failed = store.create_command(command("cmd-none", &[])).unwrap();
        let running = store.create_command(command("cmd-one", &["mi-1"])).unwrap();
        store.advance_command(advance(running)).await.unwrap();
        let due = store.due_notifications().unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!((due[0].command_no, due[0].command_id.as_str(), due[0].status.as_str()), (failed, "cmd-none", "Failed"));
        assert!(due[0].completed_at.is_some());

        // The running one ends: due too, after the first.
        let report =
            Report { status: "Success".into(), exit_code: Some(0), stdout: String::new(), stderr: String::new(), steps: "[]".into() };
        store.record_report("mi-1", &crate::invocation_id("cmd-one", "mi-1"), report, &timestamp(chrono::Utc::now())).await.unwrap();
        assert_eq!(store.advance_command(advance(running)).await.unwrap().status, "Success");
        let due: Vec<_> = store.due_notifications().unwrap().into_iter().map(|d| d.command_id).collect();
        assert_eq!(due, ["cmd-none", "cmd-one"]);

        assert_eq!(store.notification("cmd-none").unwrap(), None);
        assert!(store.mark_notified(failed, NotifyOutcome::GaveUp, "2024-01-01T00:00:00.000Z").await.unwrap());
        assert!(!store.mark_notified(failed, NotifyOutcome::Delivered, "2024-01-02T00:00:00.000Z").await.unwrap(), "marked once");
        assert!(store.mark_notified(running, NotifyOutcome::Delivered, "2024-01-03T00:00:00.000Z").await.unwrap());
        assert!(store.due_notifications().unwrap().is_empty());
        assert_eq!(store.notification("cmd-none").unwrap(), Some(("GaveUp".into(), "2024-01-01T00:00:00.000Z".into())));
        assert_eq!(store.notification("cmd-one").unwrap(), Some(("Delivered".into(), "2024-01-03T00:00:00.000Z".into())));
    }
}
