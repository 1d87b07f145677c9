//! Inventory on the wire: what an agent uploads (`POST /v1/agent/inventory`),
//! and what the inventory API answers (query rows, a node's inventory, the
//! fleet summary, the known types with their attributes).

use serde::{Deserialize, Serialize};

/// A JSON object of one entry's fields; every value is a string.
pub type Entry = serde_json::Map<String, serde_json::Value>;

/// One inventory item: every entry of one type on one node, as captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    /// `AWS:Application`, `Custom:RackInfo`, …
    pub type_name: String,
    pub schema_version: String,
    /// RFC 3339.
    pub capture_time: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub content: Vec<Entry>,
}

/// `POST /v1/agent/inventory`: a node's items, each replacing what the node
/// had of that type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutInventory {
    pub items: Vec<InventoryItem>,
}

/// What an upload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PutInventoryResult {
    /// Types whose content changed and was written.
    pub stored: Vec<String>,
    /// Types whose content was the same as stored: nothing was written.
    pub unchanged: Vec<String>,
}

/// One entry found by a query, or exported: the node, the type, when it was
/// captured, and the entry's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryRow {
    pub node_id: String,
    pub type_name: String,
    pub capture_time: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entry: Entry,
}

/// A query's answer: rows, and whether it stopped at its limit with entries left to look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryQueryResult {
    pub rows: Vec<InventoryRow>,
    /// How many distinct nodes the rows are on.
    pub nodes: usize,
    /// True when the query stopped at its limit before looking at every entry: more may match.
    pub truncated: bool,
}

/// A node's item of one type, with all its entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeInventoryItem {
    pub type_name: String,
    pub schema_version: String,
    pub capture_time: String,
    /// When the content last changed (an upload of the same content changes nothing).
    pub updated_at: String,
    pub content_hash: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub content: Vec<Entry>,
}

/// A value and how many nodes have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CountedValue {
    pub value: String,
    pub nodes: u64,
}

/// A type and how many nodes and entries hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TypeCount {
    pub type_name: String,
    pub nodes: u64,
    pub entries: u64,
}

/// The fleet's inventory at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventorySummary {
    /// Nodes with any inventory.
    pub nodes: u64,
    pub types: Vec<TypeCount>,
    /// `PlatformName PlatformVersion` of AWS:InstanceInformation, most nodes first.
    pub os_versions: Vec<CountedValue>,
    /// AWS:Application names, on most nodes first.
    pub applications: Vec<CountedValue>,
}

/// One attribute of an inventory type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AttributeSchema {
    pub name: String,
    /// `string`, `number` or `version`: how filters compare its values.
    pub data_type: String,
}

/// An inventory type's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryTypeSchema {
    pub type_name: String,
    pub schema_version: String,
    /// True for the AWS types Bosun knows; false for custom types, recorded from their first upload.
    pub builtin: bool,
    pub attributes: Vec<AttributeSchema>,
}
