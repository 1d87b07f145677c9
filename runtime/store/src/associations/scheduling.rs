//! The durable scheduler's store side. A due association is claimed in one
//! transaction: its run is recorded and its next fire committed together, so a run is
//! neither lost nor made twice across restarts. Missed-run policy: however many fires
//! passed while the scheduler was down, one run is made (a CatchUp run when more than
//! one fire passed) and the schedule goes on from the first fire after now — never a
//! burst. Jitter: each association is due a fixed, id-derived delay after its fire (at
//! most a minute, and a tenth of the gap to the following fire), so many associations
//! on one schedule spread out.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bosun_engine::StoreError;
use bosun_protocol::association::AssociationDefinition;
use bosun_schedule::Schedule;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{definition_from, insert_run, next_fire};
use crate::{Store, sql_error, timestamp};

/// The largest jitter.
pub const MAX_JITTER: Duration = Duration::from_secs(60);
/// The most associations claimed in one transaction.
const CLAIM_BATCH: i64 = 500;

/// The delay after `fire` at which association `id` is due: derived from the id and the
/// fire, so every process computes the same.
pub fn jitter(id: &str, fire: DateTime<Utc>, following: Option<DateTime<Utc>>) -> chrono::Duration {
    let mut window = chrono::Duration::from_std(MAX_JITTER).unwrap_or_default();
    if let Some(following) = following {
        window = window.min((following - fire) / 10);
    }
    let window_ms = window.num_milliseconds();
    if window_ms <= 0 {
        return chrono::Duration::zero();
    }
    let digest = Sha256::digest(format!("{id}@{}", fire.timestamp()).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    chrono::Duration::milliseconds((u64::from_le_bytes(first) % window_ms as u64) as i64)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// A run recorded and not sent yet.
#[derive(Debug, Clone)]
pub struct PendingRun {
    pub run_id: String,
    pub association_id: String,
    pub version: u32,
    pub trigger: String,
    /// The definition of the run's version.
    pub definition: AssociationDefinition,
    /// Only these nodes (a NewNode run); otherwise the definition's targets.
    pub nodes: Option<Vec<String>>,
}

/// The nodes an association has a status for.
fn known_nodes(conn: &Connection, association_id: &str) -> rusqlite::Result<BTreeSet<String>> {
    conn.prepare_cached("SELECT node_id FROM association_nodes WHERE association_id = ?1")?
        .query_map([association_id], |r| r.get(0))?
        .collect()
}

impl Store {
    /// A digest of everything that decides which nodes an association has still to be
    /// applied to: the registered nodes and their tags, the groups, the associations, their
    /// runs and node statuses. Equal digests mean a reconcile would find nothing new —
    /// unless a run is still to be sent, for which this answers None.
    pub fn reconcile_fingerprint(&self) -> Result<Option<String>, StoreError> {
        self.fleet_read(|conn| {
            let pending: i64 = conn.query_row("SELECT COUNT(*) FROM association_runs WHERE state = 'Pending'", [], |r| r.get(0))?;
            if pending > 0 {
                return Ok(None);
            }
            let mut digest = Sha256::new();
            for query in [
                "SELECT id || '|' || COALESCE(deregistered_at, '') FROM nodes ORDER BY id",
                "SELECT node_id || '|' || key || '=' || value FROM node_tags ORDER BY node_id, key",
                "SELECT name || '|' || query FROM resource_groups ORDER BY name",
                "SELECT id || '|' || version FROM associations ORDER BY id",
                "SELECT COALESCE(MAX(no), 0) || '|' || (SELECT COUNT(*) FROM association_nodes) FROM association_runs",
            ] {
                let mut statement = conn.prepare_cached(query)?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    digest.update(row.get::<_, String>(0)?.as_bytes());
                    digest.update(b"\n");
                }
                digest.update(b"--\n");
            }
            Ok(Some(hex::encode(digest.finalize())))
        })
    }

    /// Claims the associations due at `now`: for each, records a Schedule (or CatchUp)
    /// run and commits its next fire, in one transaction. Returns the runs recorded.
    pub fn claim_due_associations(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.write_job(move |conn| {
            let at = timestamp(now);
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, version, definition, schedule_anchor, next_fire_at FROM associations \
                     WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
                )
                .map_err(sql_error)?;
            let due = statement
                .query_map(params![at, CLAIM_BATCH], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                .map_err(sql_error)?;
            let mut runs = Vec::with_capacity(due.len());
            for (id, version, definition, anchor, fire_at) in due {
                let definition = definition_from(&definition).map_err(sql_error)?;
                let schedule = definition
                    .schedule_expression
                    .as_deref()
                    .and_then(|e| Schedule::new(e, definition.schedule_timezone.as_deref(), definition.schedule_offset).ok());
                let (Some(anchor), Some(fire)) = (parse_time(&anchor), parse_time(&fire_at)) else { continue };
                let following = schedule.as_ref().and_then(|s| s.next_after(fire, anchor));
                let trigger = if following.is_some_and(|f| f <= now) { "CatchUp" } else { "Schedule" };
                runs.push(insert_run(conn, &id, version, trigger, Some(&fire_at), None, &at)?);
                let (next_fire_at, due_at) = next_fire(&id, schedule.as_ref(), now.max(fire), anchor);
                conn.execute(
                    "UPDATE associations SET last_fire_at = ?2, next_fire_at = ?3, due_at = ?4 WHERE id = ?1",
                    params![id, fire_at, next_fire_at, due_at],
                )
                .map_err(sql_error)?;
            }
            Ok(runs)
        })
    }

    /// The runs recorded and not sent yet, oldest first.
    pub fn pending_association_runs(&self) -> Result<Vec<PendingRun>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT r.id, r.association_id, r.version, r.trigger, v.definition, r.nodes FROM association_runs r \
                 JOIN association_versions v ON v.association_id = r.association_id AND v.version = r.version \
                 WHERE r.state = 'Pending' ORDER BY r.no",
            )?;
            statement
                .query_map([], |r| {
                    let nodes: Option<String> = r.get(5)?;
                    Ok(PendingRun {
                        run_id: r.get(0)?,
                        association_id: r.get(1)?,
                        version: r.get(2)?,
                        trigger: r.get(3)?,
                        definition: definition_from(&r.get::<_, String>(4)?)?,
                        nodes: nodes.and_then(|n| serde_json::from_str(&n).ok()),
                    })
                })?
                .collect()
        })
    }

    /// Records a NewNode run for each association whose targets now select nodes it has
    /// not been applied to (skipping associations with a run not sent yet, whose nodes
    /// are not known). Returns the runs recorded.
    pub fn claim_new_node_runs(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let associations = self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT a.id, a.version, a.definition FROM associations a \
                 WHERE NOT EXISTS (SELECT 1 FROM association_runs r WHERE r.association_id = a.id AND r.state = 'Pending')",
            )?;
            statement
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        // Many associations share their targets: each distinct list is resolved once.
        let mut resolved: HashMap<String, Vec<String>> = HashMap::new();
        let mut candidates = Vec::new();
        for (id, version, definition) in associations {
            let Ok(definition) = definition_from(&definition) else { continue };
            let key = serde_json::to_string(&definition.targets).unwrap_or_default();
            let selected = match resolved.get(&key) {
                Some(nodes) => nodes.clone(),
                None => {
                    let nodes = self.resolve_targets(&definition.targets)?.nodes;
                    resolved.insert(key, nodes.clone());
                    nodes
                }
            };
            if selected.is_empty() {
                continue;
            }
            // Read first, so that an idle fleet costs no write.
            let applied = self.read(|conn| known_nodes(conn, &id))?;
            if selected.iter().any(|n| !applied.contains(n)) {
                candidates.push((id, version, selected));
            }
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        self.write_job(move |conn| {
            let at = timestamp(now);
            let mut runs = Vec::new();
            for (id, version, selected) in &candidates {
                // Read again inside the transaction: the association may have changed or gained a run.
                let current: Option<u32> = conn
                    .query_row(
                        "SELECT version FROM associations a WHERE id = ?1 AND NOT EXISTS \
                         (SELECT 1 FROM association_runs r WHERE r.association_id = a.id AND r.state = 'Pending')",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql_error)?;
                if current != Some(*version) {
                    continue;
                }
                let applied = known_nodes(conn, id).map_err(sql_error)?;
                let new: Vec<String> = selected.iter().filter(|n| !applied.contains(*n)).cloned().collect();
                if !new.is_empty() {
                    runs.push(insert_run(conn, id, *version, "NewNode", None, Some(&new), &at)?);
                }
            }
            Ok(runs)
        })
    }
}
