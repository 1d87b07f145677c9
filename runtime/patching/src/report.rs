//! What a scan produces and what the control plane sends for one: the
//! baseline snapshot a node patches against, each patch's compliance state
//! (SSM's names), the counts and the node's compliance status.

use serde::{Deserialize, Serialize};

use crate::baseline::{BaselineSpec, ComplianceLevel};

/// The baseline a node patches against, resolved by the control plane for
/// that node (its patch group's baseline, or its operating system's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Snapshot {
    pub baseline_id: String,
    /// The node's `PRODUCT`: `Debian12`, `Ubuntu22.04`.
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_group: Option<String>,
    pub baseline: BaselineSpec,
}

/// A patch's compliance state, in SSM's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PatchState {
    Installed,
    InstalledOther,
    InstalledPendingReboot,
    InstalledRejected,
    Missing,
    Failed,
    NotApplicable,
}

impl PatchState {
    pub const ALL: [PatchState; 7] = [
        PatchState::Installed,
        PatchState::InstalledOther,
        PatchState::InstalledPendingReboot,
        PatchState::InstalledRejected,
        PatchState::Missing,
        PatchState::Failed,
        PatchState::NotApplicable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::Installed => "Installed",
            PatchState::InstalledOther => "InstalledOther",
            PatchState::InstalledPendingReboot => "InstalledPendingReboot",
            PatchState::InstalledRejected => "InstalledRejected",
            PatchState::Missing => "Missing",
            PatchState::Failed => "Failed",
            PatchState::NotApplicable => "NotApplicable",
        }
    }

    pub fn parse(text: &str) -> Option<PatchState> {
        PatchState::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// True for the states that make a node non-compliant.
    pub fn is_non_compliant(self) -> bool {
        matches!(self, PatchState::Missing | PatchState::Failed | PatchState::InstalledPendingReboot | PatchState::InstalledRejected)
    }
}

/// One package's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchEntry {
    pub name: String,
    pub arch: String,
    /// None for a NotApplicable patch (not installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    /// The approved version to install (Missing, Failed), or the version the baseline names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_version: Option<String>,
    pub state: PatchState,
    /// The compliance level of the rule that approved it.
    pub severity: ComplianceLevel,
    /// `Security` or `Other`.
    pub classification: String,
}

/// `COMPLIANT` or `NON_COMPLIANT`, as SSM says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceStatus {
    Compliant,
    NonCompliant,
}

impl ComplianceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::Compliant => "COMPLIANT",
            ComplianceStatus::NonCompliant => "NON_COMPLIANT",
        }
    }
}

/// A scan's (or an install's) result for one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    /// `Scan` or `Install`.
    pub operation: String,
    pub baseline_id: String,
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_group: Option<String>,
    pub status: ComplianceStatus,
    /// True when the node waits for a reboot (`/run/reboot-required`).
    pub reboot_required: bool,
    pub installed_count: usize,
    pub installed_other_count: usize,
    pub installed_pending_reboot_count: usize,
    pub installed_rejected_count: usize,
    pub missing_count: usize,
    pub failed_count: usize,
    pub not_applicable_count: usize,
    /// Every installed package, and approved-list entries not installed.
    pub patches: Vec<PatchEntry>,
    /// What the scan could not read or did not understand (list files, for instance).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl Report {
    /// A report of `patches`, counted and sorted by name.
    pub fn new(operation: &str, snapshot: &Snapshot, mut patches: Vec<PatchEntry>, reboot_required: bool, warnings: Vec<String>) -> Report {
        patches.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
        let count = |state: PatchState| patches.iter().filter(|p| p.state == state).count();
        let status =
            if patches.iter().any(|p| p.state.is_non_compliant()) { ComplianceStatus::NonCompliant } else { ComplianceStatus::Compliant };
        Report {
            operation: operation.to_string(),
            baseline_id: snapshot.baseline_id.clone(),
            product: snapshot.product.clone(),
            patch_group: snapshot.patch_group.clone(),
            status,
            reboot_required,
            installed_count: count(PatchState::Installed),
            installed_other_count: count(PatchState::InstalledOther),
            installed_pending_reboot_count: count(PatchState::InstalledPendingReboot),
            installed_rejected_count: count(PatchState::InstalledRejected),
            missing_count: count(PatchState::Missing),
            failed_count: count(PatchState::Failed),
            not_applicable_count: count(PatchState::NotApplicable),
            patches,
            warnings,
        }
    }

    /// The packages to install, as apt names them (`name:arch=version`, or
    /// `name=version` for an architecture-independent package): every Missing or Failed patch.
    pub fn install_targets(&self) -> Vec<String> {
        self.patches
            .iter()
            .filter(|p| matches!(p.state, PatchState::Missing | PatchState::Failed))
            .filter_map(|p| {
                let version = p.available_version.as_ref()?;
                Some(if p.arch == "all" { format!("{}={version}", p.name) } else { format!("{}:{}={version}", p.name, p.arch) })
            })
            .collect()
    }
}
