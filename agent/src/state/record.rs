//! One in-flight invocation as kept on disk (`inflight/<id>.json`): the
//! assignment, how far it got, and, once it ended, the report still to be
//! acknowledged.

use bosun_protocol::agent::{Assignment, InvocationReport};
use serde::{Deserialize, Serialize};

use crate::exec::Resume;

/// How far an invocation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Stored; nothing ran yet.
    Received,
    /// Steps are running (or were, when the agent stopped).
    Running,
    /// A step asked for a reboot; it runs again when the agent starts.
    RebootPending,
    /// Ended; the report is being delivered.
    Reporting,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InflightRecord {
    pub assignment: Assignment,
    pub phase: Phase,
    /// Where to resume after a reboot.
    #[serde(default)]
    pub resume: Option<Resume>,
    /// Reboots asked for so far.
    #[serde(default)]
    pub reboots: u32,
    /// Execution time used before the reboots, counted against the timeout.
    #[serde(default)]
    pub elapsed_seconds: u64,
    /// The final report, once the invocation ended.
    #[serde(default)]
    pub report: Option<InvocationReport>,
}

impl InflightRecord {
    pub fn new(assignment: Assignment) -> Self {
        Self { assignment, phase: Phase::Received, resume: None, reboots: 0, elapsed_seconds: 0, report: None }
    }

    pub fn id(&self) -> &str {
        &self.assignment.invocation_id
    }
}
