//! Inventory end to end, with the real server and a real agent: `inventory
//! enable` creates the association, its run collects this machine's inventory
//! with the built-in collectors and uploads it, query/show/summary/export find
//! it, a second run with the same content rewrites nothing, a collector asked
//! for a directory it was not granted fails naming the grant; and hostile
//! uploads and query filters are refused with the field named.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::Agent;
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

const LIMIT: Duration = Duration::from_secs(120);
const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// The node's runs of an association, newest first.
fn runs(server: &FleetServer, association: &str, node: &str) -> Vec<Value> {
    let history = json_of(server.get(&format!("/v1/associations/{association}/nodes/{node}"), Some(&server.token)), StatusCode::OK);
    history.as_array().cloned().unwrap_or_default()
}

/// Waits for the node's `count`th run to end; returns it.
#[track_caller]
fn wait_run(server: &FleetServer, association: &str, node: &str, count: usize) -> Value {
    poll(&format!("run {count} of {association} on {node} to end"), LIMIT, || {
        let runs = runs(server, association, node);
        (runs.len() >= count && runs[0]["endedAt"].is_string()).then(|| runs[0].clone())
    })
}

fn installed_packages() -> usize {
    let text = std::fs::read_to_string(DPKG_STATUS).unwrap();
    text.split("\n\n").filter(|p| p.lines().any(|l| l.starts_with("Status:") && l.trim_end().ends_with(" installed"))).count()
}

#[test]
fn enabled_inventory_is_gathered_stored_queried_and_not_rewritten_when_unchanged() {
    if !std::path::Path::new(DPKG_STATUS).exists() {
        println!("skipped: {DPKG_STATUS} is absent, so this machine has no packages for the collector to find");
        return;
    }
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "inv-1", &[("Role", "inventory")]);
    let node = agent.node_id.clone();
    let enabled = server.cli(&["inventory", "enable", "--targets", "tag:Role=inventory", "--output", "json"]);
    enabled.expect_code(0);
    assert_eq!(enabled.json()["definition"]["documentName"], "Bosun-GatherSoftwareInventory");

    let first = wait_run(&server, "bosun-inventory", &node, 1);
    assert_eq!(first["status"], "Success", "{first}");

    // The packages are there, as dpkg has them.
    let query = server.cli(&[
        "inventory",
        "query",
        "--type",
        "Application",
        "--filter",
        "Name=dpkg",
        "--filter",
        "Version>=1.0",
        "--output",
        "json",
    ]);
    query.expect_code(0);
    let found = query.json();
    assert_eq!(found["rows"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["rows"][0]["nodeId"], node.as_str());
    let none = server.cli(&[
        "inventory",
        "query",
        "--type",
        "AWS:Application",
        "--filter",
        "Name=dpkg",
        "--filter",
        "Version<0.1",
        "--output",
        "json",
    ]);
    assert_eq!(none.json()["rows"], json!([]));

    let shown = server.cli(&["inventory", "show", &node, "--output", "json"]);
    shown.expect_code(0);
    let items = shown.json();
    let types: Vec<&str> = items.as_array().unwrap().iter().map(|i| i["typeName"].as_str().unwrap()).collect();
    for expected in ["AWS:Application", "AWS:InstanceInformation", "AWS:InstanceDetailedInformation", "AWS:Network"] {
        assert!(types.contains(&expected), "{expected} missing from {types:?}");
    }
    let info = items.as_array().unwrap().iter().find(|i| i["typeName"] == "AWS:InstanceInformation").unwrap();
    assert_eq!(info["content"][0]["InstanceId"], node.as_str());
    assert_eq!(info["content"][0]["PlatformType"], "Linux");

    let summary = server.cli(&["inventory", "summary", "--output", "json"]).json();
    assert_eq!(summary["nodes"], 1);
    assert_eq!(summary["applications"][0]["nodes"], 1, "{summary}");
    assert!(!summary["osVersions"].as_array().unwrap().is_empty(), "{summary}");

    let export = server.cli(&["inventory", "export", "--type", "AWS:Application"]);
    export.expect_code(0);
    let lines: Vec<Value> = export.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), installed_packages());
    assert!(lines.iter().all(|l| l["nodeId"] == node.as_str() && l["typeName"] == "AWS:Application"));

    // The same content again: nothing of it is written.
    let application = |items: &Value| items.as_array().unwrap().iter().find(|i| i["typeName"] == "AWS:Application").unwrap().clone();
    let before = application(&items);
    server.cli(&["association", "run-now", "bosun-inventory"]).expect_code(0);
    let second = wait_run(&server, "bosun-inventory", &node, 2);
    assert_eq!(second["status"], "Success", "{second}");
    let said = second["stdout"].as_str().unwrap();
    let line = |prefix: &str| said.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_string();
    assert!(line("unchanged:").split_whitespace().any(|t| t == "AWS:Application"), "{second}");
    assert_eq!(line("stored:").trim(), "stored:", "{second}");
    let after = application(&server.cli(&["inventory", "show", &node, "--type", "AWS:Application", "--output", "json"]).json());
    assert_eq!(
        (&after["updatedAt"], &after["captureTime"], &after["contentHash"]),
        (&before["updatedAt"], &before["captureTime"], &before["contentHash"])
    );
    drop(agent);
}

#[test]
fn a_collector_asked_for_a_directory_it_was_not_granted_is_denied() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "inv-files", &[("Role", "files")]);
    let app = dir.path().join("app-config");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("app.conf"), "x=1\n").unwrap();
    let app = app.to_str().unwrap().to_string();
    let files = format!("files=[{{\"Path\": \"{app}\", \"Pattern\": [\"*.conf\"]}}]");
    let only_files: Vec<&str> = vec![
        "inventory",
        "enable",
        "--name",
        "files-inventory",
        "--targets",
        "tag:Role=files",
        "-p",
        &files,
        "-p",
        "applications=Disabled",
        "-p",
        "services=Disabled",
        "-p",
        "networkConfig=Disabled",
        "-p",
        "customInventory=Disabled",
    ];
    server.cli(&only_files).expect_code(0);
    let denied = wait_run(&server, "files-inventory", &agent.node_id, 1);
    assert_eq!(denied["status"], "Failed", "{denied}");
    let said = denied["stderr"].as_str().unwrap();
    assert!(said.contains("collector inventory-files: denied") && said.contains(&format!("--grant fs:ro:{app}")), "{said}");
    assert!(said.contains("it is granted nothing"), "{said}");
    // What the other collectors found was stored all the same.
    let items = server.cli(&["inventory", "show", &agent.node_id, "--output", "json"]).json();
    assert!(items.as_array().unwrap().iter().any(|i| i["typeName"] == "AWS:InstanceInformation"), "{items}");

    let data = server.data_dir().to_str().unwrap().to_string();
    server.cli(&["plugin", "grant", "--data-dir", &data, "inventory-files", "--grant", &format!("fs:ro:{app}")]).expect_code(0);
    server.cli(&["association", "run-now", "files-inventory"]).expect_code(0);
    let granted = wait_run(&server, "files-inventory", &agent.node_id, 2);
    assert_eq!(granted["status"], "Success", "{granted}");
    let files = server.cli(&["inventory", "query", "--type", "AWS:File", "--filter", "Name=app.conf", "--output", "json"]).json();
    assert_eq!(files["rows"][0]["entry"]["InstalledDir"], app.as_str(), "{files}");
    assert_eq!(files["rows"][0]["entry"]["Size"], "4");
}

fn upload(server: &FleetServer, credential: &str, body: &Value) -> (StatusCode, Value) {
    let response = server.post("/v1/agent/inventory", Some(credential), body);
    let status = response.status();
    (status, response.json().unwrap_or(Value::Null))
}

fn item(type_name: &str, content: Value) -> Value {
    json!({"typeName": type_name, "schemaVersion": "1.0", "captureTime": "2026-11-27T04:00:00Z", "content": content})
}

#[test]
fn hostile_uploads_and_queries_are_refused_naming_the_field() {
    let server = FleetServer::start(&[]);
    let (id, code) = server.activation(&json!({}));
    let (node, credential) = server.register(&id, &code, "hostile-1");

    let (status, body) =
        upload(&server, &credential, &json!({"items": [item("AWS:Application", json!([{"Name": "openssl", "Version": "3.0.15"}]))]}));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stored"], json!(["AWS:Application"]));

    for (body, field) in [
        (json!({"items": [item("AWS:Application", json!([{"Name": "x", "Verison": "1"}]))]}), "items[0].content[0].Verison"),
        (json!({"items": [item("AWS:Application", json!([{"Name": 7}]))]}), "items[0].content[0].Name"),
        (json!({"items": [item("AWS:Made-Up", json!([]))]}), "items[0].typeName"),
        (json!({"items": [item("Custom:'; DROP TABLE nodes; --", json!([]))]}), "items[0].typeName"),
        (json!({"items": [item("AWS:File", json!([{"Size": "huge"}]))]}), "items[0].content[0].Size"),
        (
            json!({"items": [{"typeName": "AWS:Network", "schemaVersion": "1.0", "captureTime": "not a time", "content": []}]}),
            "items[0].captureTime",
        ),
    ] {
        let (status, answer) = upload(&server, &credential, &body);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    // Not JSON, unknown fields, an oversized body, an admin token instead of the node's credential.
    let response = server.post_raw("/v1/agent/inventory", Some(&credential), "application/json", "{\"items\": [".into());
    assert!(response.status().is_client_error());
    let (status, _) = upload(&server, &credential, &json!({"items": [], "extra": 1}));
    assert!(status.is_client_error());
    let huge = format!(
        "{{\"items\": [{{\"typeName\": \"AWS:Network\", \"schemaVersion\": \"1.0\", \"captureTime\": \"2026-11-27T04:00:00Z\", \"content\": [{{\"Name\": \"{}\"}}]}}]}}",
        "x".repeat(33 << 20)
    );
    let response = server.post_raw("/v1/agent/inventory", Some(&credential), "application/json", huge);
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = upload(&server, &server.token, &json!({"items": []}));
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Queries: a bad filter, an unknown attribute, a missing type, an unknown parameter, no token.
    let get = |path: &str| {
        let response = server.get(path, Some(&server.token));
        (response.status(), response.json::<Value>().unwrap_or(Value::Null))
    };
    for (path, field) in [
        ("/v1/inventory?type=AWS%3AApplication&filter=Name", "filter[0]"),
        ("/v1/inventory?type=AWS%3AApplication&filter=Name%3Dx&filter=Colour%3Dred", "filter[1]"),
        ("/v1/inventory?filter=Name%3Dx", "type"),
        ("/v1/inventory?type=AWS%3AApplication&sort=Name", "sort"),
        ("/v1/inventory?type=AWS%3AApplication&limit=0", "limit"),
        ("/v1/inventory/export?type=Custom%3ANever", "type"),
    ] {
        let (status, answer) = get(path);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
        assert_eq!(answer["field"], field, "{path}: {answer}");
    }
    let cli = server.cli(&["inventory", "query", "--type", "Application", "--filter", "Version~3"]);
    cli.expect_code(2);
    assert!(cli.stderr.contains("filter[0]"), "{}", cli.stderr);
    assert_eq!(server.get("/v1/inventory?type=AWS%3AApplication", None).status(), StatusCode::UNAUTHORIZED);
    let (status, found) = get("/v1/inventory?type=AWS%3AApplication&filter=Version%3C3.0.16");
    assert_eq!((status, found["rows"][0]["nodeId"].as_str()), (StatusCode::OK, Some(node.as_str())));

    let (_, doc) = get("/v1/openapi.json");
    for path in [
        "/v1/agent/inventory",
        "/v1/inventory",
        "/v1/inventory/summary",
        "/v1/inventory/nodes/{node}",
        "/v1/inventory/export",
        "/v1/inventory/types",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not in the OpenAPI document");
    }
}
