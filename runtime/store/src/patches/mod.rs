//! Patch Manager's records: patch baselines (operators' custom ones; the
//! predefined ones live in code and are read-only), the default baseline of
//! each operating system, patch groups (a group name and an operating system
//! lead to one baseline), the tag key that names a node's group, and each
//! node's latest compliance report with one row per patch. A report that
//! changes a node's compliance status appends a `Patch Compliance Changed`
//! event (`bosun.patch`) in the same transaction.

mod baselines;
mod compliance;
mod groups;

pub use baselines::MAX_BASELINES;
pub use compliance::{EXPORT_PAGE, MAX_PATCHES_PER_NODE, PatchCursor};
pub use groups::DEFAULT_GROUP_TAG_KEY;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS patch_baselines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    operating_system TEXT NOT NULL,
    -- The definition, in AWS's JSON shape.
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
-- An operating system without a row here uses its predefined baseline.
CREATE TABLE IF NOT EXISTS patch_default_baselines (
    operating_system TEXT PRIMARY KEY,
    baseline_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS patch_groups (
    name TEXT NOT NULL,
    operating_system TEXT NOT NULL,
    baseline_id TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (name, operating_system)
);
CREATE TABLE IF NOT EXISTS patch_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS patch_compliance (
    node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    baseline_id TEXT NOT NULL,
    patch_group TEXT,
    operation TEXT NOT NULL,
    status TEXT NOT NULL,
    reboot_required INTEGER NOT NULL,
    -- Patches by state (a JSON object).
    counts TEXT NOT NULL,
    command_id TEXT NOT NULL,
    reported_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS patch_compliance_by_group ON patch_compliance (patch_group);
CREATE TABLE IF NOT EXISTS patch_entries (
    node_id TEXT NOT NULL REFERENCES patch_compliance (node_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    arch TEXT NOT NULL,
    installed_version TEXT,
    available_version TEXT,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    classification TEXT NOT NULL,
    PRIMARY KEY (node_id, idx)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS patch_forget_deregistered AFTER UPDATE OF deregistered_at ON nodes
WHEN NEW.deregistered_at IS NOT NULL
BEGIN
    DELETE FROM patch_compliance WHERE node_id = NEW.id;
END;
";

#[cfg(test)]
mod tests;
