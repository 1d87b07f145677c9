//! Maintenance Windows end to end with the real server and a real agent: a window
//! opens on its schedule and runs its Run Command task on the registered target; bad
//! windows and tasks are refused with the field named.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::Agent;
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

#[test]
fn a_window_opens_and_runs_its_task_on_a_real_agent() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "db-1", &[("Role", "db")]);
    let opens = (chrono::Utc::now() + chrono::Duration::seconds(3)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let schedule = format!("at({opens})");
    server.cli(&["mw", "create", "patch-night", "--schedule", &schedule, "--duration", "1", "--cutoff", "0"]).expect_code(0);
    server.cli(&["mw", "register-target", "patch-night", "dbs", "--targets", "tag:Role=db"]).expect_code(0);
    server
        .cli(&[
            "mw",
            "register-task",
            "patch-night",
            "patch",
            "--document",
            "AWS-RunShellScript",
            "-p",
            "commands=echo patched",
            "--window-target",
            "dbs",
            "--priority",
            "1",
        ])
        .expect_code(0);
    let execution: Value = poll("the window to run its task", Duration::from_secs(90), || {
        let history = server.cli(&["mw", "history", "patch-night", "--output", "json"]);
        let first = history.json().as_array()?.first()?.clone();
        (first["status"] != "InProgress").then_some(first)
    });
    assert_eq!(execution["status"], "Success", "{execution}");
    let task = &execution["tasks"][0];
    assert_eq!((task["name"].as_str(), task["status"].as_str()), (Some("patch"), Some("Success")));
    assert_eq!(task["nodes"][0]["nodeId"], agent.node_id.as_str());
    let command = json_of(server.get(&format!("/v1/commands/{}", task["runId"].as_str().unwrap()), Some(&server.token)), StatusCode::OK);
    assert!(command["invocations"][0]["stdout"].as_str().unwrap().contains("patched"), "{command}");
    let shown = server.cli(&["mw", "show", "patch-night", "--output", "json"]);
    assert_eq!(shown.json()["nextOpenAt"], Value::Null, "an at() window opens once");
}

#[test]
fn bad_windows_and_tasks_are_refused_with_the_field_named() {
    let server = FleetServer::start(&[]);
    let window = json!({"name": "w", "scheduleExpression": "cron(0 2 * * ? *)", "durationHours": 3, "cutoffHours": 1});
    let refuse = |path: &str, body: Value, field: &str| {
        let answer = json_of(server.post(path, Some(&server.token), &body), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer["field"], field, "{answer}");
    };
    let mut long = window.clone();
    long["durationHours"] = json!(25);
    refuse("/v1/windows", long, "durationHours");
    let mut cutoff = window.clone();
    cutoff["cutoffHours"] = json!(3);
    refuse("/v1/windows", cutoff, "cutoffHours");
    let mut bad = window.clone();
    bad["scheduleExpression"] = json!("cron(0 2 31 2 MON *)");
    refuse("/v1/windows", bad, "scheduleExpression");
    json_of(server.post("/v1/windows", Some(&server.token), &window), StatusCode::CREATED);
    let task = json!({"name": "t", "taskType": "AUTOMATION", "documentName": "AWS-RunShellScript"});
    refuse("/v1/windows/w/tasks", task, "documentName");
    let task = json!({"name": "t", "taskType": "RUN_COMMAND", "documentName": "AWS-RunShellScript", "parameters": {"commands": ["true"]}});
    refuse("/v1/windows/w/tasks", task, "windowTarget");
    assert_eq!(
        server
            .post("/v1/windows/nope/targets", Some(&server.token), &json!({"name": "t", "targets": [{"key": "tag:A", "values": ["b"]}]}))
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.get("/v1/windows", None).status(), StatusCode::UNAUTHORIZED);
    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for path in ["/v1/windows", "/v1/windows/{id}", "/v1/windows/{id}/targets", "/v1/windows/{id}/tasks", "/v1/windows/{id}/executions"] {
        assert!(openapi["paths"][path].is_object(), "{path} is not in the OpenAPI document");
    }
}
