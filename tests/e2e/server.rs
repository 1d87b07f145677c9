//! The HTTP API of a real `bosun server` on 127.0.0.1:0: authentication, documents,
//! executions driven to their end, signals, malformed bodies and the OpenAPI document.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::fleet::{FleetServer, json_of};
use crate::support::{bosun, poll};

const LIMIT: Duration = Duration::from_secs(60);

/// Polls an execution through the API until its status is one of `statuses`.
fn wait_status(server: &FleetServer, id: &str, statuses: &[&str]) -> Value {
    poll(&format!("execution {id} to reach {statuses:?}"), LIMIT, || {
        let execution = json_of(server.get(&format!("/v1/executions/{id}"), Some(&server.token)), StatusCode::OK);
        statuses.contains(&execution["status"].as_str().unwrap_or_default()).then_some(execution)
    })
}

/// A server with an admin token named `ops`; its data directory and the token.
fn setup() -> (PathBuf, String, FleetServer) {
    let server = FleetServer::start(&[]);
    (server.data_dir().to_path_buf(), server.token.clone(), server)
}

#[test]
fn requests_without_a_valid_token_get_401() {
    let (data, token, server) = setup();
    let d = data.to_str().unwrap();
    assert_eq!(json_of(server.get("/v1/health", None), StatusCode::OK)["status"], "ok");
    for path in ["/v1/documents", "/v1/executions", "/v1/plugins", "/v1/openapi.json", "/v1/nowhere"] {
        let body = json_of(server.get(path, None), StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "unauthorized", "{path}: {body}");
        json_of(server.get(path, Some("bosun_not-a-token")), StatusCode::UNAUTHORIZED);
    }
    let body = json_of(server.post("/v1/executions", Some("wrong"), &json!({"document": "Bosun-HelloWorld"})), StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap_or_default().contains("unknown or revoked"), "{body}");
    json_of(server.get("/v1/documents", Some(&token)), StatusCode::OK);
    json_of(server.get("/v1/nowhere", Some(&token)), StatusCode::NOT_FOUND);

    bosun(&["token", "revoke", "ops", "--data-dir", d]).expect_code(0);
    json_of(server.get("/v1/documents", Some(&token)), StatusCode::UNAUTHORIZED);
    let list = bosun(&["token", "list", "--data-dir", d, "--output", "json"]);
    assert_eq!(list.expect_code(0).json()[0]["revoked"], true);
    assert!(!list.stdout.contains(&token), "token list never shows a token");
    assert!(!server.log_text().contains(&token), "the server never logs a token");
    bosun(&["token", "revoke", "nobody", "--data-dir", d]).expect_code(2);
}

#[test]
fn documents_are_created_and_executions_run_to_success() {
    let (_data, token, server) = setup();
    let content = "schemaVersion: \"0.3\"\nmainSteps:\n  - name: Say\n    action: bosun:echo\n    inputs:\n      Message: hi\n";
    let created = json_of(server.post("/v1/documents", Some(&token), &json!({"name": "Greeter", "content": content})), StatusCode::CREATED);
    assert_eq!(created["name"], "Greeter", "{created}");
    let got = json_of(server.get("/v1/documents/Greeter?version=1", Some(&token)), StatusCode::OK);
    assert_eq!(got["content"], content);
    json_of(server.get("/v1/documents/Nobody", Some(&token)), StatusCode::NOT_FOUND);
    let listed = json_of(server.get("/v1/documents", Some(&token)), StatusCode::OK);
    assert!(listed.as_array().unwrap().iter().any(|d| d["name"] == "Bosun-HelloWorld"), "{listed}");
    json_of(server.post("/v1/documents", Some(&token), &json!({"name": "Greeter", "content": content})), StatusCode::CONFLICT);

    let bad = "schemaVersion: \"0.3\"\nmainSteps:\n  - name: Say\n    action: aws:nothing\n";
    let body =
        json_of(server.post("/v1/documents", Some(&token), &json!({"name": "Bad", "content": bad})), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "content");
    assert!(body["details"][0].as_str().unwrap_or_default().starts_with("Bad.yaml:4:"), "{body}");

    let start = json!({"document": "Bosun-HelloWorld", "parameters": {"Name": "Ada", "Times": 2}});
    let id = json_of(server.post("/v1/executions", Some(&token), &start), StatusCode::CREATED)["executionId"].as_str().unwrap().to_string();
    let execution = wait_status(&server, &id, &["Success", "Failed", "Cancelled", "TimedOut"]);
    assert_eq!(execution["status"], "Success", "{execution}");
    assert_eq!(execution["outputs"]["Greet.Greeting"], "Hello, Ada!");
    let list = json_of(server.get("/v1/executions", Some(&token)), StatusCode::OK);
    assert_eq!(list[0]["executionId"], id.as_str());

    let bad_param = json!({"document": "Bosun-HelloWorld", "parameters": {"Name": "1 no"}});
    let body = json_of(server.post("/v1/executions", Some(&token), &bad_param), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "parameters.Name", "{body}");
    let body = json_of(server.post("/v1/executions", Some(&token), &json!({"document": "Nobody"})), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "document", "{body}");
    let plugins = json_of(server.get("/v1/plugins", Some(&token)), StatusCode::OK);
    assert!(plugins.as_array().is_some_and(|p| !p.is_empty()), "{plugins}");
}

#[test]
fn an_approval_goes_through_the_signals_route() {
    let (_data, token, server) = setup();
    let start = json!({"document": "Bosun-ApproveAndEcho", "parameters": {"Change": "deploy", "WaitBeforeApply": "PT0S"}});
    let id = json_of(server.post("/v1/executions", Some(&token), &start), StatusCode::CREATED)["executionId"].as_str().unwrap().to_string();
    wait_status(&server, &id, &["Waiting"]);
    let signals = format!("/v1/executions/{id}/signals");
    let body = json_of(server.post(&signals, Some(&token), &json!({"kind": "maybe"})), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap_or_default().contains("unknown variant"), "{body}");
    let recorded = json_of(server.post(&signals, Some(&token), &json!({"kind": "approve", "comment": "ship it"})), StatusCode::ACCEPTED);
    assert_eq!(recorded["actor"], "ops");
    let execution = wait_status(&server, &id, &["Success", "Failed", "Cancelled", "TimedOut"]);
    assert_eq!(execution["status"], "Success", "{execution}");
    assert_eq!(execution["outputs"]["Apply.Applied"], "deploy");
    let decision = &execution["steps"][1]["decisions"][0];
    assert_eq!((&decision["approver"], &decision["comment"]), (&json!("ops"), &json!("ship it")), "{execution}");
    json_of(server.post(&signals, Some(&token), &json!({"kind": "approve"})), StatusCode::CONFLICT);
    json_of(server.post("/v1/executions/no-such-id/signals", Some(&token), &json!({"kind": "cancel"})), StatusCode::NOT_FOUND);
}

#[test]
fn bad_bodies_get_4xx_that_say_why() {
    let (_data, token, server) = setup();
    let malformed = server.post_raw("/v1/executions", Some(&token), "application/json", "{\n  \"document\": \"x\",\n  oops\n}".into());
    let body = json_of(malformed, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap_or_default().contains("line 3 column"), "{body}");

    let unknown = json!({"document": "Bosun-HelloWorld", "colour": "blue"});
    let body = json_of(server.post("/v1/executions", Some(&token), &unknown), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "colour", "{body}");
    let body = json_of(server.post("/v1/documents", Some(&token), &json!({"content": "x"})), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "name", "{body}");

    let text = server.post_raw("/v1/executions", Some(&token), "text/plain", "{}".into());
    json_of(text, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = json!({"name": "Huge", "content": "#".repeat(2 * 1024 * 1024)});
    let body = json_of(server.post("/v1/documents", Some(&token), &huge), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "too_large", "{body}");
}

#[test]
fn the_openapi_document_lists_the_routes() {
    let (_data, token, server) = setup();
    let doc = json_of(server.get("/v1/openapi.json", Some(&token)), StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/health",
        "/v1/documents",
        "/v1/documents/{name}",
        "/v1/executions",
        "/v1/executions/{id}",
        "/v1/executions/{id}/signals",
        "/v1/plugins",
        "/v1/openapi.json",
        "/v1/activations",
        "/v1/nodes",
        "/v1/groups",
        "/v1/commands",
        "/v1/commands/{id}",
        "/v1/commands/{id}/cancel",
        "/v1/agent/register",
        "/v1/agent/heartbeat",
        "/v1/agent/poll",
        "/v1/agent/invocations/{id}",
    ] {
        assert!(paths.contains_key(path), "{path} missing from {:?}", paths.keys().collect::<Vec<_>>());
    }
    assert!(paths["/v1/executions"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object(), "{}", doc["components"]);
    assert!(doc["components"]["schemas"]["StartExecution"].is_object());
    for schema in ["SendCommand", "CommandView", "InvocationView", "Poll", "Work", "Assignment", "InvocationReport"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} missing");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let (_data, _token, mut server) = setup();
    let status = server.terminate();
    assert!(status.success(), "{status}\n{}", server.log_text());
    assert!(server.log_text().contains("SIGTERM"), "{}", server.log_text());
}

/// The `export NAME=value` lines of `bosun dev`'s env file.
fn env_value(text: &str, name: &str) -> String {
    let prefix = format!("export {name}=");
    text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or_else(|| panic!("no {name} in:\n{text}")).to_string()
}

#[test]
fn dev_serves_the_api_with_the_token_of_its_env_file_and_reuses_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let dev = crate::support::Dev::start(&data);
    let env_file = data.join("env");
    assert_eq!(std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777, 0o600);
    let env = std::fs::read_to_string(&env_file).unwrap();
    let (endpoint, token) = (env_value(&env, "BOSUN_ENDPOINT"), env_value(&env, "BOSUN_TOKEN"));
    assert!(!dev.log_text().contains(&token), "the token is not logged");
    let documents = client.get(format!("{endpoint}/v1/documents")).bearer_auth(&token).send().unwrap();
    assert_eq!(documents.status(), StatusCode::OK);
    let refused = client.get(format!("{endpoint}/v1/documents")).send().unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    dev.kill();

    // A second start reuses the data and the token.
    let again = crate::support::Dev::start(&data);
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(env_value(&env, "BOSUN_TOKEN"), token);
    let endpoint = env_value(&env, "BOSUN_ENDPOINT");
    let documents = client.get(format!("{endpoint}/v1/documents")).bearer_auth(&token).send().unwrap();
    assert_eq!(documents.status(), StatusCode::OK);
    drop(again);
}

/// `bosun ARGS...` with the endpoint and token of a `bosun dev` env file.
fn with_env(env: &str, args: &[&str]) -> crate::support::Run {
    let output = std::process::Command::new(crate::support::bosun_path())
        .args(args)
        .env_remove("BOSUN_DATA_DIR")
        .env("BOSUN_ENDPOINT", env_value(env, "BOSUN_ENDPOINT"))
        .env("BOSUN_TOKEN", env_value(env, "BOSUN_TOKEN"))
        .output()
        .unwrap();
    crate::support::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn dev_runs_commands_on_its_local_agent_and_keeps_its_identity_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let send = [
        "command",
        "send",
        "--document",
        "AWS-RunShellScript",
        "--targets",
        "tag:Name=local",
        "-p",
        "commands=echo local",
        "--wait",
        "--output",
        "json",
    ];
    let mut node = String::new();
    for start in 0..2 {
        let dev = crate::support::Dev::start(&data);
        let env = std::fs::read_to_string(data.join("env")).unwrap();
        let run = with_env(&env, &send);
        assert_eq!(run.code, 0, "start {start}: {}\n{}", run.stderr, dev.log_text());
        let result = run.json();
        assert_eq!(result["invocations"][0]["stdout"], "local\n", "{result}");
        let nodes = with_env(&env, &["node", "list", "--output", "json"]).json();
        assert_eq!(nodes.as_array().unwrap().len(), 1, "the second start reuses the node: {nodes}");
        let id = nodes[0]["nodeId"].as_str().unwrap().to_string();
        if start == 1 {
            assert_eq!(id, node);
        }
        node = id;
        // Ctrl-C stops the server and the agent cleanly.
        assert_eq!(dev.interrupt(), 0);
    }
}
