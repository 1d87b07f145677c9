//! The executor: runs one Command document (schemaVersion 2.2) of an assignment,
//! step by step, and says how it ended. It owns step order and flow (SSM's
//! `onFailure`, `onSuccess`, `finallyStep`, exit codes 168/169 and the reboot
//! codes 194/3010); the actions live in their own modules.

mod download;
mod flow;
mod inventory;
mod nested;
pub mod output;
mod params;
mod patch;
pub mod plugin;
mod precondition;
pub mod process;
mod serial;
mod shell;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::path::PathBuf;
use std::sync::Arc;

use bosun_document::actions::StructureOnly;
use bosun_document::{Document, DocumentKind, Step};
use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{Assignment, DocumentText, InvocationReport, StepReport};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use flow::{DocRun, End, Flow, StepOutcome};
pub use flow::{Resume, SKIPPED_PREFIX};
use params::DocParams;

/// The actions this agent runs: the protocol's list, which the server checks documents against.
pub const SUPPORTED_ACTIONS: &[&str] = bosun_protocol::agent::AGENT_ACTIONS;
/// How deep `aws:runDocument` may nest documents.
pub const MAX_NESTING: usize = 3;
/// Execution timeouts are cut to this (a year), so that no deadline overflows.
pub const MAX_EXECUTION_SECONDS: u64 = 366 * 24 * 3600;

/// The instant `seconds` from now, at most [`MAX_EXECUTION_SECONDS`] away.
pub fn deadline_after(seconds: u64) -> Instant {
    Instant::now() + std::time::Duration::from_secs(seconds.min(MAX_EXECUTION_SECONDS))
}

/// What every run on one node shares.
#[derive(Debug, Clone)]
pub struct ExecEnv {
    pub node_id: String,
    /// SSM's platform type, for preconditions: `Linux`.
    pub platform_type: String,
    /// For `aws:downloadContent`.
    pub http: reqwest::Client,
    /// Bounds how many step processes run at once.
    pub processes: Arc<Semaphore>,
    /// Bytes kept of each output stream of each step, and of the invocation's.
    pub max_output: usize,
    /// Runs plugin steps; none: plugin steps fail.
    pub plugins: Option<plugin::PluginAccess>,
}

/// One invocation being run.
#[derive(Debug)]
pub struct InvocationCtx<'a> {
    pub env: &'a ExecEnv,
    pub assignment: &'a Assignment,
    /// The default working directory of shell steps and the base of relative download paths.
    pub work_dir: PathBuf,
    /// Where shell steps' scripts are written.
    pub script_dir: PathBuf,
    /// When the invocation's execution timeout runs out.
    pub deadline: Instant,
    pub cancel: CancellationToken,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The invocation ended; this is its report.
    Done(InvocationReport),
    /// Step `step` asked for a reboot (exit code 194 or 3010): it runs again after the
    /// agent restarts. `steps` are the reports of the steps before it.
    Reboot { step: usize, steps: Vec<StepReport> },
}

/// Runs the assignment's document, from the start or from where a reboot left it.
pub async fn execute(ctx: &InvocationCtx<'_>, resume: Option<Resume>) -> Outcome {
    let doc = match load_command_document(&ctx.assignment.document) {
        Ok(doc) => doc,
        Err(message) => return Outcome::Done(failed_before_start(message)),
    };
    for dir in [&ctx.work_dir, &ctx.script_dir] {
        if let Err(e) = crate::fsutil::private_dir(dir) {
            return Outcome::Done(failed_before_start(format!("cannot create {}: {e}", dir.display())));
        }
    }
    let params = DocParams::new(&doc, &ctx.assignment.parameters, &ctx.env.node_id);
    let (start, steps) = resume.map_or((0, Vec::new()), |r| (r.step, r.steps));
    let run = run_steps(ctx, &doc, &params, start, steps, 0).await;
    match run.end {
        End::Reboot { step } => Outcome::Reboot { step, steps: run.reports },
        _ => Outcome::Done(run.report(ctx.env.max_output)),
    }
}

/// A Failed report for an invocation that could not start, with the reason on stderr.
pub fn failed_before_start(message: String) -> InvocationReport {
    InvocationReport { status: InvocationStatus::Failed, exit_code: None, stdout: String::new(), stderr: message, steps: Vec::new() }
}

/// Kills the process groups an agent that died left running for an invocation
/// (noted beside its scripts); returns how many.
pub fn kill_leftovers(script_dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(script_dir) else { return 0 };
    entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pid")).filter(|p| process::kill_leftover(p)).count()
}

/// Parses and validates a document the server sent; it must be a Command document.
/// The error is every diagnostic, one per line (`file:line:col: path: message`).
pub fn load_command_document(text: &DocumentText) -> Result<Document, String> {
    let loaded = bosun_document::load(&text.file_name, &text.content, &StructureOnly);
    if loaded.diagnostics.has_errors() || loaded.document.is_none() {
        let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.render(&text.file_name)).collect();
        return Err(format!("the document \"{}\" is not valid:\n{}", text.name, errors.join("\n")));
    }
    let doc = loaded.document.unwrap_or_else(|| unreachable!("checked above"));
    if doc.kind != DocumentKind::Command {
        return Err(format!(
            "the document \"{}\" is an {} document (schemaVersion {}); the agent runs Command documents (schemaVersion 2.2)",
            text.name,
            doc.kind.as_str(),
            doc.schema_version
        ));
    }
    Ok(doc)
}

/// Runs `doc`'s steps from `start`, after the reports of the steps before it.
async fn run_steps(
    ctx: &InvocationCtx<'_>,
    doc: &Document,
    params: &DocParams,
    start: usize,
    reports: Vec<StepReport>,
    depth: usize,
) -> DocRun {
    let mut run = DocRun { reports, end: End::Completed };
    let mut exiting = false;
    for (index, step) in doc.main_steps.iter().enumerate().skip(start) {
        if exiting && !flow::is_finally_step(step) {
            continue;
        }
        if ctx.cancel.is_cancelled() {
            run.end = End::Cancelled;
            return run;
        }
        if Instant::now() >= ctx.deadline {
            run.end = End::Deadline;
            return run;
        }
        let outcome = run_step(ctx, params, index, step, depth).await;
        match outcome.flow {
            Flow::Reboot => {
                run.end = End::Reboot { step: index };
                return run;
            }
            Flow::Cancelled | Flow::Deadline => {
                run.end = if outcome.flow == Flow::Cancelled { End::Cancelled } else { End::Deadline };
                run.reports.push(outcome.report);
                return run;
            }
            Flow::Exit => exiting = true,
            Flow::Next => {}
        }
        run.reports.push(outcome.report);
    }
    run
}

/// One step: its precondition, its action, then the step's flow options.
async fn run_step(ctx: &InvocationCtx<'_>, params: &DocParams, index: usize, step: &Step, depth: usize) -> StepOutcome {
    if let Some(precondition) = &step.precondition {
        match precondition::check(precondition, params, &ctx.env.platform_type) {
            Ok(None) => {}
            Ok(Some(reason)) => return StepOutcome::skipped(step, reason),
            Err(message) => return StepOutcome::failed(step, message),
        }
    }
    let outcome = match step.action.as_str() {
        "aws:runShellScript" => shell::run(ctx, params, index, step).await,
        "aws:downloadContent" => download::run(ctx, params, step).await,
        "aws:runDocument" => nested::run(ctx, params, step, depth).await,
        inventory::ACTION => inventory::run(ctx, params, step).await,
        patch::ACTION => patch::run(ctx, params, step).await,
        other => match plugin::plugin_for(ctx, other) {
            Some(wanted) => plugin::run(ctx, params, step, wanted).await,
            None => StepOutcome::failed(
                step,
                format!(
                    "this agent cannot run the action \"{other}\": it runs {} and the plugin actions the server names with the command",
                    SUPPORTED_ACTIONS.join(", ")
                ),
            ),
        },
    };
    flow::apply_step_options(step, outcome)
}
