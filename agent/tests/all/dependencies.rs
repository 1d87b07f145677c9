//! Architecture invariant: nothing server-only reaches the agent. Asks cargo for
//! the agent's own dependency tree, resolved with the agent's features (the
//! lock file cannot tell: it unifies every package's features, and the server
//! turns on the plugin host's compiler), dev-dependencies included, which only
//! makes the check stricter, and fails on a server-side crate or on an HTTP
//! crate built with anything but client features.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates that belong to the control plane only; the Cranelift compiler among
/// them (the agent's plugin host loads precompiled artifacts; wasmtime's small
/// `cranelift-entity`/`cranelift-bitset` data-structure crates are not the compiler).
const SERVER_ONLY: &[&str] =
    &["bosun", "bosun-store", "bosun-engine", "axum", "rusqlite", "libsqlite3-sys", "cranelift-codegen", "wasmtime-internal-cranelift"];

/// Features the agent's HTTP crates may have: client ones only. tower-http is there
/// because reqwest follows redirects with its `follow-redirect` layer (which brings
/// `futures-util` and `tower`); none of its server middleware may come with it.
const CLIENT_ONLY: &[(&str, &[&str])] = &[
    ("hyper", &["client", "default", "http1", "http2"]),
    ("hyper-util", &["client", "client-legacy", "client-proxy", "default", "http1", "http2", "tokio"]),
    ("tower-http", &["follow-redirect", "futures-util", "tower"]),
];

/// Each package of the agent's dependency tree (dev-dependencies included) with its
/// enabled features, as cargo resolves them for the agent alone.
fn agent_tree() -> BTreeSet<(String, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-p", "bosun-agent", "-e", "normal,build,dev", "--prefix", "none", "--format", "{p}|{f}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (package, features) = line.split_once('|')?;
            let name = package.split_whitespace().next()?.to_string();
            let features = features.trim_end_matches(" (*)").split(',').filter(|f| !f.is_empty()).map(str::to_string).collect();
            Some((name, features))
        })
        .collect()
}

#[test]
fn the_agents_http_crates_are_built_as_clients_only() {
    let tree = agent_tree();
    for (name, allowed) in CLIENT_ONLY {
        for (_, features) in tree.iter().filter(|(package, _)| package == name) {
            let extra: Vec<&String> = features.iter().filter(|f| !allowed.contains(&f.as_str())).collect();
            assert!(extra.is_empty(), "{name} is built with {extra:?} in the agent's dependency tree");
        }
    }
    assert!(tree.iter().any(|(package, _)| package == "hyper"), "the walk found the agent's HTTP client");
}

#[test]
fn the_agent_does_not_depend_on_server_crates() {
    let seen: BTreeSet<String> = agent_tree().into_iter().map(|(name, _)| name).collect();
    assert!(seen.contains("bosun-agent"), "the tree starts at bosun-agent");
    let found: Vec<&&str> = SERVER_ONLY.iter().filter(|c| seen.contains(**c)).collect();
    assert!(found.is_empty(), "server-only crates in the agent's dependency tree: {found:?}");
    assert!(seen.contains("reqwest") && seen.contains("bosun-document"), "the walk found the agent's own dependencies");
    assert!(seen.contains("wasmtime"), "the agent's plugin host is there, without its compiler");
}
