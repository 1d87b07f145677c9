//! Rendering for people and machines: `--output text|json`, executions, step
//! records, document listings and `--trace` lines.

use std::fmt::Write as _;

use bosun_engine::{ExecutionRecord, StepRecord, StoredExecution, TraceEvent};
use bosun_store::{DocumentInfo, ExecutionSummary};
use clap::ValueEnum;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// The `--output` flag of every command that shows data.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct OutputArg {
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Prints one JSON value on stdout.
pub fn print_json(value: &Value) {
    crate::outln!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn step_json(step: &StepRecord) -> Value {
    json!({
        "seq": step.seq,
        "name": step.name,
        "action": step.action,
        "status": step.status.as_str(),
        "attempt": step.attempt,
        "resumed": step.resumed,
        "iteration": step.iteration,
        "inputs": step.inputs,
        "outputs": step.outputs,
        "failureMessage": step.failure_message,
        "startedAt": time(&step.started_at),
        "endedAt": step.ended_at.as_ref().map(time),
        "wakeAt": step.wake_at.as_ref().map(time),
        "childExecutionId": step.child_execution_id,
        "decisions": step.decisions.iter().map(|d| json!({
            "approver": d.approver, "approved": d.approved, "comment": d.comment, "at": time(&d.at),
        })).collect::<Vec<_>>(),
    })
}

pub fn execution_json(execution: &StoredExecution) -> Value {
    let record: &ExecutionRecord = &execution.record;
    json!({
        "executionId": record.id,
        "documentName": record.document_name,
        "documentVersion": record.document_version,
        "status": record.status.as_str(),
        "parameters": record.parameters,
        "outputs": record.outputs,
        "steps": execution.steps.iter().map(step_json).collect::<Vec<_>>(),
        "failureMessage": record.failure_message,
        "parentExecutionId": record.parent.as_ref().map(|p| p.execution_id.clone()),
        "createdAt": time(&record.created_at),
        "updatedAt": time(&record.updated_at),
    })
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A readable summary of an execution.
pub fn execution_text(execution: &StoredExecution) -> String {
    let record = &execution.record;
    let mut out = String::new();
    let _ = writeln!(out, "Execution {}", record.id);
    let version = record.document_version.as_deref().map(|v| format!(" (version {v})")).unwrap_or_default();
    let _ = writeln!(out, "Document  {}{version}", record.document_name);
    let _ = writeln!(out, "Status    {}", record.status);
    if let Some(message) = &record.failure_message {
        let _ = writeln!(out, "Failure   {message}");
    }
    if !execution.steps.is_empty() {
        let _ = writeln!(out, "Steps");
        let width = execution.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
        let action_width = execution.steps.iter().map(|s| s.action.len()).max().unwrap_or(0);
        for step in &execution.steps {
            let mut notes = Vec::new();
            if step.attempt > 1 {
                notes.push(format!("attempt {}", step.attempt));
            }
            if step.resumed > 0 {
                notes.push(format!("resumed {}", step.resumed));
            }
            if let Some(wake) = &step.wake_at
                && !step.status.is_terminal()
            {
                notes.push(format!("wakes at {}", time(wake)));
            }
            let notes = if notes.is_empty() { String::new() } else { format!("  ({})", notes.join(", ")) };
            let _ = writeln!(out, "  {:>4}  {:<width$}  {:<action_width$}  {}{notes}", step.seq, step.name, step.action, step.status);
            if let Some(message) = &step.failure_message
                && step.status.is_failure()
            {
                let _ = writeln!(out, "        {message}");
            }
        }
    }
    if !record.outputs.is_empty() {
        let _ = writeln!(out, "Outputs");
        for (name, value) in &record.outputs {
            let _ = writeln!(out, "  {name} = {}", compact(value));
        }
    }
    out
}

/// One `--trace` line.
pub fn trace_line(event: &TraceEvent) -> String {
    let at = event.at.format("%H:%M:%S%.3f");
    let message = event.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
    match &event.step {
        None => format!("{at} execution {} {}{message}", event.execution_id, event.status),
        Some(step) => {
            let seq = event.seq.map(|s| format!("#{s} ")).unwrap_or_default();
            let action = event.action.as_deref().unwrap_or("");
            let attempt = event.attempt.filter(|a| *a > 1).map(|a| format!(" attempt {a}")).unwrap_or_default();
            match &event.inputs {
                Some(inputs) => format!("{at} step {seq}{step} ({action}) {}{attempt} inputs {}", event.status, inputs),
                None => format!("{at} step {seq}{step} {}{message}", event.status),
            }
        }
    }
}

pub fn document_info_json(info: &DocumentInfo) -> Value {
    serde_json::to_value(info).unwrap_or(Value::Null)
}

pub fn documents_text(infos: &[DocumentInfo]) -> String {
    let mut out = String::new();
    let width = infos.iter().map(|i| i.name.len()).max().unwrap_or(4).max(4);
    let _ =
        writeln!(out, "{:<width$}  {:>7}  {:>7}  {:<10}  {:<6}  {:<5}  CREATED", "NAME", "VERSION", "LATEST", "TYPE", "SCHEMA", "OWNER");
    for i in infos {
        let version = if i.is_default_version { format!("{}*", i.version) } else { i.version.to_string() };
        let owner = match i.owner {
            bosun_store::DocumentOwner::Bosun => "Bosun",
            bosun_store::DocumentOwner::User => "Self",
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>7}  {:<10}  {:<6}  {:<5}  {}",
            i.name, version, i.latest_version, i.document_type, i.schema_version, owner, i.created_at
        );
    }
    out
}

pub fn executions_text(list: &[ExecutionSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<36}  {:<10}  {:<30}  CREATED", "EXECUTION", "STATUS", "DOCUMENT");
    for e in list {
        let _ = writeln!(out, "{:<36}  {:<10}  {:<30}  {}", e.execution_id, e.status.as_str(), e.document_name, e.created_at);
    }
    out
}

/// `println!` that ignores a closed stdout (e.g. `bosun ... | head`) instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` that ignores a closed stderr instead of panicking.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
