//! Patch Manager on the wire: baselines (their definition is AWS's JSON, kept
//! as it is), patch groups, the group tag key, each node's compliance with its
//! patches, the fleet summary, and what an agent uploads after an
//! `aws:runPatchBaseline` step (`POST /v1/agent/patch/compliance`).

use serde::{Deserialize, Serialize};

/// A patch baseline as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PatchBaselineView {
    /// `pb-…`, or the name of a predefined baseline.
    pub id: String,
    pub name: String,
    /// `DEBIAN` or `UBUNTU`.
    pub operating_system: String,
    /// Predefined baselines are read-only.
    pub predefined: bool,
    /// True when it is its operating system's default.
    pub default: bool,
    /// The patch groups registered with it.
    pub patch_groups: Vec<String>,
    /// The definition in AWS's shape (`ApprovalRules`, `ApprovedPatches`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub baseline: serde_json::Value,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
}

/// `POST /v1/patch/groups`: registers a baseline for a patch group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterPatchGroup {
    pub patch_group: String,
    pub baseline_id: String,
}

/// A patch group and the baseline its nodes of one operating system use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PatchGroupView {
    pub patch_group: String,
    pub baseline_id: String,
    pub operating_system: String,
    pub registered_at: String,
}

/// The tag whose value names a node's patch group (`Patch Group` unless changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchSettings {
    pub patch_group_tag_key: String,
}

/// `POST /v1/agent/patch/compliance`: what an `aws:runPatchBaseline` step found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPatchCompliance {
    /// The command the step ran in.
    pub command_id: String,
    /// The plugin's report (`Status`, the counts, `Patches`), as it returned it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub report: serde_json::Value,
}

/// One node's latest patch compliance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodePatchCompliance {
    pub node_id: String,
    pub baseline_id: String,
    pub patch_group: Option<String>,
    /// `Scan` or `Install`.
    pub operation: String,
    /// `COMPLIANT` or `NON_COMPLIANT`.
    pub status: String,
    pub reboot_required: bool,
    /// Patches by state: `Installed`, `InstalledOther`, `Missing`, …
    pub counts: std::collections::BTreeMap<String, u64>,
    pub command_id: String,
    pub reported_at: String,
    /// The node's patches, when one node was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<PatchRow>>,
}

/// One patch of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PatchRow {
    pub node_id: String,
    pub name: String,
    pub arch: String,
    pub installed_version: Option<String>,
    pub available_version: Option<String>,
    pub state: String,
    /// The compliance level of the rule that approved it.
    pub severity: String,
    pub classification: String,
}

/// The fleet's patch compliance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PatchSummary {
    /// Nodes with a report.
    pub nodes: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    /// Patches by state, over every node.
    pub by_state: std::collections::BTreeMap<String, u64>,
    /// Non-compliant patches (Missing, Failed, InstalledPendingReboot, InstalledRejected) by severity.
    pub non_compliant_by_severity: std::collections::BTreeMap<String, u64>,
}
