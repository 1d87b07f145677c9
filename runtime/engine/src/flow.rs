//! Pure control flow: which step runs after a step ends, and how an execution
//! ends. No IO; the runner applies what these functions decide. A step inside an
//! `aws:loop` goes only to steps of the same loop; running off the end of them
//! ends the iteration.

use bosun_document::{Document, OnFailure, StepRef};

use crate::status::{ExecutionStatus, StepStatus};

/// Where an execution goes after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Run this step.
    Step(StepRef),
    /// The steps of the `aws:loop` at this index of `mainSteps` are done for this
    /// iteration: run the next iteration, or end the loop.
    EndIteration(usize),
    /// No more steps: the execution ends with its accumulated status.
    End,
    /// Stop now with this status. Inside a loop: the loop step ends with it.
    Stop(ExecutionStatus),
}

/// The step after `at` when it succeeded; `goto` is an aws:branch decision.
pub fn after_success(doc: &Document, at: StepRef, goto: Option<&str>) -> Next {
    let steps = doc.siblings(at);
    let Some(step) = steps.get(at.index()) else {
        return end_of(at);
    };
    if let Some(target) = goto {
        return jump(doc, at, target);
    }
    if step.is_end {
        return end_of(at);
    }
    match &step.next_step {
        Some(target) => jump(doc, at, target),
        None if at.index() + 1 < steps.len() => Next::Step(at.sibling(at.index() + 1)),
        None => end_of(at),
    }
}

/// The step after `at` when it ended with `status` (Failed or TimedOut), per `onFailure`.
pub fn after_failure(doc: &Document, at: StepRef, status: StepStatus) -> Next {
    match doc.step(at).map(|s| &s.on_failure) {
        Some(OnFailure::Continue) => after_success(doc, at, None),
        Some(OnFailure::Step(target)) => jump(doc, at, target),
        Some(OnFailure::Abort) | None => Next::Stop(stop_status(status)),
    }
}

/// The step after `at` when it was cancelled, per `onCancel`.
pub fn after_cancel(doc: &Document, at: StepRef) -> Next {
    match doc.step(at).map(|s| &s.on_cancel) {
        Some(OnFailure::Step(target)) => jump(doc, at, target),
        _ => Next::Stop(ExecutionStatus::Cancelled),
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

pub fn stop_status(step: StepStatus) -> ExecutionStatus {
    match step {
        StepStatus::TimedOut => ExecutionStatus::TimedOut,
        StepStatus::Cancelled => ExecutionStatus::Cancelled,
        _ => ExecutionStatus::Failed,
    }
}

/// The end of the list that holds `at`: the execution's steps, or one iteration of a loop.
fn end_of(at: StepRef) -> Next {
    match at.parent() {
        Some(parent) => Next::EndIteration(parent),
        None => Next::End,
    }
}

/// The step named `target` in the list that holds `at`.
fn jump(doc: &Document, at: StepRef, target: &str) -> Next {
    // Validation guarantees targets exist in the same list; a missing one still ends cleanly.
    doc.siblings(at).iter().position(|s| s.name == target).map_or(Next::Stop(ExecutionStatus::Failed), |i| Next::Step(at.sibling(i)))
}
