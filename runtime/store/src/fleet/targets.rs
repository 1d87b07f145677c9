//! Resolving command targets to node ids: the targets are ANDed, the values of one
//! target ORed. Node ids that were named but cannot be reached (unknown or
//! deregistered) are reported apart, for Run Command to mark Undeliverable.

use std::collections::BTreeSet;

use bosun_engine::StoreError;
use bosun_protocol::Target;
use rusqlite::{Connection, OptionalExtension, params};

use super::groups::{group_query, members};
use crate::Store;

/// What a list of targets selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedTargets {
    /// The registered nodes every target selects: sorted, each once.
    pub nodes: Vec<String>,
    /// Ids named by every id target that no node has, sorted.
    pub unknown: Vec<String>,
    /// Ids named by every id target whose nodes are deregistered, sorted.
    pub deregistered: Vec<String>,
    /// Groups named that do not exist (they select nothing), sorted.
    pub missing_groups: Vec<String>,
}

impl ResolvedTargets {
    /// The named nodes a command cannot reach: unknown and deregistered ids, sorted.
    pub fn undeliverable(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self.unknown.iter().chain(&self.deregistered).collect();
        all.into_iter().cloned().collect()
    }
}

/// The registered nodes whose tag `key` has one of `values` (by the `node_tags_by_value` index).
pub(crate) fn tagged(conn: &Connection, key: &str, values: &[String]) -> rusqlite::Result<BTreeSet<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT t.node_id FROM node_tags t JOIN nodes n ON n.id = t.node_id \
         WHERE t.key = ?1 AND t.value = ?2 AND n.deregistered_at IS NULL",
    )?;
    let mut found = BTreeSet::new();
    for value in values.iter().collect::<BTreeSet<_>>() {
        let ids = statement.query_map(params![key, value], |r| r.get::<_, String>(0))?;
        for id in ids {
            found.insert(id?);
        }
    }
    Ok(found)
}

#[derive(Default)]
struct Named {
    registered: BTreeSet<String>,
    unknown: BTreeSet<String>,
    deregistered: BTreeSet<String>,
}

/// Sorts named ids into registered, unknown and deregistered.
fn named(conn: &Connection, ids: &[String]) -> rusqlite::Result<Named> {
    let mut statement = conn.prepare_cached("SELECT deregistered_at IS NOT NULL FROM nodes WHERE id = ?1")?;
    let mut named = Named::default();
    for id in ids.iter().collect::<BTreeSet<_>>() {
        match statement.query_row(params![id], |r| r.get::<_, bool>(0)).optional()? {
            None => named.unknown.insert(id.clone()),
            Some(true) => named.deregistered.insert(id.clone()),
            Some(false) => named.registered.insert(id.clone()),
        };
    }
    Ok(named)
}

fn intersect(so_far: Option<BTreeSet<String>>, next: BTreeSet<String>) -> Option<BTreeSet<String>> {
    Some(match so_far {
        None => next,
        Some(so_far) => so_far.intersection(&next).cloned().collect(),
    })
}

impl Store {
    /// The nodes a command's targets select, read in one snapshot. Targets are
    /// ANDed and the values of one target ORed: `Ids` selects the registered
    /// nodes among the ids, `Tag` the registered nodes with that tag and one of the
    /// values (an empty value matches a tag whose value is empty), `Group` the
    /// registered members of a group (none when it does not exist: see
    /// `missing_groups`). No target selects nothing. Ids that every id target
    /// names but no registered node has are in `unknown` or `deregistered`.
    pub fn resolve_targets(&self, targets: &[Target]) -> Result<ResolvedTargets, StoreError> {
        self.fleet_read(|conn| {
            let mut selected: Option<BTreeSet<String>> = None;
            let mut unreachable: Option<(BTreeSet<String>, BTreeSet<String>)> = None;
            let mut missing_groups = BTreeSet::new();
            for target in targets {
                let matching = match target {
                    Target::Ids(ids) => {
                        let named = named(conn, ids)?;
                        unreachable = Some(match unreachable {
                            None => (named.unknown, named.deregistered),
                            // Only what every id target names.
                            Some((unknown, deregistered)) => {
                                let names: BTreeSet<&String> = ids.iter().collect();
                                (
                                    unknown.into_iter().filter(|id| names.contains(id)).collect(),
                                    deregistered.into_iter().filter(|id| names.contains(id)).collect(),
                                )
                            }
                        });
                        named.registered
                    }
                    Target::Tag { key, values } => tagged(conn, key, values)?,
                    Target::Group(name) => match group_query(conn, name)? {
                        Some(query) => members(conn, &query)?,
                        None => {
                            missing_groups.insert(name.clone());
                            BTreeSet::new()
                        }
                    },
                };
                selected = intersect(selected, matching);
            }
            let (unknown, deregistered) = unreachable.unwrap_or_default();
            Ok(ResolvedTargets {
                nodes: selected.unwrap_or_default().into_iter().collect(),
                unknown: unknown.into_iter().collect(),
                deregistered: deregistered.into_iter().collect(),
                missing_groups: missing_groups.into_iter().collect(),
            })
        })
    }
}
