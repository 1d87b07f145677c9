//! Transition events, broadcast as they are committed (for `--trace` and live progress).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::record::{ExecutionRecord, StepRecord};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    pub execution_id: String,
    pub at: DateTime<Utc>,
    /// The step, or None for the execution itself.
    pub step: Option<String>,
    pub seq: Option<u32>,
    pub action: Option<String>,
    pub attempt: Option<u32>,
    pub status: String,
    /// Interpolated inputs when a step starts.
    pub inputs: Option<Value>,
    pub message: Option<String>,
}

impl TraceEvent {
    pub fn step(step: &StepRecord, with_inputs: bool) -> Self {
        Self {
            execution_id: step.execution_id.clone(),
            at: Utc::now(),
            step: Some(step.name.clone()),
            seq: Some(step.seq),
            action: Some(step.action.clone()),
            attempt: Some(step.attempt),
            status: step.status.to_string(),
            inputs: with_inputs.then(|| step.inputs.clone()),
            message: step.failure_message.clone(),
        }
    }

    pub fn execution(record: &ExecutionRecord) -> Self {
        Self {
            execution_id: record.id.clone(),
            at: Utc::now(),
            step: None,
            seq: None,
            action: None,
            attempt: None,
            status: record.status.to_string(),
            inputs: None,
            message: record.failure_message.clone(),
        }
    }
}
