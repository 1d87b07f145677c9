//! Pure control flow: which step runs after a step ends, and how an execution
//! ends. No IO; the runner applies what these functions decide.

use bosun_document::{Document, OnFailure};

use crate::status::{ExecutionStatus, StepStatus};

/// Where an execution goes after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run the step at this index of `mainSteps`.
    Step(usize),
    /// No more steps: the execution ends with its accumulated status.
    End,
    /// Stop now with this status.
    Stop(ExecutionStatus),
}

/// The step after `index` when it succeeded; `goto` is an aws:branch decision.
pub fn after_success(doc: &Document, index: usize, goto: Option<&str>) -> Next {
    let step = &doc.main_steps[index];
    if let Some(target) = goto {
        return jump(doc, target);
    }
    if step.is_end {
        return Next::End;
    }
    match &step.next_step {
        Some(target) => jump(doc, target),
        None if index + 1 < doc.main_steps.len() => Next::Step(index + 1),
        None => Next::End,
    }
}

/// The step after `index` when it ended with `status` (Failed or TimedOut), per `onFailure`.
pub fn after_failure(doc: &Document, index: usize, status: StepStatus) -> Next {
    match &doc.main_steps[index].on_failure {
        OnFailure::Abort => Next::Stop(stop_status(status)),
        OnFailure::Continue => after_success(doc, index, None),
        OnFailure::Step(target) => jump(doc, target),
    }
}

/// The step after `index` when it was cancelled, per `onCancel`.
pub fn after_cancel(doc: &Document, index: usize) -> Next {
    match &doc.main_steps[index].on_cancel {
        OnFailure::Step(target) => jump(doc, target),
        OnFailure::Abort | OnFailure::Continue => Next::Stop(ExecutionStatus::Cancelled),
    }
}

/// The status of an execution that ran out of steps: Cancelled once cancelled,
/// Failed when a critical step failed, Success otherwise.
pub fn end_status(cancelled: bool, critical_failure: Option<StepStatus>) -> ExecutionStatus {
    if cancelled {
        ExecutionStatus::Cancelled
    } else if let Some(status) = critical_failure {
        stop_status(status)
    } else {
        ExecutionStatus::Success
    }
}

fn stop_status(step: StepStatus) -> ExecutionStatus {
    match step {
        StepStatus::TimedOut => ExecutionStatus::TimedOut,
        StepStatus::Cancelled => ExecutionStatus::Cancelled,
        _ => ExecutionStatus::Failed,
    }
}

fn jump(doc: &Document, target: &str) -> Next {
    // Validation guarantees targets exist; a missing one still ends cleanly.
    doc.step_index(target).map_or(Next::Stop(ExecutionStatus::Failed), Next::Step)
}
