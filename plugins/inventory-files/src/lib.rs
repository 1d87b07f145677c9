//! The files collector: `AWS:File`, one entry per file whose name matches one
//! of the patterns of a search, as AWS-GatherSoftwareInventory's `files`
//! parameter gives them (`Path`, `Pattern`, `Recursive`, `DirScanLimit`).
//! Patterns are shell globs on the file name (`*`, `?`, `[a-z]`). A path in no
//! granted directory is a denial naming the grant to give.

use std::path::Path;

use bosun_plugin_sdk::{Host, InventoryItem, Level, PluginError};
use serde::Deserialize;

/// The most searches one collection runs.
pub const MAX_SEARCHES: usize = 64;
/// The default and the largest number of directory entries one search looks at.
pub const DEFAULT_SCAN_LIMIT: usize = 5000;
pub const MAX_SCAN_LIMIT: usize = 100_000;
/// Directories deeper than this below a search's path are not entered.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[serde(rename = "Files", default)]
    pub files: Vec<Search>,
}

/// One search.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Search {
    pub path: String,
    pub pattern: Vec<String>,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub dir_scan_limit: Option<usize>,
}

pub fn collect(input: Input, host: &Host) -> Result<Vec<InventoryItem>, PluginError> {
    if input.files.len() > MAX_SEARCHES {
        return Err(PluginError::invalid_input(format!("Files: {} searches; the most is {MAX_SEARCHES}", input.files.len())));
    }
    let mut item = InventoryItem::now("AWS:File", "1.0");
    for (index, search) in input.files.iter().enumerate() {
        let at = format!("Files[{index}]");
        if !search.path.starts_with('/') {
            return Err(PluginError::invalid_input(format!("{at}.Path \"{}\" must be absolute", search.path)));
        }
        if search.pattern.is_empty() {
            return Err(PluginError::invalid_input(format!("{at}.Pattern: give at least one pattern such as *.conf")));
        }
        let patterns = search
            .pattern
            .iter()
            .map(|p| glob::Pattern::new(p).map_err(|e| PluginError::invalid_input(format!("{at}.Pattern \"{p}\": {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let limit = search.dir_scan_limit.unwrap_or(DEFAULT_SCAN_LIMIT);
        if limit > MAX_SCAN_LIMIT {
            return Err(PluginError::invalid_input(format!("{at}.DirScanLimit {limit} is above the largest allowed, {MAX_SCAN_LIMIT}")));
        }
        let mut budget = limit;
        walk(Path::new(&search.path), &patterns, search.recursive, 0, &mut budget, &mut item.content)?;
        if budget == 0 {
            host.log(Level::Warn, "a search stopped at its DirScanLimit", &[("path", &search.path), ("limit", &limit.to_string())]);
        }
    }
    Ok(vec![item])
}

fn walk(
    dir: &Path,
    patterns: &[glob::Pattern],
    recursive: bool,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<Vec<(String, String)>>,
) -> Result<(), PluginError> {
    let shown = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // Below the search's own path, an unreadable directory is skipped.
        Err(_) if depth > 0 => return Ok(()),
        Err(e) => return Err(bosun_plugin_sdk::fs::io_error("list", &shown, &e)),
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if *budget == 0 {
            return Ok(());
        }
        *budget -= 1;
        let Ok(meta) = entry.metadata() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if meta.is_dir() {
            if recursive && depth < MAX_DEPTH {
                walk(&entry.path(), patterns, recursive, depth + 1, budget, out)?;
            }
            continue;
        }
        if !meta.is_file() || !patterns.iter().any(|p| p.matches(&name)) {
            continue;
        }
        let mut fields =
            vec![("Name".to_string(), name), ("InstalledDir".to_string(), shown.clone()), ("Size".to_string(), meta.len().to_string())];
        if let Ok(modified) = meta.modified().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).map_err(std::io::Error::other)) {
            fields.push(("ModificationTime".to_string(), bosun_plugin_sdk::rfc3339_utc(modified.as_secs())));
        }
        out.push(fields);
    }
    Ok(())
}

bosun_plugin_sdk::export_inventory!(collect);

#[cfg(test)]
mod tests {
    use bosun_plugin_sdk::testing::TestHost;
    use serde_json::json;

    use super::*;

    fn run(inputs: serde_json::Value) -> Result<Vec<InventoryItem>, PluginError> {
        super::bosun_collect(&inputs.to_string(), &TestHost::new().host())
    }

    #[test]
    fn matching_files_are_listed_and_recursion_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.conf"), "12345").unwrap();
        std::fs::write(dir.path().join("b.txt"), "").unwrap();
        std::fs::write(dir.path().join("sub/c.conf"), "").unwrap();
        let path = dir.path().to_str().unwrap();
        let flat = run(json!({"Files": [{"Path": path, "Pattern": ["*.conf"]}]})).unwrap();
        assert_eq!(flat[0].content.len(), 1);
        assert_eq!(flat[0].content[0][0], ("Name".to_string(), "a.conf".to_string()));
        assert_eq!(flat[0].content[0][2], ("Size".to_string(), "5".to_string()));
        let deep = run(json!({"Files": [{"Path": path, "Pattern": ["*.conf", "*.txt"], "Recursive": true}]})).unwrap();
        assert_eq!(deep[0].content.len(), 3);
        let limited = run(json!({"Files": [{"Path": path, "Pattern": ["*"], "Recursive": true, "DirScanLimit": 1}]})).unwrap();
        assert_eq!(limited[0].content.len(), 1);
    }

    #[test]
    fn bad_searches_name_the_field() {
        for (inputs, expected) in [
            (json!({"Files": [{"Path": "etc", "Pattern": ["*"]}]}), "Files[0].Path"),
            (json!({"Files": [{"Path": "/etc", "Pattern": []}]}), "Files[0].Pattern"),
            (json!({"Files": [{"Path": "/etc", "Pattern": ["[z-a"]}]}), "Files[0].Pattern"),
            (json!({"Files": [{"Path": "/etc", "Pattern": ["*"], "DirScanLimit": 10_000_000}]}), "DirScanLimit"),
            (json!({"Files": [{"Path": "/etc", "Patern": ["*"]}]}), "unknown field"),
        ] {
            let e = run(inputs.clone()).unwrap_err();
            assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains(expected)), "{inputs}: {e}");
        }
    }
}
