//! Commands that only read or send signals leave the database as it is: they do
//! not load the built-in documents; `dev` and `automation start` do.

use std::path::Path;

use crate::support::{Dev, bosun};

/// The names `bosun doc list --output json` shows for a data directory.
fn document_names(data: &str) -> Vec<String> {
    let list = bosun(&["doc", "list", "--data-dir", data, "--output", "json"]).expect_code(0).json();
    list.as_array().unwrap_or_else(|| panic!("not a list: {list}")).iter().filter_map(|d| d["name"].as_str().map(String::from)).collect()
}

fn database(data: &Path) -> Vec<u8> {
    let path = data.join("bosun.db");
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn read_only_commands_load_no_builtins_and_leave_the_database_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data_path = dir.path().join("data");
    let data = data_path.to_str().unwrap();
    let list = bosun(&["automation", "list", "--data-dir", data, "--output", "json"]).expect_code(0).json();
    assert_eq!(list, serde_json::json!([]));
    assert_eq!(document_names(data), Vec::<String>::new());

    let before = database(&data_path);
    bosun(&["automation", "list", "--data-dir", data]).expect_code(0);
    bosun(&["automation", "get", "--data-dir", data, "no-such-execution"]).expect_code(1);
    bosun(&["automation", "approve", "--data-dir", data, "no-such-execution"]).expect_code(1);
    bosun(&["automation", "cancel", "--data-dir", data, "no-such-execution"]).expect_code(1);
    bosun(&["doc", "get", "--data-dir", data, "Bosun-HelloWorld"]).expect_code(1);
    bosun(&["doc", "versions", "--data-dir", data, "Bosun-HelloWorld"]).expect_code(1);
    assert_eq!(document_names(data), Vec::<String>::new());
    assert!(database(&data_path) == before, "a read-only command changed {}/bosun.db", data_path.display());

    bosun(&["automation", "start", "--data-dir", data, "--document", "Bosun-HelloWorld"]).expect_code(0);
    let names = document_names(data);
    assert!(names.iter().any(|n| n == "Bosun-HelloWorld"), "{names:?}");
}

#[test]
fn dev_loads_the_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let data_path = dir.path().join("data");
    let data = data_path.to_str().unwrap();
    bosun(&["automation", "list", "--data-dir", data]).expect_code(0);
    assert_eq!(document_names(data), Vec::<String>::new());
    let dev = Dev::start(&data_path);
    let names = document_names(data);
    dev.kill();
    assert!(names.iter().any(|n| n == "Bosun-HelloWorld") && names.iter().any(|n| n == "Bosun-ApproveAndEcho"), "{names:?}");
}
