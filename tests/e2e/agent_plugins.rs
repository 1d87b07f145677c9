//! Plugin steps in Command documents, run by the node agent: the server checks
//! the action against the installed plugins, names the version in the
//! assignment, and compiles it for the agent's engine; the agent's runtime-only
//! plugin host runs it with the operator's grants as they are at each step.

use serde_json::{Value, json};

use crate::agents::{Agent, ids, invocation, send, wait_command};
use crate::fleet::FleetServer;

const READ_DOC: &str = r#"schemaVersion: "2.2"
description: Reads a file on the node with the read-file plugin.
parameters:
  Path:
    type: String
mainSteps:
  - action: bosun:readFile
    name: Read
    inputs:
      Path: "{{ Path }}"
"#;

fn read(server: &FleetServer, node: &str, path: &str) -> Value {
    let body = json!({
        "document": {"name": "Read-File", "fileName": "read.yaml", "content": READ_DOC},
        "targets": ids(&[node]),
        "parameters": {"Path": path},
    });
    let id = send(server, &body);
    let view = wait_command(server, &id, &["Success", "Failed", "TimedOut", "Cancelled"]);
    invocation(&view, node).clone()
}

#[test]
fn an_agent_runs_a_plugin_step_with_the_operators_grants() {
    let server = FleetServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("files");
    std::fs::create_dir_all(files.join("shared")).unwrap();
    std::fs::create_dir_all(files.join("other")).unwrap();
    std::fs::write(files.join("shared/motd.txt"), "hello from the node\n").unwrap();
    std::fs::write(files.join("other/secret.txt"), "not for plugins\n").unwrap();
    let shared = files.join("shared/motd.txt").display().to_string();
    let secret = files.join("other/secret.txt").display().to_string();
    let data = server.data_dir().to_str().unwrap().to_string();
    let grant = format!("fs:ro:{}", files.join("shared").display());
    server.cli(&["plugin", "grant", "--data-dir", &data, "read-file", "--grant", &grant]).expect_code(0);
    let agent = Agent::start(&server, tmp.path(), "p1", &[]);

    // Granted: the content comes back in the step's output.
    let done = read(&server, &agent.node_id, &shared);
    assert_eq!(done["status"], "Success", "{done}\n{}", agent.log_text());
    let stdout = done["stdout"].as_str().unwrap();
    let outputs: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(outputs["Content"], "hello from the node\n", "{done}");
    assert_eq!(outputs["Sha256"], bosun_plugin_host::sha256_hex(b"hello from the node\n"), "{done}");
    let cached = std::fs::read_dir(agent.state.join("plugins/components")).unwrap().count();
    assert_eq!(cached, 1, "the component is kept on the node");

    // Not granted: Failed, saying which file, and nothing of its content.
    let denied = read(&server, &agent.node_id, &secret);
    assert_eq!(denied["status"], "Failed", "{denied}");
    let step = &denied["steps"][0];
    assert_eq!(step["status"], "Failed", "{denied}");
    let message = step["message"].as_str().unwrap_or_default();
    assert!(message.contains("plugin read-file") && message.contains("secret.txt"), "{denied}");
    assert!(message.contains(&format!("the plugin is granted {grant}")), "{denied}");
    assert!(!denied.to_string().contains("not for plugins"), "{denied}");

    // Revoked: the next step sees it at once (the agent asks for the grants every time).
    server.cli(&["plugin", "grant", "--data-dir", &data, "read-file"]).expect_code(0);
    let revoked = read(&server, &agent.node_id, &shared);
    assert_eq!(revoked["status"], "Failed", "{revoked}");
    assert!(!revoked.to_string().contains("hello from the node"), "{revoked}");
    assert!(revoked["steps"][0]["message"].as_str().unwrap_or_default().contains("granted nothing"), "{revoked}");
}

#[test]
fn an_agent_with_another_engine_gets_409() {
    let server = FleetServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, tmp.path(), "p2", &[]);
    // The server knows the node as soon as it registers; the agent writes its identity just after.
    let credential = crate::support::poll("the agent's identity file", std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(agent.state.join("identity.json")).ok()
    });
    let credential: Value = serde_json::from_str(&credential).unwrap();
    let credential = credential["credential"].as_str().unwrap();
    let plugins = server.cli(&["plugin", "list", "--data-dir", server.data_dir().to_str().unwrap(), "--output", "json"]).json();
    let version = plugins.as_array().unwrap().iter().find(|p| p["name"] == "read-file").unwrap()["version"].as_str().unwrap().to_string();
    let path = format!("/v1/agent/plugins/read-file/{version}");
    let answer = server.get(&format!("{path}?engineKey=wasmtime-1.0.0-riscv64-runtime"), Some(credential));
    assert_eq!(answer.status(), reqwest::StatusCode::CONFLICT);
    assert!(answer.text().unwrap().contains("riscv64"));
    let answer = server.get(&format!("{path}?engineKey={}&bytes=false", bosun_plugin_host::runtime_engine_key()), Some(credential));
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let body: Value = answer.json().unwrap();
    assert_eq!(body["wasm"], "", "{body}");
    // Admin tokens are refused on agent routes.
    assert_eq!(server.get(&path, Some(&server.token)).status(), reqwest::StatusCode::UNAUTHORIZED);
}
