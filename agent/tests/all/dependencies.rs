//! Architecture invariant: nothing server-only reaches the agent. Asks cargo for
//! the agent's own dependency tree, resolved with the agent's features (the
//! lock file cannot tell: it unifies every package's features, and the server
//! turns on the plugin host's compiler), dev-dependencies included, which only
//! makes the check stricter, and fails on a server-side crate.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates that belong to the control plane only; the Cranelift compiler among
/// them (the agent's plugin host loads precompiled artifacts; wasmtime's small
/// `cranelift-entity`/`cranelift-bitset` data-structure crates are not the compiler).
const SERVER_ONLY: &[&str] =
    &["bosun", "bosun-store", "bosun-engine", "axum", "rusqlite", "libsqlite3-sys", "cranelift-codegen", "wasmtime-internal-cranelift"];

#[test]
fn the_agent_does_not_depend_on_server_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-p", "bosun-agent", "-e", "normal,build,dev", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let seen: BTreeSet<String> =
        String::from_utf8_lossy(&output.stdout).lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect();
    assert!(seen.contains("bosun-agent"), "the tree starts at bosun-agent");
    let found: Vec<&&str> = SERVER_ONLY.iter().filter(|c| seen.contains(**c)).collect();
    assert!(found.is_empty(), "server-only crates in the agent's dependency tree: {found:?}");
    assert!(seen.contains("reqwest") && seen.contains("bosun-document"), "the walk found the agent's own dependencies");
    assert!(seen.contains("wasmtime"), "the agent's plugin host is there, without its compiler");
}
