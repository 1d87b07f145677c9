//! What the engine persists: executions, step executions and signals, and the
//! changes it commits as one transaction per transition.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::status::{ExecutionStatus, StepStatus};

/// The document an execution runs, as it was when the execution started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentSnapshot {
    pub name: String,
    pub version: Option<String>,
    /// The file name the text came from; its extension picks the format.
    pub file_name: String,
    pub text: String,
}

/// One Automation execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub id: String,
    pub document_name: String,
    pub document_version: Option<String>,
    pub status: ExecutionStatus,
    /// Parameter values after coercion and defaults.
    pub parameters: Map<String, Value>,
    /// Step name -> response returned instead of running the step's action.
    pub mocks: Map<String, Value>,
    /// Document-level outputs, `Step.Output` -> value.
    pub outputs: Map<String, Value>,
    pub failure_message: Option<String>,
    /// The execution and step sequence number that started this one (aws:executeAutomation).
    pub parent: Option<ParentRef>,
    /// The API token that started the execution: `{{ ssm:... }}` references are read
    /// with its permissions. None: the operator of the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    pub execution_id: String,
    pub step_seq: u32,
}

/// An approver's decision on an aws:approve step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approver: String,
    pub approved: bool,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// One run of one step. Stored as JSON without its empty fields. A step that runs again (a retry is the same record with a
/// higher attempt; a jump back through nextStep is a new record) has a new sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub execution_id: String,
    /// Position in the execution's history, from 0.
    pub seq: u32,
    pub name: String,
    pub action: String,
    pub status: StepStatus,
    pub attempt: u32,
    /// Inputs after interpolation; null until interpolated.
    pub inputs: Value,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// aws:sleep: when the step wakes up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<DateTime<Utc>>,
    /// aws:executeAutomation: the child execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_execution_id: Option<String>,
    /// aws:approve: decisions so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<Decision>,
    /// How many times the step was started again after the engine restarted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumed: u32,
    /// For a step inside an aws:loop: the loop's iteration it ran in (from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a signal asks of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalKind {
    Approve,
    Reject,
    Resume,
    Cancel,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Approve => "Approve",
            SignalKind::Reject => "Reject",
            SignalKind::Resume => "Resume",
            SignalKind::Cancel => "Cancel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approve, Self::Reject, Self::Resume, Self::Cancel].into_iter().find(|k| k.as_str() == s)
    }
}

/// A request from an operator to a running execution, kept until the engine acts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRecord {
    pub id: String,
    pub execution_id: String,
    pub kind: SignalKind,
    pub actor: String,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    /// For Approve, Reject and Resume: the step run (its `seq`) the signal was sent to.
    /// Once that run has ended the signal no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_seq: Option<u32>,
}

/// One change; a transition commits a list of them in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateExecution {
        record: ExecutionRecord,
        document: DocumentSnapshot,
    },
    /// A change of an execution that has not ended (its status is not terminal).
    UpdateExecution(ExecutionRecord),
    /// The end of an execution: its record with a terminal status and its whole step
    /// history, which the store may keep in a compact form from now on.
    EndExecution {
        record: ExecutionRecord,
        steps: Vec<StepRecord>,
    },
    PutStep(StepRecord),
    AddSignal(SignalRecord),
    ConsumeSignal {
        id: String,
    },
}

/// An execution as loaded from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExecution {
    pub record: ExecutionRecord,
    pub document: DocumentSnapshot,
    /// In sequence order.
    pub steps: Vec<StepRecord>,
}
