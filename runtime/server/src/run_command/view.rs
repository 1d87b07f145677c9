//! A command as the API and the CLI show it: its record, the counts per status and,
//! when one command is read, every invocation, with output cut as SSM cuts it
//! unless the full output is asked for.

use bosun_engine::StoreError;
use bosun_protocol::agent::StepReport;
use bosun_protocol::command::{CommandView, InvocationView, STDERR_VIEW_CHARS, STDOUT_VIEW_CHARS, truncate_output};
use bosun_protocol::{CommandStatus, InvocationStatus, Limit};
use bosun_store::{CommandRecord, InvocationRecord, Store};

/// How much of a command to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The command and its counts (lists).
    Summary,
    /// With every invocation, output cut to SSM's view sizes.
    Invocations,
    /// With every invocation and all of its output.
    Full,
}

fn invocation_view(record: InvocationRecord, full: bool) -> InvocationView {
    let (stdout, stdout_truncated) = if full { (record.stdout, false) } else { truncate_output(&record.stdout, STDOUT_VIEW_CHARS) };
    let (stderr, stderr_truncated) = if full { (record.stderr, false) } else { truncate_output(&record.stderr, STDERR_VIEW_CHARS) };
    let steps: Vec<StepReport> = record.steps.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    InvocationView {
        invocation_id: record.id,
        node_id: record.node_id,
        status: InvocationStatus::parse(&record.status).unwrap_or(InvocationStatus::Failed),
        exit_code: record.exit_code,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        dispatched_at: record.dispatched_at,
        started_at: record.started_at,
        ended_at: record.ended_at,
        steps,
    }
}

/// The view of a stored command.
pub fn command_view(store: &Store, record: CommandRecord, detail: Detail) -> Result<CommandView, StoreError> {
    let counts = store.invocation_counts(record.no)?;
    let count = |s: InvocationStatus| counts.get(s.as_str()).copied().unwrap_or(0);
    let target_count = counts.values().sum();
    let completed_count = InvocationStatus::ALL.into_iter().filter(|s| s.is_terminal()).map(count).sum();
    let error_count = InvocationStatus::ALL.into_iter().filter(|s| s.counts_as_error()).map(count).sum();
    let invocations = match detail {
        Detail::Summary => Vec::new(),
        Detail::Invocations | Detail::Full => {
            store.invocations(record.no)?.into_iter().map(|i| invocation_view(i, detail == Detail::Full)).collect()
        }
    };
    Ok(CommandView {
        command_id: record.id,
        document_name: record.document_name,
        document_version: record.document_version,
        status: CommandStatus::parse(&record.status).unwrap_or(CommandStatus::Failed),
        comment: record.comment,
        requested_by: record.requested_by,
        requested_at: record.requested_at,
        completed_at: record.completed_at,
        targets: serde_json::from_str(&record.targets).unwrap_or_default(),
        parameters: serde_json::from_str(&record.parameters).unwrap_or_default(),
        max_concurrency: Limit::parse(&record.max_concurrency).unwrap_or(Limit::DEFAULT_CONCURRENCY),
        max_errors: Limit::parse(&record.max_errors).unwrap_or(Limit::DEFAULT_ERRORS),
        timeout_seconds: record.timeout_seconds,
        delivery_timeout_seconds: record.delivery_timeout_seconds,
        target_count,
        completed_count,
        error_count,
        counts,
        invocations,
    })
}
