//! The dispatcher's rules, applied to one command in one transaction: time out what
//! waited too long, stop dispatching once errors exceed MaxErrors (the undispatched
//! become Terminated), dispatch up to MaxConcurrency, and derive the command's
//! status from its invocations'. SSM's semantics: only Failed and ExecutionTimedOut
//! count as errors; invocations already dispatched finish.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use bosun_engine::StoreError;
use bosun_protocol::Limit;

use crate::{Store, sql_error};

/// What to apply to one command now.
#[derive(Debug, Clone)]
pub struct Advance {
    pub command_no: i64,
    pub max_concurrency: Limit,
    pub max_errors: Limit,
    /// The time of this move, as the store writes times.
    pub now: String,
    /// The delivery timeout has passed: what has not started will not.
    pub delivery_expired: bool,
    /// Invocations started before this time have run past their execution timeout
    /// (and the agent's own report of it, with a grace period).
    pub started_before: String,
    /// Nodes not seen since this time are not reachable: what is dispatched to them and
    /// not yet delivered is Delayed (delivery goes on when they come back).
    pub unreachable_before: String,
}

/// What the move did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advanced {
    /// The invocations made available to their nodes: `(invocation id, node id)`.
    pub dispatched: Vec<(String, String)>,
    /// The command's status after the move.
    pub status: String,
    /// Whether the status changed with this move.
    pub changed: bool,
}

/// How many to dispatch and whether to stop, from a command's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub dispatch: usize,
    /// Errors exceed MaxErrors: the undispatched invocations become Terminated.
    pub stop: bool,
}

/// The rule: stop once errors exceed MaxErrors; otherwise fill the free places up to MaxConcurrency.
pub fn plan(counts: &BTreeMap<String, u32>, undispatched: usize, concurrency: usize, max_errors: usize) -> Plan {
    let count = |s: &str| counts.get(s).copied().unwrap_or(0) as usize;
    let errors = count("Failed") + count("ExecutionTimedOut");
    if errors > max_errors {
        return Plan { dispatch: 0, stop: undispatched > 0 };
    }
    let unfinished = count("Pending") + count("Delayed") + count("InProgress");
    let running = unfinished.saturating_sub(undispatched);
    Plan { dispatch: concurrency.saturating_sub(running).min(undispatched), stop: false }
}

/// A command's status from its invocations' counts.
pub fn command_status(counts: &BTreeMap<String, u32>, cancelling: bool, dispatched_any: bool) -> &'static str {
    let count = |s: &str| counts.get(s).copied().unwrap_or(0);
    let total: u32 = counts.values().sum();
    let unfinished = count("Pending") + count("Delayed") + count("InProgress");
    if unfinished > 0 {
        return if cancelling {
            "Cancelling"
        } else if dispatched_any {
            "InProgress"
        } else {
            "Pending"
        };
    }
    if cancelling {
        "Cancelled"
    } else if total > 0 && count("Success") == total {
        "Success"
    } else if count("Failed") + count("Undeliverable") + count("Terminated") + count("Cancelled") == 0 {
        "TimedOut"
    } else {
        "Failed"
    }
}

pub(crate) fn counts(conn: &Connection, command_no: i64) -> rusqlite::Result<BTreeMap<String, u32>> {
    let mut statement = conn.prepare_cached("SELECT status, count(*) FROM invocations WHERE command_no = ?1 GROUP BY status")?;
    statement.query_map([command_no], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

fn undispatched(conn: &Connection, command_no: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached("SELECT count(*) FROM invocations WHERE command_no = ?1 AND status = 'Pending' AND dispatched_at IS NULL")?
        .query_row([command_no], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

fn apply(conn: &Connection, step: &Advance) -> Result<Advanced, StoreError> {
    let no = step.command_no;
    let current: String = conn
        .prepare_cached("SELECT status FROM commands WHERE no = ?1")
        .and_then(|mut s| s.query_row([no], |r| r.get(0)))
        .map_err(sql_error)?;
    if matches!(current.as_str(), "Success" | "Failed" | "TimedOut" | "Cancelled") {
        return Ok(Advanced { dispatched: Vec::new(), status: current, changed: false });
    }
    if step.delivery_expired {
        conn.prepare_cached(
            "UPDATE invocations SET status = 'DeliveryTimedOut', ended_at = ?2 WHERE command_no = ?1 AND status IN ('Pending', 'Delayed')",
        )
        .and_then(|mut s| s.execute(params![no, step.now]))
        .map_err(sql_error)?;
    }
    conn.prepare_cached(
        "UPDATE invocations SET status = 'ExecutionTimedOut', ended_at = ?2 \
         WHERE command_no = ?1 AND status = 'InProgress' AND started_at < ?3",
    )
    .and_then(|mut s| s.execute(params![no, step.now, step.started_before]))
    .map_err(sql_error)?;

    let cancelling = current == "Cancelling";
    let mut dispatched = Vec::new();
    let waiting = undispatched(conn, no).map_err(sql_error)?;
    let before = counts(conn, no).map_err(sql_error)?;
    let targets = before.values().sum::<u32>() as usize;
    let plan = plan(&before, waiting, step.max_concurrency.concurrency(targets), step.max_errors.errors(targets));
    if plan.stop {
        conn.prepare_cached(
            "UPDATE invocations SET status = 'Terminated', ended_at = ?2 WHERE command_no = ?1 AND status = 'Pending' AND dispatched_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![no, step.now]))
        .map_err(sql_error)?;
    } else if plan.dispatch > 0 && !cancelling {
        let mut statement = conn
            .prepare_cached(
                "UPDATE invocations SET dispatched_at = ?2 WHERE id IN \
                 (SELECT id FROM invocations WHERE command_no = ?1 AND status = 'Pending' AND dispatched_at IS NULL ORDER BY seq LIMIT ?3) \
                 RETURNING id, node_id",
            )
            .map_err(sql_error)?;
        dispatched = statement
            .query_map(params![no, step.now, plan.dispatch as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(sql_error)?;
    }
    conn.prepare_cached(
        "UPDATE invocations SET status = 'Delayed' WHERE command_no = ?1 AND status = 'Pending' \
         AND dispatched_at IS NOT NULL AND delivered_at IS NULL \
         AND node_id IN (SELECT id FROM nodes WHERE last_seen IS NULL OR last_seen < ?2)",
    )
    .and_then(|mut s| s.execute(params![no, step.unreachable_before]))
    .map_err(sql_error)?;
    let waiting_now = waiting - dispatched.len();
    let after = counts(conn, no).map_err(sql_error)?;
    let total: u32 = after.values().sum();
    let status = command_status(&after, cancelling, (total as usize) > waiting_now);
    let changed = status != current;
    if changed {
        let ended = matches!(status, "Success" | "Failed" | "TimedOut" | "Cancelled");
        conn.prepare_cached("UPDATE commands SET status = ?2, completed_at = CASE WHEN ?3 THEN ?4 ELSE completed_at END WHERE no = ?1")
            .and_then(|mut s| s.execute(params![no, status, ended, step.now]))
            .map_err(sql_error)?;
        crate::events::emitted::command_status(conn, no, status)?;
    }
    Ok(Advanced { dispatched, status: status.to_string(), changed })
}

impl Store {
    /// Applies the dispatcher's rules to one command, in one transaction.
    pub async fn advance_command(&self, step: Advance) -> Result<Advanced, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer
            .run_async(Box::new(move |conn| {
                let advanced = apply(conn, &step)?;
                let _ = tx.send(advanced);
                Ok(())
            }))
            .await?;
        rx.try_iter().last().ok_or_else(|| StoreError("the command did not move".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn fills_free_places_up_to_the_concurrency() {
        assert_eq!(plan(&counts(&[("Pending", 10)]), 10, 3, 0), Plan { dispatch: 3, stop: false });
        assert_eq!(plan(&counts(&[("Pending", 8), ("InProgress", 1), ("Success", 1)]), 7, 3, 0), Plan { dispatch: 1, stop: false });
        assert_eq!(plan(&counts(&[("Pending", 3), ("Success", 7)]), 0, 3, 0), Plan { dispatch: 0, stop: false });
    }

    #[test]
    fn stops_when_errors_exceed_max_errors() {
        // 50 targets, MaxErrors 10% = 5: the fifth failure goes on, the sixth stops.
        assert!(!plan(&counts(&[("Failed", 5), ("Pending", 45)]), 40, 5, 5).stop);
        assert!(plan(&counts(&[("Failed", 5), ("ExecutionTimedOut", 1), ("Pending", 44)]), 40, 5, 5).stop);
        // DeliveryTimedOut and Cancelled are not errors.
        assert!(!plan(&counts(&[("DeliveryTimedOut", 3), ("Cancelled", 3), ("Pending", 4)]), 4, 1, 0).stop);
    }

    #[test]
    fn statuses() {
        assert_eq!(command_status(&counts(&[("Pending", 2)]), false, false), "Pending");
        assert_eq!(command_status(&counts(&[("Pending", 1), ("InProgress", 1)]), false, true), "InProgress");
        assert_eq!(command_status(&counts(&[("Success", 2)]), false, true), "Success");
        assert_eq!(command_status(&counts(&[("Success", 1), ("Failed", 1)]), false, true), "Failed");
        assert_eq!(command_status(&counts(&[("Success", 1), ("Terminated", 1)]), false, true), "Failed");
        assert_eq!(command_status(&counts(&[("Success", 1), ("DeliveryTimedOut", 1)]), false, true), "TimedOut");
        assert_eq!(command_status(&counts(&[("InProgress", 1), ("Cancelled", 1)]), true, true), "Cancelling");
        assert_eq!(command_status(&counts(&[("Success", 1), ("Cancelled", 1)]), true, true), "Cancelled");
    }
}
