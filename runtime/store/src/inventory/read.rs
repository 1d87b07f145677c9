//! Reading inventory: the types with their schemas, a query across the fleet
//! (SQL narrows by type, and by name when a filter fixes or prefixes `Name`;
//! every filter is then applied to each entry), export in pages by a cursor, a
//! node's items, and the fleet summary.

use bosun_protocol::inventory::{
    CountedValue, Entry, InventoryQueryResult, InventoryRow, InventorySummary, InventoryTypeSchema, NodeInventoryItem, TypeCount,
};
use rusqlite::{Connection, params};

use super::filter::{Filter, parse_filters};
use super::recorded_type;
use super::types::{check_type_name, known_type, known_types};
use crate::{FleetError, Store};

/// The most rows one query returns; the answer says when it stopped there.
pub const MAX_QUERY_ROWS: usize = 10_000;
/// How many rows one export page holds.
pub const EXPORT_PAGE: usize = 5_000;
/// How many entries one read looks at before the reader is let go.
const SCAN_CHUNK: usize = 5_000;

/// Where an export goes on: after this node's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCursor {
    pub node_id: String,
    pub idx: i64,
}

fn parse_entry(text: &str) -> Entry {
    serde_json::from_str(text).unwrap_or_default()
}

/// One scanned entry: cursor position and row.
type Scanned = (ExportCursor, InventoryRow);

fn scan_chunk(conn: &Connection, type_name: &str, filters: &[Filter], after: &ExportCursor) -> Result<Vec<Scanned>, rusqlite::Error> {
    // With a name, the name index (its rows ordered by node and index after the name) is
    // the way in; without one, the primary key, already in (node, index) order.
    let (index, name_clause, name_value) = match (Filter::name_equals(filters), Filter::name_prefix(filters)) {
        (Some(name), _) => ("INDEXED BY inventory_entries_by_name", "AND e.name = ?5", Some(name.to_string())),
        (None, Some(prefix)) => {
            ("INDEXED BY inventory_entries_by_name", "AND e.name >= ?5 AND e.name < ?5 || char(1114111)", Some(prefix.to_string()))
        }
        _ => ("", "AND ?5 IS NULL", None),
    };
    let sql = format!(
        "SELECT e.node_id, e.idx, e.entry, i.capture_time FROM inventory_entries e {index}
         JOIN inventory_items i ON i.node_id = e.node_id AND i.type_name = e.type_name
         WHERE e.type_name = ?1 AND (e.node_id, e.idx) > (?2, ?3) {name_clause}
         ORDER BY e.node_id, e.idx LIMIT ?4"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params![type_name, after.node_id, after.idx, SCAN_CHUNK as i64, name_value], |r| {
        let node_id: String = r.get(0)?;
        let idx: i64 = r.get(1)?;
        let entry: String = r.get(2)?;
        Ok((
            ExportCursor { node_id: node_id.clone(), idx },
            InventoryRow { node_id, type_name: type_name.to_string(), capture_time: r.get(3)?, entry: parse_entry(&entry) },
        ))
    })?;
    rows.collect()
}

impl Store {
    /// The AWS types Bosun knows and the custom types recorded so far.
    pub fn inventory_types(&self) -> Result<Vec<InventoryTypeSchema>, FleetError> {
        let mut all = known_types();
        let custom: Vec<String> = self.read(|conn| {
            conn.prepare("SELECT type_name FROM inventory_types ORDER BY type_name")?.query_map([], |r| r.get(0))?.collect()
        })?;
        for name in custom {
            if let Some(schema) = self.read(|conn| recorded_type(conn, &name))? {
                all.push(schema);
            }
        }
        Ok(all)
    }

    /// The schema of a type, known or recorded; an unknown type is refused naming `field`.
    pub fn inventory_type(&self, field: &str, type_name: &str) -> Result<InventoryTypeSchema, FleetError> {
        check_type_name(field, type_name)?;
        if let Some(schema) = known_type(type_name) {
            return Ok(schema);
        }
        self.read(|conn| recorded_type(conn, type_name))?
            .ok_or_else(|| FleetError::invalid(field, format!("no node has uploaded inventory of type {type_name}")))
    }

    /// Up to `limit` entries after `after` (from the start when none) of `type_name`
    /// passing every filter, and where the next page starts (none at the end).
    pub fn inventory_page(
        &self,
        type_name: &str,
        filters: &[String],
        after: Option<ExportCursor>,
        limit: usize,
    ) -> Result<(Vec<InventoryRow>, Option<ExportCursor>), FleetError> {
        let schema = self.inventory_type("type", type_name)?;
        let filters = parse_filters(filters, &schema)?;
        let mut cursor = after.unwrap_or(ExportCursor { node_id: String::new(), idx: -1 });
        let mut rows = Vec::new();
        loop {
            let chunk = self.read(|conn| scan_chunk(conn, type_name, &filters, &cursor))?;
            let exhausted = chunk.len() < SCAN_CHUNK;
            for (at, row) in chunk {
                if rows.len() == limit {
                    return Ok((rows, Some(cursor)));
                }
                cursor = at;
                if filters.iter().all(|f| f.matches(&row.entry)) {
                    rows.push(row);
                }
            }
            if exhausted {
                return Ok((rows, None));
            }
        }
    }

    /// Entries of `type_name` across the fleet passing every filter, at most `limit` (and [`MAX_QUERY_ROWS`]).
    pub fn query_inventory(&self, type_name: &str, filters: &[String], limit: usize) -> Result<InventoryQueryResult, FleetError> {
        let (rows, next) = self.inventory_page(type_name, filters, None, limit.clamp(1, MAX_QUERY_ROWS))?;
        let mut nodes: Vec<&str> = rows.iter().map(|r| r.node_id.as_str()).collect();
        nodes.dedup();
        Ok(InventoryQueryResult { nodes: nodes.len(), truncated: next.is_some(), rows })
    }

    /// A node's items (of one type, when given), with their entries.
    pub fn node_inventory(&self, node_id: &str, type_name: Option<&str>) -> Result<Vec<NodeInventoryItem>, FleetError> {
        if let Some(name) = type_name {
            check_type_name("type", name)?;
        }
        let exists: bool =
            self.read(|conn| conn.query_row("SELECT EXISTS (SELECT 1 FROM nodes WHERE id = ?1)", [node_id], |r| r.get(0)))?;
        if !exists {
            return Err(FleetError::NotFound(format!("no node {node_id}")));
        }
        let items: Vec<(String, String, String, String, String)> = self.read(|conn| {
            conn.prepare(
                "SELECT type_name, schema_version, capture_time, updated_at, content_hash FROM inventory_items
                 WHERE node_id = ?1 AND (?2 IS NULL OR type_name = ?2) ORDER BY type_name",
            )?
            .query_map(params![node_id, type_name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect()
        })?;
        items
            .into_iter()
            .map(|(type_name, schema_version, capture_time, updated_at, content_hash)| {
                let content: Vec<String> = self.read(|conn| {
                    conn.prepare("SELECT entry FROM inventory_entries WHERE node_id = ?1 AND type_name = ?2 ORDER BY idx")?
                        .query_map([node_id, &type_name], |r| r.get(0))?
                        .collect()
                })?;
                let content = content.iter().map(|e| parse_entry(e)).collect();
                Ok(NodeInventoryItem { type_name, schema_version, capture_time, updated_at, content_hash, content })
            })
            .collect()
    }

    /// The fleet's inventory at a glance: nodes, types, and the `top` OS versions and applications.
    pub fn inventory_summary(&self, top: usize) -> Result<InventorySummary, FleetError> {
        let top = top.clamp(1, 1000) as i64;
        let counted = |conn: &Connection, sql: &str| -> Result<Vec<CountedValue>, rusqlite::Error> {
            conn.prepare(sql)?.query_map([top], |r| Ok(CountedValue { value: r.get(0)?, nodes: r.get::<_, i64>(1)? as u64 }))?.collect()
        };
        Ok(self.read(|conn| {
            let nodes: i64 = conn.query_row("SELECT COUNT(*) FROM inventory_nodes", [], |r| r.get(0))?;
            let types = conn
                .prepare("SELECT type_name, COUNT(*), SUM(entries) FROM inventory_items GROUP BY type_name ORDER BY type_name")?
                .query_map([], |r| {
                    Ok(TypeCount { type_name: r.get(0)?, nodes: r.get::<_, i64>(1)? as u64, entries: r.get::<_, i64>(2)? as u64 })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let os_versions = counted(
                conn,
                "SELECT trim(coalesce(json_extract(entry, '$.PlatformName'), '') || ' ' || coalesce(json_extract(entry, '$.PlatformVersion'), '')) AS v,
                        COUNT(DISTINCT node_id) AS n
                 FROM inventory_entries WHERE type_name = 'AWS:InstanceInformation' GROUP BY v ORDER BY n DESC, v LIMIT ?1",
            )?;
            let applications = counted(
                conn,
                "SELECT name, COUNT(DISTINCT node_id) AS n FROM inventory_entries
                 WHERE type_name = 'AWS:Application' AND name IS NOT NULL GROUP BY name ORDER BY n DESC, name LIMIT ?1",
            )?;
            Ok(InventorySummary { nodes: nodes as u64, types, os_versions, applications })
        })?)
    }
}
