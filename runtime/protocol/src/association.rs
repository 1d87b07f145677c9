//! State Manager's API (`/v1/associations`, `/v1/compliance`): an association keeps a
//! Command document applied to the nodes its targets select, on create, when a node
//! starts matching, and on its schedule; each node's status and compliance.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::JsonMap;
use crate::rate::Limit;
use crate::target::Target;

/// The compliance severities, as SSM's.
pub const SEVERITIES: [&str; 5] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED"];

/// What an association applies, where and when: the create request, and each version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssociationDefinition {
    /// 1 to 128 letters, digits, '_', '.' or '-'; unique.
    pub name: String,
    /// A stored Command document (AWS-RunShellScript resolves to its Bosun equivalent).
    pub document_name: String,
    /// A version number, `$LATEST` or `$DEFAULT` (the default), resolved at each run.
    pub document_version: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
    /// Several targets are ANDed.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
    pub targets: Vec<Target>,
    /// `cron(...)`, `rate(...)` or `at(...)`; none: applied on create, on update and to new nodes only.
    pub schedule_expression: Option<String>,
    /// The IANA zone the schedule runs in (default UTC).
    pub schedule_timezone: Option<String>,
    /// Days after each cron fire (0 to 6).
    #[serde(default)]
    pub schedule_offset: u32,
    /// `N` or `N%` (default 50).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_concurrency: Option<Limit>,
    /// `N` or `N%` (default 0).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_errors: Option<Limit>,
    /// CRITICAL, HIGH, MEDIUM, LOW or UNSPECIFIED (the default).
    pub compliance_severity: Option<String>,
}

/// A change to an association: the fields given replace the current ones and make a new version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAssociation {
    pub document_name: Option<String>,
    pub document_version: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub parameters: Option<JsonMap>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<crate::target::TargetJson>>))]
    pub targets: Option<Vec<Target>>,
    pub schedule_expression: Option<String>,
    pub schedule_timezone: Option<String>,
    pub schedule_offset: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_concurrency: Option<Limit>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_errors: Option<Limit>,
    pub compliance_severity: Option<String>,
}

impl UpdateAssociation {
    /// `current` with the given fields replaced.
    pub fn apply(&self, current: &AssociationDefinition) -> AssociationDefinition {
        let mut next = current.clone();
        let set = |target: &mut Option<String>, given: &Option<String>| {
            if let Some(value) = given {
                *target = Some(value.clone());
            }
        };
        if let Some(name) = &self.document_name {
            next.document_name = name.clone();
        }
        set(&mut next.document_version, &self.document_version);
        if let Some(parameters) = &self.parameters {
            next.parameters = parameters.clone();
        }
        if let Some(targets) = &self.targets {
            next.targets = targets.clone();
        }
        set(&mut next.schedule_expression, &self.schedule_expression);
        set(&mut next.schedule_timezone, &self.schedule_timezone);
        if let Some(offset) = self.schedule_offset {
            next.schedule_offset = offset;
        }
        next.max_concurrency = self.max_concurrency.or(next.max_concurrency);
        next.max_errors = self.max_errors.or(next.max_errors);
        set(&mut next.compliance_severity, &self.compliance_severity);
        next
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AssociationView {
    pub association_id: String,
    pub version: u32,
    pub definition: AssociationDefinition,
    pub created_at: String,
    pub updated_at: String,
    /// The schedule's next fire (before jitter); none without a schedule or once it has ended.
    pub next_fire_at: Option<String>,
    /// When the scheduler will start that run (the fire plus this association's jitter).
    pub due_at: Option<String>,
    pub last_fire_at: Option<String>,
    /// How many nodes are in each status (Success, Failed, Pending).
    pub status_counts: BTreeMap<String, u32>,
}

/// One node's status for an association: the outcome of the latest run that included it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AssociationNodeStatus {
    pub node_id: String,
    /// Success, Failed or Pending.
    pub status: String,
    /// COMPLIANT, NON_COMPLIANT, or UNKNOWN while Pending.
    pub compliance: String,
    /// The invocation's status (e.g. ExecutionTimedOut).
    pub detail: String,
    pub run_id: String,
    pub updated_at: String,
}

/// One run of an association: a Run Command command whose id is the run's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AssociationRunView {
    pub run_id: String,
    pub version: u32,
    /// Create, Update, Schedule, CatchUp, NewNode or RunNow.
    pub trigger: String,
    /// The scheduled time, for Schedule and CatchUp runs.
    pub fire_at: Option<String>,
    pub created_at: String,
    /// Pending (not sent yet), Sent, or Failed (could not be sent; see detail).
    pub state: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AssociationDetail {
    pub association: AssociationView,
    pub nodes: Vec<AssociationNodeStatus>,
    /// The latest runs, newest first.
    pub runs: Vec<AssociationRunView>,
}

/// One version of an association.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AssociationVersionView {
    pub version: u32,
    pub created_at: String,
    pub definition: AssociationDefinition,
}

/// One node's outcome in one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeRunView {
    pub run_id: String,
    pub version: u32,
    pub trigger: String,
    /// The invocation's status.
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub ended_at: Option<String>,
}

/// Counts of association statuses on nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComplianceCounts {
    pub compliant: u32,
    pub non_compliant: u32,
    pub unknown: u32,
}

/// One node's compliance across its associations: NON_COMPLIANT if any is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeCompliance {
    pub node_id: String,
    pub compliance: String,
    pub counts: ComplianceCounts,
    /// The highest severity among its non-compliant associations.
    pub highest_severity: Option<String>,
}

/// The fleet's association compliance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComplianceSummary {
    /// Nodes by their overall compliance.
    pub nodes_compliant: u32,
    pub nodes_non_compliant: u32,
    pub nodes_unknown: u32,
    /// Association statuses on nodes, by severity.
    pub by_severity: BTreeMap<String, ComplianceCounts>,
    pub nodes: Vec<NodeCompliance>,
}
