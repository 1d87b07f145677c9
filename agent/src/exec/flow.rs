//! Step outcomes and document flow: how a step's result and its SSM options
//! (`onFailure: exit|successAndExit`, `onSuccess: exit`, `finallyStep: true`)
//! decide what runs next, and how the steps' results add up to the
//! invocation's status, exit code and output.

use bosun_document::Step;
use bosun_document::interpolate::loose_bool;
use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{InvocationReport, StepReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::output::{append, fit};

/// The message of a step that did not run because its precondition is false.
pub const SKIPPED_PREFIX: &str = "Step skipped";

/// Where to pick a run up after a reboot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resume {
    /// The step that asked for the reboot; it runs again.
    pub step: usize,
    /// Reports of the steps before it.
    pub steps: Vec<StepReport>,
}

/// What happens after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The next step runs.
    Next,
    /// The document stops; a `finallyStep` still runs.
    Exit,
    /// A reboot was asked for: the step runs again after the agent restarts.
    Reboot,
    /// The invocation was cancelled.
    Cancelled,
    /// The invocation's execution timeout ran out.
    Deadline,
}

#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub report: StepReport,
    pub flow: Flow,
}

impl StepOutcome {
    pub fn new(step: &Step, status: InvocationStatus, flow: Flow) -> Self {
        let report = StepReport {
            name: step.name.clone(),
            action: step.action.clone(),
            status,
            exit_code: None,
            stdout: String::new(),
            stderr: String::new(),
            message: None,
        };
        Self { report, flow }
    }

    /// A step that failed without running anything; the message goes to stderr too.
    pub fn failed(step: &Step, message: String) -> Self {
        let mut outcome = Self::new(step, InvocationStatus::Failed, Flow::Next);
        outcome.report.stderr = message.clone();
        outcome.report.message = Some(message);
        outcome
    }

    pub fn skipped(step: &Step, reason: String) -> Self {
        let mut outcome = Self::new(step, InvocationStatus::Success, Flow::Next);
        outcome.report.message = Some(format!("{SKIPPED_PREFIX}: {reason}"));
        outcome
    }
}

/// True for a step with `inputs.finallyStep: true`: it runs even after another step exited the document.
pub fn is_finally_step(step: &Step) -> bool {
    step.inputs.get("finallyStep").and_then(loose_bool).unwrap_or(false)
}

/// Applies `onFailure` and `onSuccess` to a step that ended normally.
pub fn apply_step_options(step: &Step, mut outcome: StepOutcome) -> StepOutcome {
    if outcome.flow != Flow::Next {
        return outcome;
    }
    let option = |key: &str| step.inputs.get(key).and_then(Value::as_str);
    match outcome.report.status {
        InvocationStatus::Success if option("onSuccess") == Some("exit") && !skipped(&outcome.report) => outcome.flow = Flow::Exit,
        InvocationStatus::Failed | InvocationStatus::ExecutionTimedOut => match option("onFailure") {
            Some("exit") => outcome.flow = Flow::Exit,
            Some("successAndExit") => {
                let was = outcome.report.status;
                outcome.report.status = InvocationStatus::Success;
                let note = format!("the step ended {was}; onFailure: successAndExit counts it as Success and stops the document");
                outcome.report.message = Some(match outcome.report.message.take() {
                    Some(m) => format!("{m}; {note}"),
                    None => note,
                });
                outcome.flow = Flow::Exit;
            }
            _ => {}
        },
        _ => {}
    }
    outcome
}

fn skipped(report: &StepReport) -> bool {
    report.message.as_deref().is_some_and(|m| m.starts_with(SKIPPED_PREFIX))
}

/// How a document run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Completed,
    Reboot { step: usize },
    Cancelled,
    Deadline,
}

/// The steps that ran (or were skipped), and how the run ended.
#[derive(Debug, Clone)]
pub struct DocRun {
    pub reports: Vec<StepReport>,
    pub end: End,
}

impl DocRun {
    /// Cancelled and timed out runs say so; otherwise the worst step status:
    /// ExecutionTimedOut, then Failed, then Success.
    pub fn status(&self) -> InvocationStatus {
        match self.end {
            End::Cancelled => return InvocationStatus::Cancelled,
            End::Deadline => return InvocationStatus::ExecutionTimedOut,
            End::Completed | End::Reboot { .. } => {}
        }
        let has = |s: InvocationStatus| self.reports.iter().any(|r| r.status == s);
        if has(InvocationStatus::ExecutionTimedOut) {
            InvocationStatus::ExecutionTimedOut
        } else if has(InvocationStatus::Failed) {
            InvocationStatus::Failed
        } else {
            InvocationStatus::Success
        }
    }

    /// The exit code of the last step that ran (skipped steps did not); none when
    /// that step ended without one (an action that runs no process, a timeout).
    pub fn exit_code(&self) -> Option<i32> {
        self.reports.iter().rev().find(|r| !skipped(r)).and_then(|r| r.exit_code)
    }

    /// The steps' outputs one after the other, each stream capped at `max_output` bytes.
    pub fn outputs(&self, max_output: usize) -> (String, String) {
        let (mut stdout, mut stderr) = (String::new(), String::new());
        for r in &self.reports {
            append(&mut stdout, &r.stdout);
            append(&mut stderr, &r.stderr);
        }
        (fit(stdout, max_output, 0), fit(stderr, max_output, 0))
    }

    /// The invocation's report.
    pub fn report(self, max_output: usize) -> InvocationReport {
        let (stdout, stderr) = self.outputs(max_output);
        InvocationReport { status: self.status(), exit_code: self.exit_code(), stdout, stderr, steps: self.reports }
    }
}
