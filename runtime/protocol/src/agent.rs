//! The agent protocol: what `bosun-agent` and the control plane say to each other.
//! The agent only ever dials out:
//!
//! | call | body | answer |
//! |---|---|---|
//! | `POST /v1/agent/register` | [`RegisterRequest`] (no credential yet) | 201 [`Registered`] |
//! | `POST /v1/agent/heartbeat` | [`Heartbeat`] | 204 |
//! | `POST /v1/agent/poll` | [`Poll`] (long poll) | 200 [`Work`] |
//! | `POST /v1/agent/invocations/{id}` | [`InvocationReport`] | 200 [`ReportAck`] |
//! | `GET /v1/agent/plugins/{name}/{version}?engineKey=K[&bytes=false]` | none | 200 [`PluginArtifact`]; 409 when the server cannot compile for engine `K` |
//! | `GET /v1/agent/sessions/{id}/stream` | WebSocket upgrade | 101: the session's frames (`session.rs`) |
//!
//! Every call but register carries `Authorization: Bearer NODE_CREDENTIAL`; a
//! deregistered node's calls get 401. Delivery is at least once: an assignment
//! that the agent has not acknowledged (a report with status InProgress) within
//! [`REDELIVER_AFTER_SECONDS`] is sent again, so the agent keeps the ids it has
//! seen on disk and runs each invocation once. Reports are idempotent: the first
//! terminal report of an invocation wins, later ones are acknowledged and ignored.
//! When the acknowledgement of an InProgress report carries a terminal status
//! (the command was cancelled or timed out meanwhile), the agent stops that
//! invocation without reporting again.

use serde::{Deserialize, Serialize};

use crate::JsonMap;
use crate::status::InvocationStatus;

/// The actions the agent runs; a Command document with any other action is refused at send time.
pub const AGENT_ACTIONS: &[&str] = &["aws:runShellScript", "aws:runDocument", "aws:downloadContent", "aws:softwareInventory"];

/// The longest a poll is held open.
pub const MAX_POLL_SECONDS: u32 = 30;
/// How long an unacknowledged assignment waits before it is delivered again.
pub const REDELIVER_AFTER_SECONDS: u64 = 30;
/// The most output of one stream (stdout or stderr) of one invocation an agent uploads.
pub const MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024;

/// What a node is, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Platform {
    /// SSM's platform type: `Linux` (also `MacOS` or `Windows` when the agent runs there).
    pub platform_type: String,
    /// os-release NAME, e.g. `Ubuntu`.
    pub name: String,
    /// os-release VERSION_ID, e.g. `24.04`.
    pub version: String,
    pub kernel: String,
    /// e.g. `x86_64`, `aarch64`.
    pub architecture: String,
    pub hostname: String,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    pub agent_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    pub activation_id: String,
    pub activation_code: String,
    pub platform: Platform,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// e.g. `mi-0123456789abcdef0`, as SSM names managed nodes.
    pub node_id: String,
    /// The node's secret; only its hash is kept by the server.
    pub credential: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Heartbeat {
    pub platform: Platform,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Poll {
    /// How long to wait for work when there is none (at most [`MAX_POLL_SECONDS`]).
    pub wait_seconds: u32,
    /// The invocations the agent is running now, so the server can tell it which to cancel.
    #[serde(default)]
    pub running: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Work {
    pub assignments: Vec<Assignment>,
    /// Invocations of `running` that were cancelled: stop them and report Cancelled.
    #[serde(default)]
    pub cancel: Vec<String>,
    /// Sessions to open: the agent connects to each one's stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<crate::session::SessionOffer>,
}

/// A document with its source text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentText {
    /// The document's name (a stored one's name, or the file name it was sent from).
    pub name: String,
    /// Picks the format: `.json` is JSON, anything else YAML.
    pub file_name: String,
    pub content: String,
}

/// One command for one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub invocation_id: String,
    pub command_id: String,
    pub document: DocumentText,
    /// Stored documents that `aws:runDocument` steps name (`documentType: SSMDocument`), resolved by the server.
    #[serde(default)]
    pub included: Vec<DocumentText>,
    /// The document's parameters, checked and coerced by the server, defaults filled in.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
    /// The whole invocation's execution timeout; the agent kills what runs past it.
    pub timeout_seconds: u64,
    /// The installed plugin versions the server checked the plugin steps against
    /// (those of the document and of its included documents), one per action name.
    #[serde(default)]
    pub plugins: Vec<PluginRef>,
}

/// The plugin version that runs a document's action on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PluginRef {
    /// The action as documents name it: `bosun:readFile`, `plugin:acme`, `plugin:acme@1.2.0`.
    pub action: String,
    /// The action as the plugin knows it (without an `@version` suffix).
    pub plugin_action: String,
    pub name: String,
    pub version: String,
    /// The sha256 of the component's bytes, which the agent checks.
    pub sha256: String,
}

/// `GET /v1/agent/plugins/{name}/{version}`: an installed plugin version for the
/// node's plugin host, with the operator's grants as they are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PluginArtifact {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The component's bytes, base64; empty when asked with `bytes=false`.
    #[serde(default)]
    pub wasm: String,
    /// The component precompiled for the node's engine, base64; empty when asked with `bytes=false`.
    #[serde(default)]
    pub artifact: String,
    /// The engine the artifact was compiled for (as the agent sent it).
    pub engine_key: String,
    /// The operator's grants, in the `--grant` syntax.
    pub grants: Vec<String>,
    /// The operator's limit overrides, if any (the manifest's limits apply otherwise).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub limits: Option<serde_json::Value>,
}

/// The outcome of one step, for the invocation's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepReport {
    pub name: String,
    pub action: String,
    pub status: InvocationStatus,
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    /// Why the step was skipped or failed without an exit code, e.g. a precondition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A node's report on one invocation: InProgress acknowledges delivery; a terminal
/// status (Success, Failed, ExecutionTimedOut, Cancelled, Undeliverable) ends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvocationReport {
    pub status: InvocationStatus,
    /// The response code: the exit code of the last step that ran.
    pub exit_code: Option<i32>,
    /// The steps' outputs, concatenated.
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReportAck {
    /// False when the invocation had ended already (a repeated report); the agent may forget it either way.
    pub recorded: bool,
    /// The status the server holds now.
    pub status: InvocationStatus,
}
