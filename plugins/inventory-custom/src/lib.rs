//! The custom inventory collector, written with the SDK like any third-party
//! collector: every `*.json` file of a directory (default
//! `/etc/bosun/inventory`) is one item of a `Custom:` type, in the format of
//! SSM's custom inventory files:
//!
//! ```json
//! {"SchemaVersion": "1.0", "TypeName": "Custom:RackInfo",
//!  "Content": {"RackLocation": "Bay B", "Row": "3"}}
//! ```
//!
//! `Content` is one object or a list of objects whose values are strings. A
//! file that breaks these rules fails the collection, naming the file and the field.

use std::collections::BTreeMap;

use bosun_plugin_sdk::{Host, InventoryItem, PluginError};
use serde::Deserialize;

pub const DEFAULT_DIRECTORY: &str = "/etc/bosun/inventory";
/// The largest file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The most files read.
pub const MAX_FILES: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    #[serde(default)]
    pub directory: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CustomFile {
    schema_version: String,
    type_name: String,
    content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    One(BTreeMap<String, String>),
    Many(Vec<BTreeMap<String, String>>),
}

pub fn collect(input: Input, _host: &Host) -> Result<Vec<InventoryItem>, PluginError> {
    let dir = input.directory.unwrap_or_else(|| DEFAULT_DIRECTORY.to_string());
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        // No custom inventory on this node.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(bosun_plugin_sdk::fs::io_error("list", &dir, &e)),
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    paths.sort();
    if paths.len() > MAX_FILES {
        return Err(PluginError::failed(format!("{dir} holds {} custom inventory files; the most read is {MAX_FILES}", paths.len())));
    }
    let mut items = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let size = std::fs::metadata(&path).map_err(|e| bosun_plugin_sdk::fs::io_error("read", &shown, &e))?.len();
        if size > MAX_FILE_BYTES {
            return Err(PluginError::failed(format!("{shown} is {size} bytes; a custom inventory file is at most {MAX_FILE_BYTES}")));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| bosun_plugin_sdk::fs::io_error("read", &shown, &e))?;
        items.push(parse(&shown, &text)?);
    }
    Ok(items)
}

/// One custom inventory file as an item.
pub fn parse(file: &str, text: &str) -> Result<InventoryItem, PluginError> {
    let parsed: CustomFile = serde_json::from_str(text).map_err(|e| PluginError::failed(format!("{file}: {e}")))?;
    if !parsed.type_name.starts_with("Custom:") || parsed.type_name.len() <= "Custom:".len() {
        return Err(PluginError::failed(format!("{file}: TypeName \"{}\" must start with Custom:", parsed.type_name)));
    }
    let rows = match parsed.content {
        Content::One(row) => vec![row],
        Content::Many(rows) => rows,
    };
    let entries = rows.into_iter().map(|row| row.into_iter().collect()).collect();
    Ok(InventoryItem::now(parsed.type_name, parsed.schema_version).entry_list(entries))
}

bosun_plugin_sdk::export_inventory!(collect);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_become_items() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rack.json"),
            r#"{"SchemaVersion":"1.0","TypeName":"Custom:RackInfo","Content":{"RackLocation":"Bay B"}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("disks.json"),
            r#"{"SchemaVersion":"1.0","TypeName":"Custom:Disk","Content":[{"Id":"a"},{"Id":"b"}]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let input = Input { directory: Some(dir.path().to_str().unwrap().to_string()) };
        let items = collect(input, &bosun_plugin_sdk::testing::TestHost::new().host()).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].type_name, "Custom:Disk");
        assert_eq!(items[0].content.len(), 2);
        assert_eq!(items[1].content[0], vec![("RackLocation".to_string(), "Bay B".to_string())]);
    }

    #[test]
    fn bad_files_name_the_file_and_the_field() {
        let e = parse("x.json", r#"{"SchemaVersion":"1.0","TypeName":"AWS:Application","Content":{}}"#).unwrap_err();
        assert!(e.to_string().contains("x.json: TypeName \"AWS:Application\""), "{e}");
        let e = parse("y.json", r#"{"SchemaVersion":"1.0","TypeName":"Custom:A","Content":{"n":1}}"#).unwrap_err();
        assert!(e.to_string().contains("y.json"), "{e}");
        let e = parse("z.json", r#"{"SchemaVersion":"1.0","TypeName":"Custom:A"}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `Content`"), "{e}");
    }

    #[test]
    fn a_missing_directory_is_no_inventory() {
        let input = Input { directory: Some("/nonexistent/bosun-inventory".into()) };
        assert!(collect(input, &bosun_plugin_sdk::testing::TestHost::new().host()).unwrap().is_empty());
    }
}
