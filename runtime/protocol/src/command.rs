//! Run Command's API (`/v1/commands`): send a Command document to targets with rate
//! control, and read the per-node results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::JsonMap;
use crate::agent::{DocumentText, StepReport};
use crate::rate::Limit;
use crate::status::{CommandStatus, InvocationStatus};
use crate::target::Target;

/// The default execution timeout of an invocation (SSM's AWS-RunShellScript default).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;
/// The default delivery timeout: how long a node may take to pick the command up.
pub const DEFAULT_DELIVERY_TIMEOUT_SECONDS: u64 = 3600;
/// How much stdout the default view shows, as SSM does.
pub const STDOUT_VIEW_CHARS: usize = 24_000;
/// How much stderr the default view shows, as SSM does.
pub const STDERR_VIEW_CHARS: usize = 8_000;
/// The marker at the end of truncated output in the default view.
pub const TRUNCATED_MARKER: &str = "\n--- output truncated: show the command with --full (or ?full=true) for all of it ---\n";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendCommand {
    /// A stored or built-in document's name (an SSM name such as AWS-RunShellScript resolves to its Bosun equivalent). Exclusive with `document`.
    pub document_name: Option<String>,
    /// A version number, `$LATEST` or `$DEFAULT` (the default).
    pub document_version: Option<String>,
    /// A document sent with the command instead of a stored one.
    pub document: Option<DocumentText>,
    /// Several targets are ANDed.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
    pub targets: Vec<Target>,
    /// Parameter values: strings, or lists of strings for StringList parameters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
    /// `N` or `N%` (default 50).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_concurrency: Option<Limit>,
    /// `N` or `N%` (default 0).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_errors: Option<Limit>,
    /// Execution timeout per node (default 3600).
    pub timeout_seconds: Option<u64>,
    /// Delivery timeout per node (default 3600).
    pub delivery_timeout_seconds: Option<u64>,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommandView {
    pub command_id: String,
    pub document_name: String,
    pub document_version: Option<u32>,
    pub status: CommandStatus,
    pub comment: String,
    pub requested_by: String,
    pub requested_at: String,
    pub completed_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
    pub targets: Vec<Target>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub max_concurrency: Limit,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub max_errors: Limit,
    pub timeout_seconds: u64,
    pub delivery_timeout_seconds: u64,
    pub target_count: u32,
    pub completed_count: u32,
    pub error_count: u32,
    /// How many invocations have each status.
    pub counts: BTreeMap<String, u32>,
    /// Empty in lists; one per node when one command is read.
    #[serde(default)]
    pub invocations: Vec<InvocationView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvocationView {
    pub invocation_id: String,
    pub node_id: String,
    pub status: InvocationStatus,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether `stdout` was cut to 24,000 characters for this view.
    pub stdout_truncated: bool,
    /// Whether `stderr` was cut to 8,000 characters for this view.
    pub stderr_truncated: bool,
    pub dispatched_at: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepReport>,
}

/// Cuts `text` to `chars` characters with [`TRUNCATED_MARKER`]; says whether it cut.
pub fn truncate_output(text: &str, chars: usize) -> (String, bool) {
    match text.char_indices().nth(chars) {
        None => (text.to_string(), false),
        Some((at, _)) => (format!("{}{TRUNCATED_MARKER}", &text[..at]), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_output("héllo", 5), ("héllo".into(), false));
        let (cut, truncated) = truncate_output("héllo", 2);
        assert!(truncated);
        assert_eq!(cut, format!("hé{TRUNCATED_MARKER}"));
    }

    #[test]
    fn send_command_refuses_unknown_fields_and_bad_limits() {
        let ok = r#"{"documentName": "AWS-RunShellScript", "targets": [{"key": "InstanceIds", "values": ["mi-1"]}], "maxErrors": "10%"}"#;
        let send: SendCommand = serde_json::from_str(ok).unwrap();
        assert_eq!(send.max_errors, Some(Limit::Percent(10)));
        assert!(serde_json::from_str::<SendCommand>(r#"{"targets": [], "maxConcurency": "1"}"#).is_err());
        assert!(serde_json::from_str::<SendCommand>(r#"{"targets": [], "maxErrors": "lots"}"#).is_err());
    }
}
