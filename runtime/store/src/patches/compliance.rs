//! Each node's latest patch compliance: the report of its last
//! `aws:runPatchBaseline` step replaces the one before (one row per node, one
//! row per patch), a change of the node's status appends a `Patch Compliance
//! Changed` event in the same transaction, and reads list nodes by group,
//! summarise the fleet and page through every patch row for an export.

use std::collections::BTreeMap;

use bosun_patching::{PatchState, Report};
use bosun_protocol::patch::{NodePatchCompliance, PatchRow, PatchSummary};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{FleetError, NewEvent, Store, now, sql_error};

/// The most patches one report may hold.
pub const MAX_PATCHES_PER_NODE: usize = 100_000;
/// Rows of one export page.
pub const EXPORT_PAGE: usize = 5000;
/// Where an export page ended: the last row's node id and index.
pub type PatchCursor = (String, i64);
const MAX_TEXT: usize = 512;

fn check(report: &Report) -> Result<(), FleetError> {
    if report.patches.len() > MAX_PATCHES_PER_NODE {
        return Err(FleetError::invalid("report.Patches", format!("{} patches; the most is {MAX_PATCHES_PER_NODE}", report.patches.len())));
    }
    for (i, p) in report.patches.iter().enumerate() {
        let texts = [Some(&p.name), Some(&p.arch), p.installed_version.as_ref(), p.available_version.as_ref(), Some(&p.classification)];
        if texts.iter().flatten().any(|t| t.len() > MAX_TEXT || t.chars().any(char::is_control)) {
            return Err(FleetError::invalid(format!("report.Patches[{i}]"), format!("texts are at most {MAX_TEXT} printable characters")));
        }
    }
    for (field, text) in [("report.BaselineId", &report.baseline_id), ("report.Operation", &report.operation)] {
        if text.len() > MAX_TEXT {
            return Err(FleetError::invalid(field, format!("at most {MAX_TEXT} characters")));
        }
    }
    Ok(())
}

fn counts(report: &Report) -> BTreeMap<String, u64> {
    PatchState::ALL.iter().map(|s| (s.as_str().to_string(), report.patches.iter().filter(|p| p.state == *s).count() as u64)).collect()
}

fn put(conn: &Connection, node_id: &str, command_id: &str, report: &Report) -> Result<(), FleetError> {
    let live: Option<Option<String>> =
        conn.query_row("SELECT deregistered_at FROM nodes WHERE id = ?1", [node_id], |r| r.get(0)).optional().map_err(sql_error)?;
    match live {
        None => return Err(FleetError::NotFound(format!("no node {node_id}"))),
        Some(Some(_)) => return Err(FleetError::Conflict(format!("node {node_id} is deregistered"))),
        Some(None) => {}
    }
    let previous: Option<String> =
        conn.query_row("SELECT status FROM patch_compliance WHERE node_id = ?1", [node_id], |r| r.get(0)).optional().map_err(sql_error)?;
    let counts = counts(report);
    conn.execute("DELETE FROM patch_compliance WHERE node_id = ?1", [node_id]).map_err(sql_error)?;
    conn.execute(
        "INSERT INTO patch_compliance (node_id, baseline_id, patch_group, operation, status, reboot_required, counts, command_id, reported_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            node_id,
            report.baseline_id,
            report.patch_group,
            report.operation,
            report.status.as_str(),
            report.reboot_required,
            serde_json::to_string(&counts).expect("counts serialise"),
            command_id,
            now()
        ],
    )
    .map_err(sql_error)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO patch_entries (node_id, idx, name, arch, installed_version, available_version, state, severity, classification)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(sql_error)?;
    for (idx, p) in report.patches.iter().enumerate() {
        insert
            .execute(params![
                node_id,
                idx as i64,
                p.name,
                p.arch,
                p.installed_version,
                p.available_version,
                p.state.as_str(),
                p.severity.as_str(),
                p.classification
            ])
            .map_err(sql_error)?;
    }
    let status = report.status.as_str();
    if previous.as_deref() != Some(status) {
        let event = NewEvent {
            source: "bosun.patch".into(),
            detail_type: "Patch Compliance Changed".into(),
            resources: vec![format!("node/{node_id}")],
            detail: serde_json::json!({
                "nodeId": node_id, "status": status, "previousStatus": previous, "baselineId": report.baseline_id,
                "patchGroup": report.patch_group, "operation": report.operation, "commandId": command_id, "counts": counts,
            }),
        };
        crate::events::append(conn, &event)?;
    }
    Ok(())
}

const NODE_COLUMNS: &str = "node_id, baseline_id, patch_group, operation, status, reboot_required, counts, command_id, reported_at";

fn node_row(r: &Row<'_>) -> Result<NodePatchCompliance, rusqlite::Error> {
    let counts: String = r.get(6)?;
    Ok(NodePatchCompliance {
        node_id: r.get(0)?,
        baseline_id: r.get(1)?,
        patch_group: r.get(2)?,
        operation: r.get(3)?,
        status: r.get(4)?,
        reboot_required: r.get(5)?,
        counts: serde_json::from_str(&counts).map_err(|e| crate::fleet::json_error(6, e))?,
        command_id: r.get(7)?,
        reported_at: r.get(8)?,
        patches: None,
    })
}

fn patch_row(r: &Row<'_>) -> Result<PatchRow, rusqlite::Error> {
    Ok(PatchRow {
        node_id: r.get(0)?,
        name: r.get(1)?,
        arch: r.get(2)?,
        installed_version: r.get(3)?,
        available_version: r.get(4)?,
        state: r.get(5)?,
        severity: r.get(6)?,
        classification: r.get(7)?,
    })
}

const PATCH_COLUMNS: &str = "node_id, name, arch, installed_version, available_version, state, severity, classification";

fn node_patches(conn: &Connection, node_id: &str) -> Result<Vec<PatchRow>, rusqlite::Error> {
    conn.prepare_cached(&format!("SELECT {PATCH_COLUMNS} FROM patch_entries WHERE node_id = ?1 ORDER BY idx"))?
        .query_map([node_id], patch_row)?
        .collect()
}

impl Store {
    /// Stores a node's report, replacing its previous one.
    pub async fn put_patch_report(&self, node_id: &str, command_id: &str, report: Report) -> Result<(), FleetError> {
        check(&report)?;
        let (node_id, command_id) = (node_id.to_string(), command_id.to_string());
        self.fleet_write_async(move |conn| put(conn, &node_id, &command_id, &report)).await
    }

    /// The same, from blocking code.
    pub fn put_patch_report_blocking(&self, node_id: &str, command_id: &str, report: Report) -> Result<(), FleetError> {
        check(&report)?;
        let (node_id, command_id) = (node_id.to_string(), command_id.to_string());
        self.fleet_write(move |conn| put(conn, &node_id, &command_id, &report))
    }

    /// The nodes' compliance, of one patch group or one node when given; one
    /// node's answer carries its patches.
    pub fn patch_compliance(&self, group: Option<&str>, node: Option<&str>) -> Result<Vec<NodePatchCompliance>, FleetError> {
        Ok(self.fleet_read(|conn| {
            let mut nodes: Vec<NodePatchCompliance> = conn
                .prepare(&format!(
                    "SELECT {NODE_COLUMNS} FROM patch_compliance WHERE (?1 IS NULL OR patch_group = ?1) AND (?2 IS NULL OR node_id = ?2) ORDER BY node_id"
                ))?
                .query_map(params![group, node], node_row)?
                .collect::<Result<_, _>>()?;
            if node.is_some() {
                for found in &mut nodes {
                    found.patches = Some(node_patches(conn, &found.node_id)?);
                }
            }
            Ok(nodes)
        })?)
    }

    /// The fleet's compliance (of one patch group when given).
    pub fn patch_summary(&self, group: Option<&str>) -> Result<PatchSummary, FleetError> {
        Ok(self.fleet_read(|conn| {
            let mut summary = PatchSummary::default();
            for node in conn
                .prepare(&format!("SELECT {NODE_COLUMNS} FROM patch_compliance WHERE ?1 IS NULL OR patch_group = ?1"))?
                .query_map([group], node_row)?
            {
                let node = node?;
                summary.nodes += 1;
                if node.status == "COMPLIANT" {
                    summary.compliant += 1;
                } else {
                    summary.non_compliant += 1;
                }
                for (state, count) in node.counts {
                    *summary.by_state.entry(state).or_default() += count;
                }
            }
            let bad: Vec<&str> = PatchState::ALL.iter().filter(|s| s.is_non_compliant()).map(|s| s.as_str()).collect();
            let mut by_severity = conn.prepare(&format!(
                "SELECT e.severity, COUNT(*) FROM patch_entries e JOIN patch_compliance c ON c.node_id = e.node_id
                 WHERE (?1 IS NULL OR c.patch_group = ?1) AND e.state IN ('{}') GROUP BY e.severity",
                bad.join("','")
            ))?;
            for row in by_severity.query_map([group], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (severity, count) = row?;
                summary.non_compliant_by_severity.insert(severity, count as u64);
            }
            Ok(summary)
        })?)
    }

    /// One page of every patch row (of one group when given), after `after`
    /// (a node id and row index), in (node, row) order.
    pub fn export_patches(
        &self,
        group: Option<&str>,
        after: Option<(&str, i64)>,
        limit: usize,
    ) -> Result<(Vec<PatchRow>, Option<PatchCursor>), FleetError> {
        let (after_node, after_idx) = after.unwrap_or(("", -1));
        Ok(self.fleet_read(|conn| {
            let mut rows = Vec::new();
            let mut last = None;
            let mut statement = conn.prepare_cached(&format!(
                "SELECT e.{}, e.idx FROM patch_entries e JOIN patch_compliance c ON c.node_id = e.node_id
                 WHERE (?1 IS NULL OR c.patch_group = ?1) AND (e.node_id, e.idx) > (?2, ?3) ORDER BY e.node_id, e.idx LIMIT ?4",
                PATCH_COLUMNS.replace(", ", ", e.")
            ))?;
            let mut found = statement.query(params![group, after_node, after_idx, limit.min(EXPORT_PAGE) as i64])?;
            while let Some(r) = found.next()? {
                let row = patch_row(r)?;
                last = Some((row.node_id.clone(), r.get::<_, i64>(8)?));
                rows.push(row);
            }
            let more = rows.len() == limit.min(EXPORT_PAGE);
            Ok((rows, if more { last } else { None }))
        })?)
    }
}
