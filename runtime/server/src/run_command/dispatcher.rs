//! The dispatcher: one task that moves every unfinished command on — when a command
//! is sent, when a node reports, and once a second for the timeouts — and wakes
//! the nodes whose work it dispatched. Its state is the store's, so after a restart
//! (even `kill -9`) it picks up where the store says.

use std::sync::Arc;
use std::time::Duration;

use bosun_protocol::{CommandStatus, Limit};
use bosun_store::{Advance, CommandRecord, timestamp};
use chrono::{DateTime, Utc};

use super::RunCommand;

/// How long after its execution timeout a running invocation is timed out by the
/// server, when its node has not reported it (the node times it out itself first).
pub const EXECUTION_GRACE: Duration = Duration::from_secs(30);
/// How often timeouts are checked.
const TICK: Duration = Duration::from_secs(1);

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// The move of one command at `now`; nodes silent for `heartbeat_gap` count as unreachable.
pub fn advance_for(record: &CommandRecord, now: DateTime<Utc>, heartbeat_gap: Duration) -> Advance {
    let requested = parse_time(&record.requested_at).unwrap_or(now);
    let delivery = chrono::Duration::seconds(record.delivery_timeout_seconds as i64);
    let execution =
        chrono::Duration::seconds(record.timeout_seconds as i64) + chrono::Duration::from_std(EXECUTION_GRACE).unwrap_or_default();
    Advance {
        command_no: record.no,
        max_concurrency: Limit::parse(&record.max_concurrency).unwrap_or(Limit::DEFAULT_CONCURRENCY),
        max_errors: Limit::parse(&record.max_errors).unwrap_or(Limit::DEFAULT_ERRORS),
        now: timestamp(now),
        delivery_expired: now >= requested + delivery,
        started_before: timestamp(now - execution),
        unreachable_before: timestamp(now - chrono::Duration::from_std(heartbeat_gap).unwrap_or_default()),
    }
}

impl RunCommand {
    /// Moves every unfinished command on until `stop` resolves.
    pub async fn dispatch_until(self: Arc<Self>, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(error) = self.advance_all().await {
                tracing::warn!(%error, "the dispatcher cannot move commands on; trying again");
            }
            tokio::select! {
                () = &mut stop => return,
                () = self.dispatcher_wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    async fn advance_all(&self) -> Result<(), bosun_engine::StoreError> {
        let unfinished = tokio::task::block_in_place(|| self.store.unfinished_commands())?;
        for record in unfinished {
            let advanced = self.store.advance_command(advance_for(&record, Utc::now(), self.heartbeat_gap())).await?;
            for (_, node) in &advanced.dispatched {
                self.waker.wake(node);
            }
            if advanced.changed {
                tracing::info!(command = %record.id, status = %advanced.status, "command status");
                if CommandStatus::parse(&advanced.status).is_some_and(CommandStatus::is_terminal) {
                    self.poke_notifier();
                }
            }
        }
        Ok(())
    }
}
