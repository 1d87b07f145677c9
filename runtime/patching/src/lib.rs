//! Patch Manager's pure core, shared by the `aws:runPatchBaseline` plugin
//! (wasm32-wasip2), the control plane and `bosun bench patch`: baselines in
//! AWS's JSON shape and their approval rules, dpkg's status database and apt's
//! package lists, and the scan that turns them into a compliance report.

pub mod approval;
pub mod apt;
pub mod baseline;
pub mod dpkg;
pub mod names;
#[cfg(test)]
mod properties;
pub mod report;
pub mod scan;
pub mod stanza;
pub mod synthetic;

pub use baseline::{BaselineSpec, ComplianceLevel, OperatingSystem, RejectedPatchesAction};
pub use report::{ComplianceStatus, PatchEntry, PatchState, Report, Snapshot};
pub use scan::{ScanOptions, scan};
