//! State Manager end to end, with the real server and real agents: an association
//! applied on create, drift repaired by the next run, a node that starts matching gets
//! it, node history and compliance; bad definitions refused with the field named; and
//! `bosun schedule next`.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::Agent;
use crate::fleet::{FleetServer, json_of};
use crate::support::{bosun, poll};

const LIMIT: Duration = Duration::from_secs(90);

fn detail(server: &FleetServer, name: &str) -> Value {
    json_of(server.get(&format!("/v1/associations/{name}"), Some(&server.token)), StatusCode::OK)
}

/// Waits until `node`'s status for the association is `status` with at least `runs` runs in its history.
#[track_caller]
fn wait_node(server: &FleetServer, name: &str, node: &str, status: &str, runs: usize) {
    poll(&format!("{node} to be {status} for {name} after {runs} runs"), LIMIT, || {
        let view = detail(server, name);
        let entry = view["nodes"].as_array()?.iter().find(|n| n["nodeId"] == node)?.clone();
        let history = json_of(server.get(&format!("/v1/associations/{name}/nodes/{node}"), Some(&server.token)), StatusCode::OK);
        let history = history.as_array()?;
        // The newest run has ended with the status too: the node's status alone may still be the previous run's.
        let newest_ended = history.first().is_some_and(|run| run["status"] == status && !run["endedAt"].is_null());
        (entry["status"] == status && history.len() >= runs && newest_ended).then_some(())
    })
}

fn managed(dir: &Path, node: &str) -> std::path::PathBuf {
    dir.join("managed").join(format!("{node}.conf"))
}

#[test]
fn an_association_is_applied_repairs_drift_and_reaches_new_nodes() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let web1 = Agent::start(&server, dir.path(), "web-1", &[("Role", "web")]);
    let target_dir = dir.path().join("managed");
    let script = format!("mkdir -p {0} && echo managed > {0}/$AWS_SSM_INSTANCE_ID.conf", target_dir.display());
    let created = server.cli(&[
        "association",
        "create",
        "managed-file",
        "--document",
        "AWS-RunShellScript",
        "--targets",
        "tag:Role=web",
        "-p",
        &format!("commands={script}"),
        "--schedule",
        "rate(30 minutes)",
        "--severity",
        "HIGH",
        "--output",
        "json",
    ]);
    created.expect_code(0);
    assert_eq!(created.json()["version"], 1);

    // Applied on create.
    wait_node(&server, "managed-file", &web1.node_id, "Success", 1);
    let file = managed(dir.path(), &web1.node_id);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "managed\n");

    // Drift: the file is removed by hand; the next run restores it.
    std::fs::remove_file(&file).unwrap();
    server.cli(&["association", "run-now", "managed-file"]).expect_code(0);
    wait_node(&server, "managed-file", &web1.node_id, "Success", 2);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "managed\n");
    let history = server.cli(&["association", "show", "managed-file", "--node", &web1.node_id, "--output", "json"]);
    let history = history.json();
    let triggers: Vec<&str> = history.as_array().unwrap().iter().map(|r| r["trigger"].as_str().unwrap()).collect();
    assert_eq!(triggers, ["RunNow", "Create"]);

    // A node that starts matching gets the association without any request.
    let web2 = Agent::start(&server, dir.path(), "web-2", &[("Role", "web")]);
    wait_node(&server, "managed-file", &web2.node_id, "Success", 1);
    assert!(managed(dir.path(), &web2.node_id).exists());
    let runs = detail(&server, "managed-file")["runs"].clone();
    assert_eq!(runs[0]["trigger"], "NewNode", "{runs}");

    // An update makes version 2 and applies it: a failing script makes both nodes non-compliant.
    server.cli(&["association", "update", "managed-file", "-p", "commands=exit 3"]).expect_code(0);
    wait_node(&server, "managed-file", &web1.node_id, "Failed", 3);
    wait_node(&server, "managed-file", &web2.node_id, "Failed", 2);
    let compliance = server.cli(&["association", "compliance", "--output", "json"]);
    compliance.expect_code(0);
    let summary = compliance.json();
    assert_eq!(summary["nodesNonCompliant"], 2, "{summary}");
    assert_eq!(summary["bySeverity"]["HIGH"]["nonCompliant"], 2);
    let versions = server.cli(&["association", "show", "managed-file", "--versions", "--output", "json"]);
    assert_eq!(versions.json().as_array().unwrap().len(), 2);

    assert_eq!(detail(&server, "managed-file")["association"]["statusCounts"]["Failed"], 2);

    server.cli(&["association", "delete", "managed-file"]).expect_code(0);
    assert_eq!(server.get("/v1/associations/managed-file", Some(&server.token)).status(), StatusCode::NOT_FOUND);
}

#[test]
fn bad_definitions_are_refused_with_the_field_named() {
    let server = FleetServer::start(&[]);
    let base = || json!({"name": "a", "documentName": "AWS-RunShellScript", "targets": [{"key": "tag:Role", "values": ["web"]}], "parameters": {"commands": ["true"]}});
    let refuse = |body: Value, status: StatusCode, field: &str| {
        let answer = json_of(server.post("/v1/associations", Some(&server.token), &body), status);
        assert_eq!(answer["field"], field, "{answer}");
    };
    let with = |key: &str, value: Value| {
        let mut body = base();
        body[key] = value;
        body
    };
    refuse(with("scheduleExpression", json!("cron(0 10 * * * *)")), StatusCode::UNPROCESSABLE_ENTITY, "scheduleExpression");
    let mut zoned = with("scheduleTimezone", json!("Moon/Base"));
    zoned["scheduleExpression"] = json!("rate(1 day)");
    refuse(zoned, StatusCode::UNPROCESSABLE_ENTITY, "scheduleTimezone");
    refuse(with("name", json!("x".repeat(10_000))), StatusCode::UNPROCESSABLE_ENTITY, "name");
    refuse(with("documentName", json!("No-Such-Doc")), StatusCode::UNPROCESSABLE_ENTITY, "documentName");
    refuse(with("parameters", json!({"nope": "1"})), StatusCode::UNPROCESSABLE_ENTITY, "parameters.nope");
    refuse(with("complianceSeverity", json!("DIRE")), StatusCode::UNPROCESSABLE_ENTITY, "complianceSeverity");
    refuse(with("targets", json!([])), StatusCode::UNPROCESSABLE_ENTITY, "targets");
    refuse(with("surprise", json!(1)), StatusCode::UNPROCESSABLE_ENTITY, "surprise");
    assert_eq!(server.post("/v1/associations", None, &base()).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/v1/compliance", None).status(), StatusCode::UNAUTHORIZED);

    // The CLI says which field and which token.
    let run = server.cli(&[
        "association",
        "create",
        "a",
        "--document",
        "AWS-RunShellScript",
        "--targets",
        "tag:Role=web",
        "--schedule",
        "cron(0 10 ? * FUNDAY *)",
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("day-of-week field: \"FUNDAY\""), "{}", run.stderr);
    // Nothing was created, and a node-less association is accepted (applied when nodes match).
    json_of(server.post("/v1/associations", Some(&server.token), &base()), StatusCode::CREATED);
    let conflict = json_of(server.post("/v1/associations", Some(&server.token), &base()), StatusCode::CONFLICT);
    assert!(conflict["message"].as_str().unwrap().contains("exists already"));
    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for path in ["/v1/associations", "/v1/associations/{id}", "/v1/associations/{id}/run", "/v1/compliance"] {
        assert!(openapi["paths"][path].is_object(), "{path} is not in the OpenAPI document");
    }
}

#[test]
fn schedule_next_prints_fire_times_and_names_bad_tokens() {
    let run =
        bosun(&["schedule", "next", "cron(0 9 ? * 6L *)", "--count", "2", "--tz", "America/New_York", "--after", "2026-01-01T00:00:00Z"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "2026-01-30T09:00:00-05:00\n2026-02-27T09:00:00-05:00\n");
    let bad = bosun(&["schedule", "next", "rate(1 minutes)"]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("rate unit: \"minutes\": write minute with 1"), "{}", bad.stderr);
}
