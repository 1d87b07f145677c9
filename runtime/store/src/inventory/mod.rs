//! Inventory: per node and type, the latest item an agent uploaded (capture
//! time, schema version, a content hash, and its entries as JSON rows with the
//! `Name` attribute kept beside them for lookups), the schemas of custom types
//! recorded from their first upload, and when each node last uploaded. An upload
//! whose content hash equals the stored one writes nothing of that type. A
//! node's inventory is deleted when the node is deregistered (a trigger). An
//! upload that changed something appends an `Inventory Changed` event
//! (`bosun.inventory`) in the same transaction.

pub mod filter;
mod read;
pub mod types;

use bosun_protocol::inventory::{InventoryItem, InventoryTypeSchema, PutInventoryResult};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::{FleetError, NewEvent, Store, now, sql_error};

pub use read::{EXPORT_PAGE, ExportCursor, MAX_QUERY_ROWS};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inventory_types (
    type_name TEXT PRIMARY KEY,
    schema_version TEXT NOT NULL,
    -- A JSON array of {name, dataType}.
    attributes TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inventory_items (
    node_id TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    type_name TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    capture_time TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    entries INTEGER NOT NULL,
    -- When the content last changed.
    updated_at TEXT NOT NULL,
    PRIMARY KEY (node_id, type_name)
) WITHOUT ROWID;
-- Keyed by type first: a query or an export reads one type in (node, idx) order;
-- the name index, which ends with the key, gives a name's rows in that order too.
CREATE TABLE IF NOT EXISTS inventory_entries (
    type_name TEXT NOT NULL,
    node_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT,
    entry TEXT NOT NULL,
    PRIMARY KEY (type_name, node_id, idx),
    FOREIGN KEY (node_id, type_name) REFERENCES inventory_items (node_id, type_name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inventory_entries_by_name ON inventory_entries (type_name, name);
CREATE TABLE IF NOT EXISTS inventory_nodes (
    node_id TEXT PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    uploaded_at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS inventory_forget_deregistered AFTER UPDATE OF deregistered_at ON nodes
WHEN NEW.deregistered_at IS NOT NULL
BEGIN
    DELETE FROM inventory_items WHERE node_id = NEW.id;
    DELETE FROM inventory_nodes WHERE node_id = NEW.id;
END;
";

/// The content hash of an item: its schema version and entries, as JSON.
fn content_hash(item: &InventoryItem) -> String {
    let mut hasher = Sha256::new();
    hasher.update(item.schema_version.as_bytes());
    hasher.update([0]);
    for entry in &item.content {
        hasher.update(serde_json::to_vec(entry).expect("an entry serialises"));
        hasher.update([b'\n']);
    }
    hex::encode(hasher.finalize())
}

/// The recorded schema of a custom type.
fn recorded_type(conn: &Connection, type_name: &str) -> Result<Option<InventoryTypeSchema>, rusqlite::Error> {
    conn.prepare_cached("SELECT schema_version, attributes FROM inventory_types WHERE type_name = ?1")?
        .query_row([type_name], |r| {
            let attributes: String = r.get(1)?;
            Ok(InventoryTypeSchema {
                type_name: type_name.to_string(),
                schema_version: r.get(0)?,
                builtin: false,
                attributes: serde_json::from_str(&attributes).unwrap_or_default(),
            })
        })
        .optional()
}

/// One upload, in one transaction: checks everything first, then writes the
/// types whose content changed.
fn put(conn: &Connection, node_id: &str, items: &[InventoryItem]) -> Result<PutInventoryResult, FleetError> {
    let live: Option<Option<String>> =
        conn.query_row("SELECT deregistered_at FROM nodes WHERE id = ?1", [node_id], |r| r.get(0)).optional().map_err(sql_error)?;
    match live {
        None => return Err(FleetError::NotFound(format!("no node {node_id}"))),
        Some(Some(_)) => return Err(FleetError::Conflict(format!("node {node_id} is deregistered"))),
        Some(None) => {}
    }
    let new_types = types::check_upload(items, |name| recorded_type(conn, name).map_err(|e| sql_error(e).into()))?;
    let at = now();
    if !new_types.is_empty() {
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM inventory_types", [], |r| r.get(0)).map_err(sql_error)?;
        if count as usize + new_types.len() > types::MAX_CUSTOM_TYPES {
            return Err(FleetError::invalid("items", format!("this store records at most {} custom types", types::MAX_CUSTOM_TYPES)));
        }
        for schema in &new_types {
            conn.execute(
                "INSERT INTO inventory_types (type_name, schema_version, attributes, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    schema.type_name,
                    schema.schema_version,
                    serde_json::to_string(&schema.attributes).expect("attributes serialise"),
                    at
                ],
            )
            .map_err(sql_error)?;
        }
    }
    let mut result = PutInventoryResult::default();
    for item in items {
        let hash = content_hash(item);
        let stored: Option<String> = conn
            .prepare_cached("SELECT content_hash FROM inventory_items WHERE node_id = ?1 AND type_name = ?2")
            .and_then(|mut s| s.query_row([node_id, &item.type_name], |r| r.get(0)).optional())
            .map_err(sql_error)?;
        if stored.as_deref() == Some(hash.as_str()) {
            result.unchanged.push(item.type_name.clone());
            continue;
        }
        conn.execute("DELETE FROM inventory_items WHERE node_id = ?1 AND type_name = ?2", [node_id, &item.type_name]).map_err(sql_error)?;
        conn.execute(
            "INSERT INTO inventory_items (node_id, type_name, schema_version, capture_time, content_hash, entries, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![node_id, item.type_name, item.schema_version, item.capture_time, hash, item.content.len() as i64, at],
        )
        .map_err(sql_error)?;
        let mut insert = conn
            .prepare_cached("INSERT INTO inventory_entries (node_id, type_name, idx, name, entry) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(sql_error)?;
        for (idx, entry) in item.content.iter().enumerate() {
            let name = entry.get("Name").and_then(|v| v.as_str());
            let json = serde_json::to_string(entry).expect("an entry serialises");
            insert.execute(params![node_id, item.type_name, idx as i64, name, json]).map_err(sql_error)?;
        }
        result.stored.push(item.type_name.clone());
    }
    if !result.stored.is_empty() {
        let event = NewEvent {
            source: "bosun.inventory".into(),
            detail_type: "Inventory Changed".into(),
            resources: vec![format!("node/{node_id}")],
            detail: serde_json::json!({"nodeId": node_id, "changedTypes": result.stored}),
        };
        crate::events::append(conn, &event)?;
    }
    conn.execute(
        "INSERT INTO inventory_nodes (node_id, uploaded_at) VALUES (?1, ?2) ON CONFLICT (node_id) DO UPDATE SET uploaded_at = excluded.uploaded_at",
        params![node_id, at],
    )
    .map_err(sql_error)?;
    Ok(result)
}

impl Store {
    /// Stores a node's upload: each item replaces what the node had of its type,
    /// unless its content is the same (then nothing of it is written).
    pub fn put_inventory(&self, node_id: &str, items: Vec<InventoryItem>) -> Result<PutInventoryResult, FleetError> {
        let node_id = node_id.to_string();
        self.fleet_write(move |conn| put(conn, &node_id, &items))
    }

    /// The same from async code, so that concurrent uploads share commits.
    pub async fn put_inventory_async(&self, node_id: &str, items: Vec<InventoryItem>) -> Result<PutInventoryResult, FleetError> {
        let node_id = node_id.to_string();
        self.fleet_write_async(move |conn| put(conn, &node_id, &items)).await
    }
}

#[cfg(test)]
mod tests;
