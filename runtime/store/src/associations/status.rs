//! Node statuses of associations. When a run's command is recorded, each of its nodes
//! becomes Pending for the association; as the invocations end, `settle` turns them
//! into Success or Failed with their compliance (COMPLIANT or NON_COMPLIANT) and
//! appends an event for every compliance change, in the same transaction.

use std::collections::BTreeMap;

use bosun_engine::StoreError;
use bosun_protocol::InvocationStatus;
use bosun_protocol::association::{AssociationNodeStatus, ComplianceCounts, ComplianceSummary, NodeCompliance, NodeRunView, SEVERITIES};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde_json::json;

use super::definition_from;
use crate::events::{NewEvent, append};
use crate::{Store, sql_error, timestamp};

/// How a run ended up after the attempt to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSent {
    /// Its command is recorded (the command's id is the run's).
    Sent,
    /// It could not be sent; these nodes (if known) are Failed with the reason.
    Refused { reason: String, nodes: Vec<String> },
}

/// The association status and compliance of an ended invocation status.
fn outcome(invocation_status: &str) -> Option<(&'static str, &'static str)> {
    let status = InvocationStatus::parse(invocation_status)?;
    if !status.is_terminal() {
        None
    } else if status == InvocationStatus::Success {
        Some(("Success", "COMPLIANT"))
    } else {
        Some(("Failed", "NON_COMPLIANT"))
    }
}

/// A node's new status for an association.
struct NodeOutcome<'a> {
    run_id: &'a str,
    status: &'a str,
    compliance: &'a str,
    detail: &'a str,
}

fn upsert_node(conn: &Connection, association_id: &str, node: &str, outcome: &NodeOutcome<'_>, at: &str) -> Result<(), StoreError> {
    let NodeOutcome { run_id, status, compliance, detail } = outcome;
    conn.prepare_cached(
        "INSERT INTO association_nodes (association_id, node_id, run_id, status, compliance, detail, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (association_id, node_id) DO UPDATE SET \
         run_id = ?3, status = ?4, compliance = CASE WHEN ?4 = 'Pending' THEN compliance ELSE ?5 END, detail = ?6, updated_at = ?7",
    )
    .and_then(|mut s| s.execute(params![association_id, node, run_id, status, compliance, detail, at]))
    .map(|_| ())
    .map_err(sql_error)
}

/// A change of one node's compliance for one association.
struct ComplianceChange<'a> {
    association_id: &'a str,
    name: &'a str,
    node: &'a str,
    previous: Option<&'a str>,
    severity: &'a str,
    outcome: NodeOutcome<'a>,
}

impl ComplianceChange<'_> {
    fn event(&self) -> NewEvent {
        NewEvent {
            source: "bosun.association".into(),
            detail_type: "Association Compliance Changed".into(),
            resources: vec![format!("association/{}", self.association_id), format!("node/{}", self.node)],
            detail: json!({
                "associationId": self.association_id,
                "associationName": self.name,
                "nodeId": self.node,
                "compliance": self.outcome.compliance,
                "previousCompliance": self.previous,
                "severity": self.severity,
                "runId": self.outcome.run_id,
                "status": self.outcome.detail,
            }),
        }
    }
}

pub(crate) fn node_statuses(conn: &Connection, association_id: &str) -> rusqlite::Result<Vec<AssociationNodeStatus>> {
    let mut statement = conn.prepare_cached(
        "SELECT node_id, status, compliance, detail, run_id, updated_at FROM association_nodes WHERE association_id = ?1 ORDER BY node_id",
    )?;
    statement
        .query_map([association_id], |r| {
            Ok(AssociationNodeStatus {
                node_id: r.get(0)?,
                status: r.get(1)?,
                compliance: r.get(2)?,
                detail: r.get(3)?,
                run_id: r.get(4)?,
                updated_at: r.get(5)?,
            })
        })?
        .collect()
}

impl Store {
    /// Records what became of a pending run; its nodes become Pending (sent) or Failed (refused).
    pub fn record_association_run(&self, run_id: &str, sent: RunSent, now: DateTime<Utc>) -> Result<(), StoreError> {
        let run_id = run_id.to_string();
        self.write_job(move |conn| {
            let at = timestamp(now);
            let Some(association_id) = conn
                .query_row("SELECT association_id FROM association_runs WHERE id = ?1 AND state = 'Pending'", [&run_id], |r| {
                    r.get::<_, String>(0)
                })
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
                .map_err(sql_error)?
            else {
                return Ok(());
            };
            match &sent {
                RunSent::Sent => {
                    let mut statement = conn
                        .prepare_cached("SELECT i.node_id FROM invocations i JOIN commands c ON c.no = i.command_no WHERE c.id = ?1")
                        .map_err(sql_error)?;
                    let nodes: Vec<String> = statement.query_map([&run_id], |r| r.get(0)).and_then(Iterator::collect).map_err(sql_error)?;
                    for node in &nodes {
                        let pending = NodeOutcome { run_id: &run_id, status: "Pending", compliance: "UNKNOWN", detail: "Pending" };
                        upsert_node(conn, &association_id, node, &pending, &at)?;
                    }
                    conn.execute("UPDATE association_runs SET state = 'Sent' WHERE id = ?1", [&run_id]).map_err(sql_error)?;
                }
                RunSent::Refused { reason, nodes } => {
                    for node in nodes {
                        let refused = NodeOutcome { run_id: &run_id, status: "Failed", compliance: "NON_COMPLIANT", detail: reason };
                        upsert_node(conn, &association_id, node, &refused, &at)?;
                    }
                    conn.execute("UPDATE association_runs SET state = 'Failed', detail = ?2 WHERE id = ?1", params![run_id, reason])
                        .map_err(sql_error)?;
                }
            }
            Ok(())
        })
    }

    /// Turns Pending node statuses whose invocation has ended into Success or Failed,
    /// appending an event for each change of compliance. Returns how many changed.
    pub fn settle_association_statuses(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.write_job(move |conn| {
            let at = timestamp(now);
            let mut statement = conn
                .prepare_cached(
                    "SELECT n.association_id, n.node_id, n.run_id, n.compliance, i.status, a.name, a.definition \
                     FROM association_nodes n JOIN invocations i ON i.id = n.run_id || '.' || n.node_id \
                     JOIN associations a ON a.id = n.association_id \
                     WHERE n.status = 'Pending' AND i.ended_at IS NOT NULL",
                )
                .map_err(sql_error)?;
            let ended = statement
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(sql_error)?;
            let mut changed = 0;
            for (association_id, node, run_id, previous, invocation_status, name, definition) in ended {
                let Some((status, compliance)) = outcome(&invocation_status) else { continue };
                let outcome = NodeOutcome { run_id: &run_id, status, compliance, detail: &invocation_status };
                upsert_node(conn, &association_id, &node, &outcome, &at)?;
                changed += 1;
                if previous != compliance {
                    let severity =
                        definition_from(&definition).ok().and_then(|d| d.compliance_severity).unwrap_or_else(|| "UNSPECIFIED".into());
                    let previous = (previous != "UNKNOWN").then_some(previous.as_str());
                    let change = ComplianceChange {
                        association_id: &association_id,
                        name: &name,
                        node: &node,
                        previous,
                        severity: &severity,
                        outcome,
                    };
                    append(conn, &change.event())?;
                }
            }
            Ok(changed)
        })
    }

    /// One node's runs of an association, newest first, with their outcomes.
    pub fn association_node_history(&self, association_id: &str, node_id: &str, limit: usize) -> Result<Vec<NodeRunView>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT r.id, r.version, r.trigger, i.status, i.exit_code, i.stdout, i.stderr, i.ended_at \
                 FROM association_runs r JOIN commands c ON c.id = r.id JOIN invocations i ON i.command_no = c.no \
                 WHERE r.association_id = ?1 AND i.node_id = ?2 ORDER BY r.no DESC LIMIT ?3",
            )?;
            statement
                .query_map(params![association_id, node_id, limit as i64], |r| {
                    Ok(NodeRunView {
                        run_id: r.get(0)?,
                        version: r.get(1)?,
                        trigger: r.get(2)?,
                        status: r.get(3)?,
                        exit_code: r.get(4)?,
                        stdout: r.get(5)?,
                        stderr: r.get(6)?,
                        ended_at: r.get(7)?,
                    })
                })?
                .collect()
        })
    }

    /// The fleet's association compliance: per node, and by severity.
    pub fn compliance_summary(&self) -> Result<ComplianceSummary, StoreError> {
        let rows = self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT n.node_id, n.compliance, a.definition FROM association_nodes n JOIN associations a ON a.id = n.association_id",
            )?;
            statement
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let mut by_severity: BTreeMap<String, ComplianceCounts> = BTreeMap::new();
        let mut nodes: BTreeMap<String, NodeCompliance> = BTreeMap::new();
        for (node, compliance, definition) in rows {
            let severity = definition_from(&definition).ok().and_then(|d| d.compliance_severity).unwrap_or_else(|| "UNSPECIFIED".into());
            let entry = nodes.entry(node.clone()).or_insert_with(|| NodeCompliance {
                node_id: node,
                compliance: String::new(),
                counts: ComplianceCounts::default(),
                highest_severity: None,
            });
            for counts in [by_severity.entry(severity.clone()).or_default(), &mut entry.counts] {
                match compliance.as_str() {
                    "COMPLIANT" => counts.compliant += 1,
                    "NON_COMPLIANT" => counts.non_compliant += 1,
                    _ => counts.unknown += 1,
                }
            }
            if compliance == "NON_COMPLIANT" {
                let rank = |s: &str| SEVERITIES.iter().position(|x| *x == s).unwrap_or(SEVERITIES.len());
                if entry.highest_severity.as_deref().is_none_or(|h| rank(&severity) < rank(h)) {
                    entry.highest_severity = Some(severity);
                }
            }
        }
        let mut summary =
            ComplianceSummary { nodes_compliant: 0, nodes_non_compliant: 0, nodes_unknown: 0, by_severity, nodes: Vec::new() };
        for (_, mut node) in nodes {
            node.compliance = if node.counts.non_compliant > 0 {
                summary.nodes_non_compliant += 1;
                "NON_COMPLIANT"
            } else if node.counts.unknown > 0 {
                summary.nodes_unknown += 1;
                "UNKNOWN"
            } else {
                summary.nodes_compliant += 1;
                "COMPLIANT"
            }
            .into();
            summary.nodes.push(node);
        }
        Ok(summary)
    }
}
