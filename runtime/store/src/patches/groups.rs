//! Patch groups and the baseline a node patches against: a node's group is
//! the value of its patch-group tag (`Patch Group` unless changed), so a node
//! is in at most one group; the group's baseline for the node's operating
//! system applies, otherwise that system's default baseline.

use bosun_patching::Snapshot;
use bosun_patching::baseline::OperatingSystem;
use bosun_protocol::agent::Platform;
use bosun_protocol::patch::{PatchGroupView, PatchSettings};
use bosun_protocol::target::{check_tag_key, check_tag_value};
use rusqlite::{Connection, OptionalExtension, params};

use super::baselines::{default_of, find};
use crate::{FleetError, Store, now, sql_error};

/// The tag key that names a node's patch group, as in AWS.
pub const DEFAULT_GROUP_TAG_KEY: &str = "Patch Group";
const TAG_KEY_SETTING: &str = "patch_group_tag_key";
/// The most patch groups a store keeps.
const MAX_GROUPS: i64 = 5000;

fn tag_key(conn: &Connection) -> Result<String, rusqlite::Error> {
    let stored: Option<String> =
        conn.prepare_cached("SELECT value FROM patch_settings WHERE key = ?1")?.query_row([TAG_KEY_SETTING], |r| r.get(0)).optional()?;
    Ok(stored.unwrap_or_else(|| DEFAULT_GROUP_TAG_KEY.to_string()))
}

fn register(conn: &Connection, group: &str, baseline_id: &str) -> Result<PatchGroupView, FleetError> {
    let baseline =
        find(conn, baseline_id).map_err(sql_error)?.ok_or_else(|| FleetError::NotFound(format!("no patch baseline {baseline_id}")))?;
    let os = baseline.spec.operating_system.as_str();
    let existing: Option<String> = conn
        .query_row("SELECT baseline_id FROM patch_groups WHERE name = ?1 AND operating_system = ?2", [group, os], |r| r.get(0))
        .optional()
        .map_err(sql_error)?;
    if let Some(existing) = existing {
        return Err(FleetError::Conflict(format!("patch group {group} already uses {existing} for {os}; deregister it first")));
    }
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM patch_groups", [], |r| r.get(0)).map_err(sql_error)?;
    if count >= MAX_GROUPS {
        return Err(FleetError::Conflict(format!("this store keeps at most {MAX_GROUPS} patch group registrations")));
    }
    let at = now();
    conn.execute(
        "INSERT INTO patch_groups (name, operating_system, baseline_id, registered_at) VALUES (?1, ?2, ?3, ?4)",
        params![group, os, baseline.id, at],
    )
    .map_err(sql_error)?;
    Ok(PatchGroupView { patch_group: group.into(), baseline_id: baseline.id, operating_system: os.into(), registered_at: at })
}

fn deregister(conn: &Connection, group: &str, baseline_id: &str) -> Result<(), FleetError> {
    let baseline =
        find(conn, baseline_id).map_err(sql_error)?.ok_or_else(|| FleetError::NotFound(format!("no patch baseline {baseline_id}")))?;
    let removed =
        conn.execute("DELETE FROM patch_groups WHERE name = ?1 AND baseline_id = ?2", [group, &baseline.id]).map_err(sql_error)?;
    if removed == 0 {
        return Err(FleetError::NotFound(format!("patch group {group} is not registered with {}", baseline.id)));
    }
    Ok(())
}

/// The baseline snapshot of a node: its operating system from the platform it
/// reported, its group from its tag.
fn snapshot(conn: &Connection, node_id: &str) -> Result<Snapshot, FleetError> {
    let row: Option<(String, Option<String>)> = conn
        .query_row("SELECT platform, deregistered_at FROM nodes WHERE id = ?1", [node_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sql_error)?;
    let platform = match row {
        None => return Err(FleetError::NotFound(format!("no node {node_id}"))),
        Some((_, Some(_))) => return Err(FleetError::Conflict(format!("node {node_id} is deregistered"))),
        Some((platform, None)) => serde_json::from_str::<Platform>(&platform).unwrap_or_default(),
    };
    let os = OperatingSystem::of_platform(&platform.name).ok_or_else(|| {
        FleetError::Conflict(format!("node {node_id} runs \"{}\"; Patch Manager patches Debian and Ubuntu", platform.name))
    })?;
    let key = tag_key(conn).map_err(sql_error)?;
    let group: Option<String> = conn
        .query_row("SELECT value FROM node_tags WHERE node_id = ?1 AND key = ?2", [node_id, &key], |r| r.get(0))
        .optional()
        .map_err(sql_error)?;
    let registered: Option<String> = match &group {
        Some(group) => conn
            .query_row("SELECT baseline_id FROM patch_groups WHERE name = ?1 AND operating_system = ?2", [group, os.as_str()], |r| r.get(0))
            .optional()
            .map_err(sql_error)?,
        None => None,
    };
    let baseline_id = match registered {
        Some(id) => id,
        None => default_of(conn, os).map_err(sql_error)?,
    };
    let baseline =
        find(conn, &baseline_id).map_err(sql_error)?.ok_or_else(|| FleetError::NotFound(format!("no patch baseline {baseline_id}")))?;
    Ok(Snapshot { baseline_id: baseline.id, product: os.product(&platform.version), patch_group: group, baseline: baseline.spec })
}

impl Store {
    /// Registers a baseline for a patch group (one baseline per group and operating system).
    pub fn register_patch_group(&self, group: &str, baseline_id: &str) -> Result<PatchGroupView, FleetError> {
        check_tag_value(group).map_err(|e| FleetError::invalid("patchGroup", e.0))?;
        if group.is_empty() {
            return Err(FleetError::invalid("patchGroup", "a patch group needs a name"));
        }
        let (group, baseline_id) = (group.to_string(), baseline_id.to_string());
        self.fleet_write(move |conn| register(conn, &group, &baseline_id))
    }

    /// Removes a patch group's registration with a baseline.
    pub fn deregister_patch_group(&self, group: &str, baseline_id: &str) -> Result<(), FleetError> {
        let (group, baseline_id) = (group.to_string(), baseline_id.to_string());
        self.fleet_write(move |conn| deregister(conn, &group, &baseline_id))
    }

    /// Every patch group registration, by group.
    pub fn list_patch_groups(&self) -> Result<Vec<PatchGroupView>, FleetError> {
        Ok(self.fleet_read(|conn| {
            conn.prepare("SELECT name, baseline_id, operating_system, registered_at FROM patch_groups ORDER BY name, operating_system")?
                .query_map([], |r| {
                    Ok(PatchGroupView {
                        patch_group: r.get(0)?,
                        baseline_id: r.get(1)?,
                        operating_system: r.get(2)?,
                        registered_at: r.get(3)?,
                    })
                })?
                .collect()
        })?)
    }

    /// The settings of Patch Manager.
    pub fn patch_settings(&self) -> Result<PatchSettings, FleetError> {
        Ok(PatchSettings { patch_group_tag_key: self.fleet_read(tag_key)? })
    }

    /// Changes the tag key that names a node's patch group.
    pub fn set_patch_settings(&self, settings: PatchSettings) -> Result<PatchSettings, FleetError> {
        check_tag_key(&settings.patch_group_tag_key).map_err(|e| FleetError::invalid("patchGroupTagKey", e.0))?;
        let key = settings.patch_group_tag_key.clone();
        self.fleet_write(move |conn| {
            conn.execute(
                "INSERT INTO patch_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [TAG_KEY_SETTING, &key],
            )
            .map_err(sql_error)?;
            Ok(())
        })?;
        Ok(settings)
    }

    /// The baseline a node patches against now.
    pub fn patch_snapshot(&self, node_id: &str) -> Result<Snapshot, FleetError> {
        self.fleet_read(|conn| Ok(snapshot(conn, node_id)))?
    }
}
