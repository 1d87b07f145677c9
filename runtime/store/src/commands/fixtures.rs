//! Test fixtures for Run Command records: a command to send and a dispatcher move,
//! shared by the tests of every module that builds on commands.

use bosun_protocol::Limit;

use super::{Advance, NewCommand};
use crate::timestamp;

/// A shell-script command to `nodes`, requested now, with SSM's default limits.
pub(crate) fn new_command(id: &str, nodes: &[&str]) -> NewCommand {
    NewCommand {
        id: id.into(),
        document_name: "AWS-RunShellScript".into(),
        document_version: Some(1),
        document: "{}".into(),
        parameters: "{}".into(),
        targets: "[]".into(),
        max_concurrency: "50".into(),
        max_errors: "0".into(),
        timeout_seconds: 3600,
        delivery_timeout_seconds: 3600,
        comment: String::new(),
        requested_by: "ops".into(),
        requested_at: timestamp(chrono::Utc::now()),
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        undeliverable: Vec::new(),
    }
}

/// A dispatcher move of command `no` now, with the default limits and no timeout passed.
pub(crate) fn advance_now(no: i64) -> Advance {
    Advance {
        command_no: no,
        max_concurrency: Limit::DEFAULT_CONCURRENCY,
        max_errors: Limit::DEFAULT_ERRORS,
        now: timestamp(chrono::Utc::now()),
        delivery_expired: false,
        started_before: "0000".into(),
        unreachable_before: "0000".into(),
    }
}
