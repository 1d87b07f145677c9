//! The in-memory state of one execution while a task drives it: the record,
//! the parsed document and the step history, plus the bookkeeping of one
//! transition.

use std::sync::Arc;

use bosun_document::{Document, OnFailure, StepRef};
use serde_json::{Map, Value};

use crate::record::{ExecutionRecord, StepRecord};
use crate::status::{ExecutionStatus, StepStatus};

/// How a step's run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The action's response; `goto` is an aws:branch decision.
    Success {
        response: Map<String, Value>,
        goto: Option<String>,
    },
    /// `status` is Failed or TimedOut; retried while attempts remain.
    Failed {
        status: StepStatus,
        message: String,
    },
    /// The step was in flight when the engine stopped and may not run again: Failed, no retry.
    Interrupted {
        message: String,
    },
    Cancelled,
}

impl Outcome {
    pub fn success(response: Map<String, Value>) -> Self {
        Outcome::Success { response, goto: None }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Outcome::Failed { status: StepStatus::Failed, message: message.into() }
    }
}

pub struct Run {
    pub record: ExecutionRecord,
    pub doc: Arc<Document>,
    pub steps: Vec<StepRecord>,
    /// Signals acted on in the current transition, to consume in its commit.
    pub consumed: Vec<String>,
    /// Child executions created in the current transition, to start after its commit.
    pub children: Vec<String>,
    /// The record changed in the current transition and must be written.
    pub dirty: bool,
    /// When the store was last asked for signals.
    pub signals_checked: Option<std::time::Instant>,
    /// Step name -> where the step sits (main steps and the steps inside loops).
    index: std::collections::HashMap<String, StepRef>,
}

impl Run {
    pub fn new(record: ExecutionRecord, doc: Arc<Document>, steps: Vec<StepRecord>) -> Self {
        let mut index = std::collections::HashMap::new();
        for (at, step) in doc.all_steps() {
            index.entry(step.name.clone()).or_insert(at);
        }
        Self { record, doc, steps, consumed: vec![], children: vec![], dirty: false, signals_checked: None, index }
    }

    pub fn set_status(&mut self, status: ExecutionStatus) {
        if self.record.status != status {
            self.record.status = status;
            self.dirty = true;
        }
    }

    pub fn current(&self) -> Option<&StepRecord> {
        self.steps.last()
    }

    pub fn current_mut(&mut self) -> Option<&mut StepRecord> {
        self.steps.last_mut()
    }

    /// Where the step named `name` sits in the document.
    pub fn step_ref(&self, name: &str) -> Option<StepRef> {
        self.index.get(name).copied()
    }

    /// Where the current step sits in the document.
    pub fn current_ref(&self) -> Option<StepRef> {
        self.current().and_then(|s| self.step_ref(&s.name))
    }

    /// The position in `steps` of the latest run of the `aws:loop` at `parent` in `mainSteps`.
    pub fn loop_record(&self, parent: usize) -> Option<usize> {
        let name = &self.doc.main_steps.get(parent)?.name;
        self.steps.iter().rposition(|s| &s.name == name)
    }

    pub fn is_mocked(&self, step: &str) -> bool {
        self.record.mocks.contains_key(step)
    }

    pub fn was_cancelled(&self) -> bool {
        self.steps.iter().any(|s| s.status == StepStatus::Cancelled) || self.record.status == ExecutionStatus::Cancelling
    }

    /// The status of the last critical step that failed, if any. A step inside a loop
    /// whose failure aborted the loop does not count itself: the loop's failure does.
    pub fn critical_failure(&self) -> Option<StepStatus> {
        self.last_critical_failure().map(|s| s.status)
    }

    /// The latest failed step that counts against the execution (critical, and not a step
    /// inside a loop whose failure the loop itself reports).
    fn last_critical_failure(&self) -> Option<&StepRecord> {
        let counts = |name: &str| {
            let Some(at) = self.step_ref(name) else { return false };
            self.doc.step(at).is_some_and(|d| d.is_critical && !(at.parent().is_some() && d.on_failure == OnFailure::Abort))
        };
        self.steps.iter().rev().filter(|s| s.status.is_failure()).find(|s| counts(&s.name))
    }

    /// Why the execution failed: the latest critical step that failed, else the latest
    /// failed step (an Abort on a non-critical step also stops the execution).
    pub fn failure_message(&self) -> Option<String> {
        self.last_critical_failure()
            .or_else(|| self.steps.iter().rev().find(|s| s.status.is_failure()))
            .map(|s| format!("step \"{}\" {}: {}", s.name, s.status, s.failure_message.as_deref().unwrap_or("no message")))
    }

    /// Document-level outputs: `Step.Output` -> value, for those that have one.
    pub fn document_outputs(&self) -> Map<String, Value> {
        let mut outputs = Map::new();
        for name in &self.doc.outputs {
            let Some((step, output)) = name.split_once('.') else {
                continue;
            };
            let value =
                self.steps.iter().rev().find(|s| s.name == step && s.status == StepStatus::Success).and_then(|s| s.outputs.get(output));
            if let Some(value) = value {
                outputs.insert(name.clone(), value.clone());
            }
        }
        outputs
    }
}
