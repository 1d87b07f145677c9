//! `InventoryItem`: what an inventory collector returns, shaped as SSM
//! Inventory shapes it (a type name, a schema version, a capture time, and
//! entries of string fields).

/// One inventory item, e.g. `AWS:Application` or `Custom:RackInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InventoryItem {
    pub type_name: String,
    pub schema_version: String,
    /// RFC 3339.
    pub capture_time: String,
    /// Entries, each a list of (field, value) pairs in order.
    pub content: Vec<Vec<(String, String)>>,
}

impl InventoryItem {
    pub fn new(type_name: impl Into<String>, schema_version: impl Into<String>, capture_time: impl Into<String>) -> Self {
        InventoryItem {
            type_name: type_name.into(),
            schema_version: schema_version.into(),
            capture_time: capture_time.into(),
            content: Vec::new(),
        }
    }

    /// Adds one entry.
    pub fn entry<I, K, V>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.content.push(fields.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }
}
