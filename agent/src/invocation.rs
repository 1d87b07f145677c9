//! One invocation's life on a node: stored before its delivery is acknowledged
//! (InProgress), run, its report stored and sent until acknowledged, then
//! remembered as finished. Also what a start finds on disk: a reboot resumes,
//! an interrupted run is reported Failed, an unsent report is sent.

use std::sync::Arc;
use std::time::Duration;

use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{Assignment, InvocationReport};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exec::{self, InvocationCtx, Outcome, Resume};
use crate::node::{Delivery, Node};
use crate::report::{self, REPORT_BUDGET};
use crate::state::{InflightRecord, Phase};

/// A step that keeps asking for reboots fails after this many.
pub const MAX_REBOOTS: u32 = 10;

/// What the report of a run the agent lost says.
pub const RESTARTED_MESSAGE: &str = "the agent restarted while this invocation was running (the agent was stopped or killed, or the machine rebooted without a step asking for it); its outcome is unknown";

/// A new assignment: store it, acknowledge it, run it, report it.
pub async fn start(node: Arc<Node>, assignment: Assignment, cancel: CancellationToken) {
    let record = InflightRecord::new(assignment);
    if let Err(e) = node.state.save(&record).await {
        tracing::error!(invocation = %record.id(), "cannot store the assignment, so it does not start (the server delivers it again): {e}");
        node.forget(record.id());
        return;
    }
    begin(node, record, cancel).await;
}

/// Acknowledges delivery with InProgress, then runs the document.
async fn begin(node: Arc<Node>, mut record: InflightRecord, cancel: CancellationToken) {
    let id = record.id().to_string();
    match node.send_until_acked(&id, &report::in_progress()).await {
        Delivery::Acked(ack) if ack.status.is_terminal() => {
            tracing::info!(invocation = %id, status = %ack.status, "the invocation ended on the server already; not running it");
            node.finish(&id, ack.status).await;
            return;
        }
        Delivery::Acked(_) => {}
        Delivery::Refused => {
            node.finish(&id, InvocationStatus::Undeliverable).await;
            return;
        }
        Delivery::Stopped => return,
    }
    if cancel.is_cancelled() {
        deliver(&node, record, report::terminal(InvocationStatus::Cancelled, "cancelled before it started")).await;
        return;
    }
    record.phase = Phase::Running;
    if let Err(e) = node.state.save(&record).await {
        tracing::error!(invocation = %id, "cannot record that the invocation runs: {e}");
    }
    run(node, record, cancel, None).await;
}

/// Runs the document (from the start, or from a reboot) and handles how it ended.
async fn run(node: Arc<Node>, record: InflightRecord, cancel: CancellationToken, resume: Option<Resume>) {
    let id = record.id().to_string();
    let started = Instant::now();
    let remaining = record.assignment.timeout_seconds.saturating_sub(record.elapsed_seconds);
    let ctx = InvocationCtx {
        env: &node.exec,
        assignment: &record.assignment,
        work_dir: node.state.work_dir(&id),
        script_dir: node.state.script_dir(&id),
        deadline: exec::deadline_after(remaining),
        cancel,
    };
    tracing::info!(invocation = %id, resumed = resume.is_some(), "running");
    let outcome = exec::execute(&ctx, resume).await;
    match outcome {
        Outcome::Done(report) => {
            tracing::info!(invocation = %id, status = %report.status, exit_code = ?report.exit_code, "finished");
            deliver(&node, record, report).await;
        }
        Outcome::Reboot { step, steps } => reboot(node, record, step, steps, started.elapsed()).await,
    }
}

/// A step asked for a reboot: remember where to resume, then reboot (or ask for one).
async fn reboot(
    node: Arc<Node>,
    mut record: InflightRecord,
    step: usize,
    steps: Vec<bosun_protocol::agent::StepReport>,
    elapsed: Duration,
) {
    let id = record.id().to_string();
    record.reboots += 1;
    record.elapsed_seconds += elapsed.as_secs();
    if record.reboots > MAX_REBOOTS {
        let mut report =
            report::terminal(InvocationStatus::Failed, format!("step {step} asked for a reboot more than {MAX_REBOOTS} times"));
        report.steps = steps;
        deliver(&node, record, report).await;
        return;
    }
    record.phase = Phase::RebootPending;
    record.resume = Some(Resume { step, steps });
    if let Err(e) = node.state.save(&record).await {
        let report = report::terminal(
            InvocationStatus::Failed,
            format!("a step asked for a reboot, but the agent cannot store where to resume: {e}"),
        );
        deliver(&node, record, report).await;
        return;
    }
    node.set_reboot_pending(&id);
    match &node.shared.config.reboot_command {
        Some(command) => {
            tracing::warn!(invocation = %id, step, %command, "a step asked for a reboot; running the reboot command");
            let result = tokio::process::Command::new("/bin/sh").arg("-c").arg(command).stdin(std::process::Stdio::null()).output().await;
            match result {
                Ok(out) if out.status.success() => tracing::info!(invocation = %id, "the reboot command ran"),
                Ok(out) => {
                    tracing::error!(invocation = %id, status = %out.status, stderr = %String::from_utf8_lossy(&out.stderr), "the reboot command failed; the step runs again when the agent restarts")
                }
                Err(e) => {
                    tracing::error!(invocation = %id, "cannot run the reboot command: {e}; the step runs again when the agent restarts")
                }
            }
        }
        None => tracing::warn!(
            invocation = %id,
            step,
            "a step asked for a reboot (exit code 194 or 3010) and no --reboot-command is set: reboot the machine or restart the agent; the step runs again then"
        ),
    }
}

/// Stores the final report and sends it until acknowledged.
pub async fn deliver(node: &Node, mut record: InflightRecord, report: InvocationReport) {
    let id = record.id().to_string();
    let report = report::fit_body(report, REPORT_BUDGET);
    node.set_reporting(&id);
    record.phase = Phase::Reporting;
    record.report = Some(report.clone());
    if let Err(e) = node.state.save(&record).await {
        tracing::error!(invocation = %id, "cannot store the report; sending it anyway: {e}");
    }
    send_and_finish(node, &id, &report).await;
}

async fn send_and_finish(node: &Node, id: &str, report: &InvocationReport) {
    match node.send_until_acked(id, report).await {
        Delivery::Acked(_) | Delivery::Refused => node.finish(id, report.status).await,
        Delivery::Stopped => {}
    }
}

/// A cancel for an invocation waiting for its reboot: report it Cancelled.
pub async fn cancel_pending_reboot(node: Arc<Node>, id: String) {
    match node.state.load(&id) {
        Ok(record) => {
            let mut report = report::terminal(InvocationStatus::Cancelled, "cancelled while waiting for a reboot");
            report.steps = record.resume.clone().map(|r| r.steps).unwrap_or_default();
            deliver(&node, record, report).await;
        }
        Err(e) => {
            let report = report::terminal(InvocationStatus::Cancelled, format!("cancelled; the agent's record of it is unreadable: {e}"));
            send_and_finish(&node, &id, &report).await;
        }
    }
}

/// What to do at start with one in-flight record.
#[derive(Debug)]
enum Recovery {
    /// Stored but never started: acknowledge and run it.
    Start(InflightRecord),
    /// A step asked for a reboot: run it again, and the steps after it.
    Resume(InflightRecord, Option<Resume>),
    /// Store (when there is a record) and send this final report.
    Report(Option<InflightRecord>, InvocationReport),
}

fn plan_recovery(id: &str, record: Result<InflightRecord, String>) -> Recovery {
    let mut record = match record {
        Ok(record) if record.id() == id => record,
        other => {
            let why = other.err().unwrap_or_else(|| "it names another invocation".into());
            tracing::error!(invocation = %id, "the in-flight record is unreadable ({why}); reporting the invocation Failed");
            let message = format!("{RESTARTED_MESSAGE}; its record on the node is unreadable: {why}");
            return Recovery::Report(None, report::terminal(InvocationStatus::Failed, message));
        }
    };
    match record.phase {
        Phase::Received => {
            tracing::info!(invocation = %id, "stored before the restart and not started; starting it");
            Recovery::Start(record)
        }
        Phase::Running => {
            tracing::warn!(invocation = %id, "was running when the agent stopped; reporting it Failed");
            let mut report = report::terminal(InvocationStatus::Failed, RESTARTED_MESSAGE);
            report.steps = record.resume.clone().map(|r| r.steps).unwrap_or_default();
            Recovery::Report(Some(record), report)
        }
        Phase::RebootPending => {
            tracing::info!(invocation = %id, "resuming after a reboot");
            let resume = record.resume.clone();
            record.phase = Phase::Running;
            Recovery::Resume(record, resume)
        }
        Phase::Reporting => {
            let report = record.report.take().unwrap_or_else(|| report::terminal(InvocationStatus::Failed, RESTARTED_MESSAGE));
            tracing::info!(invocation = %id, status = %report.status, "sending the report left from before the restart");
            Recovery::Report(None, report)
        }
    }
}

/// Picks up what the state directory holds at start, each outcome reported once.
pub fn recover(node: &Arc<Node>, tasks: &mut JoinSet<()>) {
    for (id, record) in node.state.load_all() {
        let node = Arc::clone(node);
        match plan_recovery(&id, record) {
            Recovery::Start(record) => {
                let cancel = node.set_running(&id);
                tasks.spawn(begin(node, record, cancel));
            }
            Recovery::Resume(record, resume) => {
                let cancel = node.set_running(&id);
                tasks.spawn(async move {
                    if let Err(e) = node.state.save(&record).await {
                        tracing::error!(invocation = %record.id(), "cannot record that the invocation runs again: {e}");
                    }
                    run(node, record, cancel, resume).await;
                });
            }
            Recovery::Report(Some(record), report) => {
                let killed = exec::kill_leftovers(&node.state.script_dir(&id));
                if killed > 0 {
                    tracing::warn!(invocation = %id, groups = killed, "killed the processes the interrupted run left behind");
                }
                node.set_reporting(&id);
                tasks.spawn(async move { deliver(&node, record, report).await });
            }
            Recovery::Report(None, report) => {
                node.set_reporting(&id);
                tasks.spawn(async move { send_and_finish(&node, &id, &report).await });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bosun_protocol::agent::{DocumentText, StepReport};

    use super::*;

    fn record(phase: Phase) -> InflightRecord {
        let mut r = InflightRecord::new(Assignment {
            invocation_id: "inv-1".into(),
            command_id: "c".into(),
            document: DocumentText { name: "D".into(), file_name: "D.yaml".into(), content: String::new() },
            included: Vec::new(),
            parameters: Default::default(),
            timeout_seconds: 60,
            plugins: Vec::new(),
        });
        r.phase = phase;
        r
    }

    fn step(name: &str) -> StepReport {
        StepReport {
            name: name.into(),
            action: "aws:runShellScript".into(),
            status: InvocationStatus::Success,
            exit_code: Some(0),
            stdout: String::new(),
            stderr: String::new(),
            message: None,
        }
    }

    #[test]
    fn a_run_interrupted_by_a_restart_is_reported_failed_once() {
        let Recovery::Report(Some(_), report) = plan_recovery("inv-1", Ok(record(Phase::Running))) else { panic!() };
        assert_eq!(report.status, InvocationStatus::Failed);
        assert!(report.stderr.contains("the agent restarted"), "{}", report.stderr);
    }

    #[test]
    fn a_reboot_resumes_at_the_step_that_asked() {
        let mut r = record(Phase::RebootPending);
        r.resume = Some(Resume { step: 1, steps: vec![step("first")] });
        let Recovery::Resume(r, Some(resume)) = plan_recovery("inv-1", Ok(r)) else { panic!() };
        assert_eq!(r.phase, Phase::Running);
        assert_eq!(resume.step, 1);
        assert_eq!(r.resume.unwrap().steps.len(), 1, "kept, so a crash after the reboot still reports the earlier steps");
    }

    #[test]
    fn stored_but_not_started_starts_and_an_unsent_report_is_sent() {
        assert!(matches!(plan_recovery("inv-1", Ok(record(Phase::Received))), Recovery::Start(_)));
        let mut r = record(Phase::Reporting);
        r.report = Some(report::terminal(InvocationStatus::Success, ""));
        let Recovery::Report(None, report) = plan_recovery("inv-1", Ok(r)) else { panic!() };
        assert_eq!(report.status, InvocationStatus::Success);
    }

    #[test]
    fn an_unreadable_record_is_reported_failed() {
        let Recovery::Report(None, report) = plan_recovery("inv-1", Err("expected value at line 1".into())) else { panic!() };
        assert_eq!(report.status, InvocationStatus::Failed);
        assert!(report.stderr.contains("unreadable"));
        assert!(matches!(plan_recovery("inv-2", Ok(record(Phase::Running))), Recovery::Report(None, _)));
    }
}
