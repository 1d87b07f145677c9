//! The events API: webhook triggers (`/v1/hooks`), rules with their targets
//! (`/v1/rules`), the dead-letter list (`/v1/events/dlq`), OpsItems (`/v1/opsitems`)
//! and the audit trail (`/v1/audit`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JsonMap;
use crate::target::Target;

/// How a hook's senders sign their requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum HookScheme {
    /// webhook-id, webhook-timestamp and webhook-signature (`v1,<base64 HMAC-SHA256>` of `id.timestamp.body`).
    #[default]
    StandardWebhooks,
    /// GitHub's X-Hub-Signature-256 (`sha256=<hex HMAC-SHA256 of the body>`), with X-GitHub-Delivery as the message id.
    Github,
}

impl HookScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            HookScheme::StandardWebhooks => "standard-webhooks",
            HookScheme::Github => "github",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "standard-webhooks" => Some(HookScheme::StandardWebhooks),
            "github" => Some(HookScheme::Github),
            _ => None,
        }
    }
}

/// The default largest body a hook accepts.
pub const DEFAULT_HOOK_BODY_LIMIT: u64 = 256 * 1024;
/// The largest body limit a hook may be given.
pub const MAX_HOOK_BODY_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateHook {
    /// 1 to 64 letters, digits, '_', '.' or '-': the hook is `POST /v1/hooks/{name}`.
    pub name: String,
    /// The `source` of the events it records (default `hook.<name>`).
    pub source: Option<String>,
    #[serde(default)]
    pub scheme: HookScheme,
    /// The largest body accepted, in bytes (default 256 KiB).
    pub body_limit: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HookView {
    pub name: String,
    pub source: String,
    pub scheme: HookScheme,
    pub body_limit: u64,
    pub created_at: String,
    /// Until when the secret before the last rotation is still accepted.
    pub previous_secret_valid_until: Option<String>,
}

/// A hook's secret, shown when it is made and never again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HookSecret {
    pub hook: HookView,
    /// `whsec_<base64>` (GitHub hooks use the same text as their secret).
    pub secret: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret stays valid (default 86400).
    pub grace_seconds: Option<u64>,
}

/// What a hook answers: the id of the event it stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HookAccepted {
    pub event_id: String,
}

/// A rule: an event pattern and what to do with the events it matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSpec {
    /// 1 to 64 letters, digits, '_', '.' or '-'.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// An EventBridge event pattern.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event_pattern: Value,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// At most 5 targets.
    pub targets: Vec<RuleTarget>,
}

fn enabled() -> bool {
    true
}

/// The most targets a rule may have, as in EventBridge.
pub const MAX_TARGETS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleTarget {
    /// Unique within the rule.
    pub id: String,
    pub action: TargetAction,
    /// A constant input given instead of the event. Exclusive with `inputTransformer`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub input: Option<Value>,
    /// An input built from the event: `inputPaths` and an `inputTemplate`.
    pub input_transformer: Option<InputTransformerSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputTransformerSpec {
    /// Name to a path into the event, e.g. `"state": "$.detail.state"`.
    #[serde(default)]
    pub input_paths: std::collections::BTreeMap<String, String>,
    /// Text with `<name>` placeholders (and `<aws.events.event>`, the whole event).
    pub input_template: String,
}

/// What a target does with the input (the event, a constant, or the transformer's output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum TargetAction {
    /// Starts an Automation execution; the input (a JSON object) gives its parameters.
    Automation { document_name: String },
    /// Sends a Command document through Run Command; the input (a JSON object) gives its parameters.
    RunCommand {
        document_name: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
        targets: Vec<Target>,
    },
    /// POSTs the input, signed with Standard Webhooks (`secret` is `whsec_<base64>`).
    Webhook { url: String, secret: String },
    /// Creates an OpsItem (or updates the open one with the same deduplication string).
    /// An input object may set title, description, severity, category and deduplication.
    OpsItem {
        title: String,
        #[serde(default)]
        severity: Option<String>,
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        deduplication: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub created_at: String,
    pub updated_at: String,
}

/// `bosun rule test`'s request: does this pattern match this event?
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestPattern {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event_pattern: Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event: Value,
}

/// A delivery of one event to one rule target that ran out of attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub delivery_id: i64,
    pub event_id: String,
    pub rule: String,
    pub target_id: String,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayDeadLetters {
    /// The deliveries to try again; none means every dead letter.
    #[serde(default)]
    pub delivery_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    pub replayed: usize,
}

/// OpsItem statuses, as in OpsCenter.
pub const OPSITEM_STATUSES: &[&str] = &["Open", "InProgress", "Resolved"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OpsItemView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub source: String,
    pub severity: String,
    pub category: String,
    pub status: String,
    pub related_resources: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub operational_data: JsonMap,
    pub deduplication: Option<String>,
    /// How many events this OpsItem stands for (a repeated event counts again).
    pub occurrences: u32,
    pub runbooks: Vec<String>,
    /// The Automation executions started from it.
    pub executions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateOpsItem {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Runbooks (document names) to associate.
    #[serde(default)]
    pub add_runbooks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRunbook {
    pub document_name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
}

/// One row of the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: i64,
    pub time: String,
    /// The token name, `hook:<name>`, or `rule:<name>` for what a rule started.
    pub principal: String,
    /// `POST /v1/rules`, or `start-execution <document>`.
    pub action: String,
    pub source_address: String,
    /// The HTTP status, or `started`.
    pub outcome: String,
}
