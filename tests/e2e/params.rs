//! Parameter Store through a real `bosun server`: the API and `bosun param`, a
//! SecureString's plaintext kept out of the database, the WAL, the log, API errors
//! and stored execution steps, interpolation in Automation documents, the path ACL
//! of scoped tokens on every read route, and a policy firing once across a restart.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::{Agent, ids, invocation, send, shell, wait_command};
use crate::fleet::{FleetServer, json_of};
use crate::support::{bosun, poll};

const LIMIT: Duration = Duration::from_secs(60);
const CANARY: &str = "s3cr3t-canary-9c1e";

/// A server with a master key in `<data-dir>/param.key`.
fn server_with_key() -> FleetServer {
    let mut server = FleetServer::start(&[]);
    let key = "11".repeat(32);
    std::fs::write(server.data_dir().join("param.key"), format!("{key}\n")).unwrap();
    server.restart();
    server
}

fn put(server: &FleetServer, token: &str, body: Value) -> Value {
    json_of(server.post("/v1/parameters/put", Some(token), &body), StatusCode::OK)
}

/// Runs an Automation document as `token` and waits for its end.
fn run_document(server: &FleetServer, token: &str, name: &str, content: &str) -> Value {
    let created = server.post("/v1/documents", Some(&server.token), &json!({"name": name, "content": content}));
    assert!(created.status().is_success(), "{}", created.text().unwrap_or_default());
    let started = json_of(server.post("/v1/executions", Some(token), &json!({"document": name})), StatusCode::CREATED);
    let id = started["executionId"].as_str().unwrap().to_string();
    poll("the execution to end", LIMIT, || {
        let execution = json_of(server.get(&format!("/v1/executions/{id}"), Some(&server.token)), StatusCode::OK);
        matches!(execution["status"].as_str(), Some("Success" | "Failed")).then_some(execution)
    })
}

fn scoped_token(server: &FleetServer, name: &str, scopes: &[&str]) -> String {
    let d = server.data_dir().to_str().unwrap();
    let run = bosun(&[&["token", "create", name, "--data-dir", d, "--output", "json"], scopes].concat());
    run.expect_code(0);
    run.json()["token"].as_str().unwrap().to_string()
}

fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter(|e| std::fs::read(e.path()).unwrap_or_default().windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn params_through_the_cli_and_api() {
    let server = server_with_key();
    let cli = |args: &[&str]| server.cli(args);
    cli(&["param", "put", "/app/dev/url", "https://one", "--type", "String", "--output", "json"]).expect_code(0);
    cli(&["param", "put", "/app/dev/url", "https://two"]).expect_code(2);
    let put = cli(&["param", "put", "/app/dev/url", "https://two", "--overwrite", "--output", "json"]);
    put.expect_code(0);
    assert_eq!(put.json()["version"], 2);
    cli(&["param", "label", "/app/dev/url", "prod", "--version", "1"]).expect_code(0);
    let labelled = cli(&["param", "get", "/app/dev/url:prod", "--output", "json"]);
    labelled.expect_code(0);
    assert_eq!((labelled.json()["value"].as_str(), labelled.json()["selector"].as_str()), (Some("https://one"), Some(":prod")));
    cli(&["param", "put", "/app/dev/list", "a,b", "--type", "StringList"]).expect_code(0);
    cli(&["param", "put", "/app/dev/deep/x", "x", "--type", "String"]).expect_code(0);
    let by_path = cli(&["param", "get-by-path", "/app", "--recursive", "--output", "json"]);
    by_path.expect_code(0);
    assert_eq!(by_path.json().as_array().unwrap().len(), 3);
    let shallow = cli(&["param", "get-by-path", "/app/dev", "--filter", "Type=StringList", "--output", "json"]);
    assert_eq!(shallow.json()[0]["name"], "/app/dev/list");
    let many = cli(&["param", "get-many", "/app/dev/url:1", "/nope", "bad name", "--output", "json"]);
    many.expect_code(0);
    assert_eq!(many.json()["invalidParameters"], json!(["/nope", "bad name"]));
    let history = cli(&["param", "history", "/app/dev/url", "--output", "json"]);
    assert_eq!(history.json()["parameters"].as_array().unwrap().len(), 2);
    cli(&["param", "unlabel", "/app/dev/url", "prod", "--version", "1"]).expect_code(0);
    cli(&["param", "get", "/app/dev/url:prod"]).expect_code(2);
    let deleted = cli(&["param", "delete", "/app/dev/url", "/nope", "--output", "json"]);
    assert_eq!(deleted.json()["deletedParameters"], json!(["/app/dev/url"]));
    cli(&["param", "get", "/app/dev/url"]).expect_code(2);

    let hostile = ["../etc", "/a//b", "/a/", "/a\u{7}", &format!("/{}", "x".repeat(2000))];
    for name in hostile {
        let response = server.post("/v1/parameters/put", Some(&server.token), &json!({"name": name, "value": "v", "type": "String"}));
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
    }
    let unknown =
        server.post("/v1/parameters/put", Some(&server.token), &json!({"name": "/x", "value": "v", "type": "String", "colour": 1}));
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let too_many = server.post("/v1/parameters/get-many", Some(&server.token), &json!({"names": vec!["/a"; 11]}));
    assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(server.post("/v1/parameters/get", None, &json!({"name": "/x"})).status(), StatusCode::UNAUTHORIZED);
    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for route in ["put", "get", "get-many", "get-by-path", "history", "label", "unlabel", "delete"] {
        assert!(openapi["paths"][format!("/v1/parameters/{route}")].is_object(), "{route} is in the OpenAPI document");
    }
}

#[test]
fn secure_plaintext_stays_out_of_files_logs_errors_and_executions() {
    let mut server = server_with_key();
    let token = server.token.clone();
    put(&server, &token, json!({"name": "/db/pw", "value": CANARY, "type": "SecureString"}));
    let hidden = json_of(server.post("/v1/parameters/get", Some(&token), &json!({"name": "/db/pw"})), StatusCode::OK);
    assert!(!hidden.to_string().contains(CANARY));
    let shown =
        json_of(server.post("/v1/parameters/get", Some(&token), &json!({"name": "/db/pw", "withDecryption": true})), StatusCode::OK);
    assert_eq!(shown["value"], CANARY);
    // Errors about the value do not repeat it.
    for body in [
        json!({"name": "/db/pw2", "value": CANARY, "type": "SecureString", "allowedPattern": "[0-9]+"}),
        json!({"name": "/db/pw", "value": CANARY, "type": "SecureString"}),
        json!({"name": "/db/pw3", "value": format!("{CANARY}{}", "x".repeat(9000)), "type": "SecureString"}),
    ] {
        let response = server.post("/v1/parameters/put", Some(&token), &body);
        assert!(response.status().is_client_error());
        let text = response.text().unwrap();
        assert!(!text.contains(CANARY), "{text}");
    }

    let document = "schemaVersion: '0.3'\nmainSteps:\n  - name: use\n    action: bosun:echo\n    inputs:\n      Password: '{{ ssm-secure:/db/pw }}'\n      Url: 'db://{{ ssm-secure:/db/pw }}@host'\n";
    let execution = run_document(&server, &token, "UsesSecret", document);
    assert_eq!(execution["status"], "Success", "{execution}");
    let step = &execution["steps"][0];
    assert_eq!(step["inputs"]["Password"], "***");
    assert_eq!(step["outputs"]["Url"], "db://***@host", "the echoed value is masked");
    assert!(!execution.to_string().contains(CANARY));
    let failing = "schemaVersion: '0.3'\nmainSteps:\n  - name: fail\n    action: bosun:echo\n    inputs:\n      Fail: 'bad password {{ ssm-secure:/db/pw }}'\n";
    let failed = run_document(&server, &token, "FailsWithSecret", failing);
    assert_eq!(failed["status"], "Failed");
    assert_eq!(failed["steps"][0]["failureMessage"].as_str().map(|m| m.contains("bad password ***")), Some(true), "{failed}");
    assert!(!failed.to_string().contains(CANARY));

    let status = server.terminate();
    assert!(status.success());
    assert!(!server.log_text().contains(CANARY), "the log holds the plaintext");
    assert_eq!(files_holding(server.data_dir(), CANARY), Vec::<String>::new(), "files of the data directory hold the plaintext");

    // A wrong master key fails clearly, without the value.
    std::fs::write(server.data_dir().join("param.key"), format!("{}\n", "22".repeat(32))).unwrap();
    server.restart();
    let response = server.post("/v1/parameters/get", Some(&token), &json!({"name": "/db/pw", "withDecryption": true}));
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = response.text().unwrap();
    assert!(text.contains("sealed under master key") && !text.contains(CANARY), "{text}");
}

#[test]
fn rotating_the_master_key_keeps_every_value_readable() {
    let mut server = server_with_key();
    let token = server.token.clone();
    put(&server, &token, json!({"name": "/r/one", "value": "first-secret", "type": "SecureString"}));
    put(&server, &token, json!({"name": "/r/one", "value": "second-secret", "type": "SecureString", "overwrite": true}));
    server.terminate();
    let new_key = server.data_dir().parent().unwrap().join("new.key");
    std::fs::write(&new_key, "33".repeat(32)).unwrap();
    let d = server.data_dir().to_str().unwrap().to_string();
    let rotated = bosun(&["param", "rotate-key", "--data-dir", &d, "--new-key-file", new_key.to_str().unwrap()]);
    rotated.expect_code(0);
    assert!(rotated.stdout.contains("re-wrapped 2 data keys"), "{}", rotated.stdout);
    server.restart();
    for (selector, value) in [("/r/one:1", "first-secret"), ("/r/one", "second-secret")] {
        let shown =
            json_of(server.post("/v1/parameters/get", Some(&token), &json!({"name": selector, "withDecryption": true})), StatusCode::OK);
        assert_eq!(shown["value"], value);
    }
}

#[test]
fn the_path_acl_denies_every_read_route() {
    let server = server_with_key();
    let admin = server.token.clone();
    put(&server, &admin, json!({"name": "/app/dev/url", "value": "dev-url", "type": "String"}));
    put(&server, &admin, json!({"name": "/app/dev/pw", "value": "dev-pw", "type": "SecureString"}));
    put(&server, &admin, json!({"name": "/app/prod/url", "value": "prod-url", "type": "String"}));
    let dev = scoped_token(&server, "dev-reader", &["--param-read", "/app/dev/*"]);
    let post = |route: &str, body: Value| server.post(&format!("/v1/parameters/{route}"), Some(&dev), &body);

    assert_eq!(json_of(post("get", json!({"name": "/app/dev/url"})), StatusCode::OK)["value"], "dev-url");
    assert_eq!(post("get", json!({"name": "/app/prod/url"})).status(), StatusCode::FORBIDDEN);
    assert_eq!(post("get", json!({"name": "/app/prod/url:1"})).status(), StatusCode::FORBIDDEN);
    assert_eq!(
        post("get", json!({"name": "/app/dev/pw", "withDecryption": true})).status(),
        StatusCode::FORBIDDEN,
        "no decryption granted"
    );
    assert_eq!(post("get", json!({"name": "/app/dev/pw"})).status(), StatusCode::OK);
    let many = json_of(post("get-many", json!({"names": ["/app/dev/url", "/app/prod/url"]})), StatusCode::OK);
    assert_eq!(many["invalidParameters"], json!(["/app/prod/url"]));
    assert_eq!(many["parameters"].as_array().unwrap().len(), 1);
    let page = json_of(post("get-by-path", json!({"path": "/app", "recursive": true})), StatusCode::OK);
    let names: Vec<&str> = page["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["/app/dev/pw", "/app/dev/url"], "filtered, not failed");
    assert_eq!(post("history", json!({"name": "/app/prod/url"})).status(), StatusCode::FORBIDDEN);
    assert_eq!(post("put", json!({"name": "/app/dev/new", "value": "v", "type": "String"})).status(), StatusCode::FORBIDDEN);
    assert_eq!(post("delete", json!({"names": ["/app/dev/url"]})).status(), StatusCode::FORBIDDEN);

    let reads_prod =
        "schemaVersion: '0.3'\nmainSteps:\n  - name: read\n    action: bosun:echo\n    inputs:\n      Url: '{{ ssm:/app/prod/url }}'\n";
    let denied = run_document(&server, &dev, "ReadsProd", reads_prod);
    assert_eq!(denied["status"], "Failed");
    let message = denied["steps"][0]["failureMessage"].as_str().unwrap_or_default();
    assert!(message.contains("may not read /app/prod/url"), "{message}");
    assert!(!denied.to_string().contains("prod-url"));
    let reads_dev =
        "schemaVersion: '0.3'\nmainSteps:\n  - name: read\n    action: bosun:echo\n    inputs:\n      Url: '{{ ssm:/app/dev/url }}'\n";
    let allowed = run_document(&server, &dev, "ReadsDev", reads_dev);
    assert_eq!(allowed["steps"][0]["outputs"]["Url"], "dev-url", "{allowed}");
    let decrypts =
        "schemaVersion: '0.3'\nmainSteps:\n  - name: read\n    action: bosun:echo\n    inputs:\n      Pw: '{{ ssm-secure:/app/dev/pw }}'\n";
    assert_eq!(run_document(&server, &dev, "DecryptsDev", decrypts)["status"], "Failed", "decryption is granted separately");
    assert_eq!(run_document(&server, &admin, "DecryptsDevAdmin", decrypts)["status"], "Success");
}

#[test]
fn a_policy_fires_once_across_a_server_restart() {
    let mut server = server_with_key();
    let token = server.token.clone();
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let policies = json!([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": at}}]).to_string();
    let result = put(
        &server,
        &token,
        json!({"name": "/temp/key", "value": "v", "type": "String", "tier": "Intelligent-Tiering", "policies": policies}),
    );
    assert_eq!(result["tier"], "Advanced");
    poll("the expiration to delete the parameter", LIMIT, || {
        (server.post("/v1/parameters/get", Some(&token), &json!({"name": "/temp/key"})).status() == StatusCode::NOT_FOUND).then_some(())
    });
    server.restart();
    // Gives the restarted scheduler (one look a second) a few looks in which it would
    // fire again if it forgot the firing; the assertion below does not depend on timing.
    std::thread::sleep(Duration::from_millis(2500));
    server.terminate();
    let store = bosun_store::Store::open(server.data_dir(), bosun_store::Durability::Normal).unwrap();
    let fired: Vec<_> =
        store.events_after(0, 10_000).unwrap().into_iter().filter(|e| e.detail_type == "Parameter Store Policy Action").collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].detail["action-status"], "Expired");
}

#[test]
fn commands_get_resolved_values_on_the_node_and_masked_output() {
    let server = server_with_key();
    let token = server.token.clone();
    put(&server, &token, json!({"name": "/app/dev/greeting", "value": "hello-from-store", "type": "String"}));
    put(&server, &token, json!({"name": "/app/dev/pw", "value": CANARY, "type": "SecureString"}));
    put(&server, &token, json!({"name": "/app/prod/url", "value": "prod-url", "type": "String"}));
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "node", &[]);
    let commands = ["echo {{ ssm:/app/dev/greeting }}", "echo pw={{ ssm-secure:/app/dev/pw }}", "echo go '{{ .Braces }}'"];
    let id = send(&server, &shell(ids(&[&agent.node_id]), &commands));
    let view = wait_command(&server, &id, &["Success", "Failed"]);
    assert_eq!(view["status"], "Success", "{view}");
    let stdout = invocation(&view, &agent.node_id)["stdout"].as_str().unwrap_or_default().to_string();
    assert!(stdout.contains("hello-from-store") && stdout.contains("pw=***") && stdout.contains("{{ .Braces }}"), "{stdout}");
    assert!(!view.to_string().contains(CANARY), "the command's view holds the plaintext");

    // A scoped token cannot send a command that reads outside its paths.
    let dev = scoped_token(&server, "dev-sender", &["--param-read", "/app/dev/*"]);
    let refused = server.post("/v1/commands", Some(&dev), &shell(ids(&[&agent.node_id]), &["echo {{ ssm:/app/prod/url }}"]));
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = refused.text().unwrap();
    assert!(text.contains("may not read /app/prod/url") && !text.contains("prod-url"), "{text}");

    // Automation hands aws:runCommand the reference, which Run Command resolves for the node.
    let runbook = format!(
        "schemaVersion: '0.3'\nmainSteps:\n- name: run\n  action: aws:runCommand\n  inputs:\n    DocumentName: AWS-RunShellScript\n    InstanceIds: ['{}']\n    Parameters: {{commands: ['echo auto={{{{ ssm-secure:/app/dev/pw }}}}']}}\n",
        agent.node_id
    );
    let done = run_document(&server, &token, "RunsWithSecret", &runbook);
    assert_eq!(done["status"], "Success", "{done}");
    assert!(done.to_string().contains("auto=***"), "{done}");
    let commands_view = json_of(server.get("/v1/commands", Some(&token)), StatusCode::OK);
    assert!(!commands_view.to_string().contains(CANARY));
    drop(agent);
    let mut server = server;
    server.terminate();
    assert_eq!(files_holding(server.data_dir(), CANARY), Vec::<String>::new());
    assert!(!server.log_text().contains(CANARY));
}
