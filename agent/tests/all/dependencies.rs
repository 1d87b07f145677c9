//! Architecture invariant: nothing server-only reaches the agent. Walks the
//! workspace's Cargo.lock from `bosun-agent` (dev-dependencies included, which
//! only makes the check stricter) and fails on a server-side crate.

use std::collections::{BTreeSet, HashMap};

/// Crates that belong to the control plane only.
const SERVER_ONLY: &[&str] =
    &["bosun", "bosun-store", "bosun-engine", "axum", "rusqlite", "libsqlite3-sys", "cranelift-codegen", "wasmtime-internal-cranelift"];

#[test]
fn the_agent_does_not_depend_on_server_crates() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).expect("the workspace's Cargo.lock");
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let name = package.lines().find_map(|l| l.strip_prefix("name = ")).map(|n| n.trim_matches('"').to_string()).unwrap_or_default();
        let list = package.split_once("dependencies = [").map_or("", |(_, rest)| rest.split(']').next().unwrap_or(""));
        let names =
            list.lines().filter_map(|l| l.trim().trim_end_matches(',').trim_matches('"').split_whitespace().next().map(str::to_string));
        deps.entry(name).or_default().extend(names);
    }
    assert!(deps.contains_key("bosun-agent"), "bosun-agent is in the lock file");
    let mut seen = BTreeSet::new();
    let mut todo = vec!["bosun-agent".to_string()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(deps.get(&name).into_iter().flatten().cloned());
        }
    }
    let found: Vec<&&str> = SERVER_ONLY.iter().filter(|c| seen.contains(**c)).collect();
    assert!(found.is_empty(), "server-only crates in the agent's dependency tree: {found:?}");
    assert!(seen.contains("reqwest") && seen.contains("bosun-document"), "the walk found the agent's own dependencies");
}
