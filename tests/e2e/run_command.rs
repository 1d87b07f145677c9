//! Run Command end to end: a real `bosun server` and real `bosun-agent` processes on
//! loopback. Targeting by ids, tags and groups; rate control seen in the recorded
//! times; the error threshold; timeouts that kill the process tree; cancel; kill -9
//! of an agent and of the server mid-fan-out; SSM's exit codes and reboots; output
//! views; the node credential's limits; and refused requests.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::{Agent, command, ids, invocation, send, shell, wait_command, wait_running};
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

fn times(view: &Value) -> Vec<(String, String)> {
    view["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["startedAt"].as_str().unwrap().to_string(), i["endedAt"].as_str().unwrap().to_string()))
        .collect()
}

fn process_alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[test]
fn three_agents_take_commands_by_tag_group_and_ids() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let a = Agent::start(&server, dir.path(), "a", &[("Env", "dev")]);
    let b = Agent::start(&server, dir.path(), "b", &[("Env", "dev")]);
    let c = Agent::start(&server, dir.path(), "c", &[("Env", "prod")]);

    let nodes = server.cli(&["node", "list", "--output", "json"]);
    nodes.expect_code(0);
    let listed = nodes.json();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    for node in listed.as_array().unwrap() {
        assert_eq!(node["pingStatus"], "Online", "{node}");
        assert_eq!(node["platform"]["platformType"], "Linux", "{node}");
        assert!(!node["platform"]["kernel"].as_str().unwrap_or_default().is_empty(), "{node}");
    }

    // By tag, through the CLI, waiting: exit 0 and one result per dev node.
    let run = server.cli(&[
        "command",
        "send",
        "--document",
        "AWS-RunShellScript",
        "--targets",
        "tag:Env=dev",
        "-p",
        "commands=echo hello from $BOSUN_NODE_ID",
        "--wait",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let result = run.json();
    assert_eq!(result["status"], "Success", "{result}");
    let mut got: Vec<(String, String)> = result["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["nodeId"].as_str().unwrap().to_string(), i["stdout"].as_str().unwrap().trim().to_string()))
        .collect();
    got.sort();
    let mut want = vec![(a.node_id.clone(), format!("hello from {}", a.node_id)), (b.node_id.clone(), format!("hello from {}", b.node_id))];
    want.sort();
    assert_eq!(got, want);
    assert!(result["invocations"].as_array().unwrap().iter().all(|i| i["exitCode"] == 0));

    // A group by tag query, ANDed with ids: only b is in both.
    server.cli(&["group", "create", "devs", "--tag", "Env=dev"]).expect_code(0);
    let both = json!([{"key": "resource-groups:Name", "values": ["devs"]}, {"key": "InstanceIds", "values": [b.node_id, c.node_id]}]);
    let id = send(&server, &shell(both, &["echo $BOSUN_NODE_ID"]));
    let view = wait_command(&server, &id, &["Success", "Failed"]);
    assert_eq!(view["status"], "Success", "{view}");
    assert_eq!(view["targetCount"], 1);
    assert_eq!(invocation(&view, &b.node_id)["stdout"].as_str().unwrap().trim(), b.node_id);

    // Nothing matches: refused, naming the targets.
    let none = server.cli(&["command", "send", "--document", "AWS-RunShellScript", "--targets", "tag:Env=qa", "-p", "commands=true"]);
    none.expect_code(2);
    assert!(none.stderr.contains("no registered node matches tag:Env=qa"), "{}", none.stderr);

    // A failing node makes the whole --wait fail with exit 1, and the JSON says which.
    let run = server.cli(&[
        "command",
        "send",
        "--document",
        "Bosun-RunShellScript",
        "--targets",
        &format!("ids:{},{}", a.node_id, c.node_id),
        "-p",
        &format!("commands=test \"$BOSUN_NODE_ID\" != {} || exit 3", c.node_id),
        "--max-errors",
        "1",
        "--wait",
        "--output",
        "json",
    ]);
    run.expect_code(1);
    let result = run.json();
    assert_eq!(result["status"], "Failed");
    let codes: HashMap<String, Value> = result["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["nodeId"].as_str().unwrap().to_string(), i["exitCode"].clone()))
        .collect();
    assert_eq!(codes[&a.node_id], 0);
    assert_eq!(codes[&c.node_id], 3);

    // Deregistered: the real agent's next call is refused and it stops, non-zero.
    let mut c = c;
    server.cli(&["node", "deregister", &c.node_id]).expect_code(0);
    assert_ne!(c.wait_exit(Duration::from_secs(60)), 0, "{}", c.log_text());
}

#[test]
fn rate_control_error_threshold_and_timeouts() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agents: Vec<Agent> = ["r1", "r2", "r3"].iter().map(|n| Agent::start(&server, dir.path(), n, &[("Role", "rate")])).collect();
    let targets = json!([{"key": "tag:Role", "values": ["rate"]}]);

    // MaxConcurrency 1: the recorded run times never overlap.
    let mut body = shell(targets.clone(), &["sleep 0.3"]);
    body["maxConcurrency"] = json!("1");
    let view = wait_command(&server, &send(&server, &body), &["Success", "Failed"]);
    assert_eq!(view["status"], "Success", "{view}");
    let mut spans = times(&view);
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two invocations ran at once with MaxConcurrency 1: {spans:?}");
    }

    // MaxErrors 0 with one at a time: the first failure stops dispatch; the rest are Terminated.
    let mut body = shell(targets.clone(), &["exit 1"]);
    body["maxConcurrency"] = json!("1");
    let view = wait_command(&server, &send(&server, &body), &["Failed"]);
    let mut statuses: Vec<&str> = view["invocations"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, ["Failed", "Terminated", "Terminated"], "{view}");
    assert_eq!(view["errorCount"], 1);

    // The execution timeout kills the whole process tree, grandchildren included.
    let pid_file = dir.path().join("pid");
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    let mut body = shell(ids(&[&agents[0].node_id]), &[&script]);
    body["timeoutSeconds"] = json!(2);
    let view = wait_command(&server, &send(&server, &body), &["TimedOut", "Failed", "Success"]);
    assert_eq!(invocation(&view, &agents[0].node_id)["status"], "ExecutionTimedOut", "{view}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    poll("the timed-out script's child to be gone", Duration::from_secs(10), || (!process_alive(&pid)).then_some(()));

    // Cancel: the running invocation is stopped, its process with it.
    let pid_file = dir.path().join("pid-cancel");
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    let id = send(&server, &shell(ids(&[&agents[1].node_id]), &[&script]));
    wait_running(&server, &id);
    let pid = poll("the script to start", Duration::from_secs(30), || std::fs::read_to_string(&pid_file).ok().filter(|p| !p.is_empty()));
    server.cli(&["command", "cancel", &id]).expect_code(0);
    let view = wait_command(&server, &id, &["Cancelled"]);
    assert_eq!(invocation(&view, &agents[1].node_id)["status"], "Cancelled", "{view}");
    poll("the cancelled script's child to be gone", Duration::from_secs(10), || (!process_alive(&pid)).then_some(()));
}

#[test]
fn a_server_killed_mid_fan_out_loses_nothing_and_runs_nothing_twice() {
    let mut server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agents: Vec<Agent> = ["k1", "k2", "k3"].iter().map(|n| Agent::start(&server, dir.path(), n, &[("Role", "crash")])).collect();
    let marker = dir.path().join("runs");
    let script = format!("echo $BOSUN_NODE_ID >> {}; sleep 1", marker.display());
    let mut body = shell(json!([{"key": "tag:Role", "values": ["crash"]}]), &[&script]);
    body["maxConcurrency"] = json!("1");
    let id = send(&server, &body);
    wait_running(&server, &id);
    server.kill9();
    server.restart();
    let view = wait_command(&server, &id, &["Success", "Failed"]);
    assert_eq!(view["status"], "Success", "{view}\n{}", server.log_text());
    let runs = std::fs::read_to_string(&marker).unwrap();
    let mut seen: Vec<&str> = runs.lines().collect();
    seen.sort();
    let mut want: Vec<&str> = agents.iter().map(|a| a.node_id.as_str()).collect();
    want.sort();
    assert_eq!(seen, want, "every node ran exactly once");
}

#[test]
fn an_agent_killed_mid_command_reports_it_once_after_restart() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&server, dir.path(), "victim", &[]);
    let marker = dir.path().join("started");
    let script = format!("echo started >> {}; sleep 30; echo finished", marker.display());
    let id = send(&server, &shell(ids(&[&agent.node_id]), &[&script]));
    wait_running(&server, &id);
    poll("the script to start", Duration::from_secs(30), || marker.exists().then_some(()));
    agent.kill9();
    agent.restart();
    let view = wait_command(&server, &id, &["Failed", "Success"]);
    let inv = invocation(&view, &agent.node_id);
    assert_eq!(inv["status"], "Failed", "{view}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().lines().count(), 1, "the command ran once");
    // A new command still runs on the restarted agent.
    let next = wait_command(&server, &send(&server, &shell(ids(&[&agent.node_id]), &["echo again"])), &["Success", "Failed"]);
    assert_eq!(next["status"], "Success", "{next}\n{}", agent.log_text());
}

#[test]
fn ssm_exit_codes_and_a_reboot_that_resumes_after_the_agent_restarts() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&server, dir.path(), "exits", &[]);
    let document =
        |steps: &str| json!({"name": "exits", "fileName": "exits.yaml", "content": format!("schemaVersion: '2.2'\nmainSteps:\n{steps}")});

    // 168: the step succeeds and the document stops; 169: it fails and stops.
    for (code, status) in [(168, "Success"), (169, "Failed")] {
        let steps = format!(
            "- {{name: one, action: aws:runShellScript, inputs: {{runCommand: ['echo one', 'exit {code}']}}}}\n- {{name: two, action: aws:runShellScript, inputs: {{runCommand: ['echo two']}}}}\n"
        );
        let body = json!({"document": document(&steps), "targets": ids(&[&agent.node_id])});
        let view = wait_command(&server, &send(&server, &body), &["Success", "Failed"]);
        let inv = invocation(&view, &agent.node_id);
        assert_eq!(inv["status"], status, "exit {code}: {view}");
        let stdout = inv["stdout"].as_str().unwrap();
        assert!(stdout.contains("one") && !stdout.contains("two"), "exit {code}: the second step must not run: {stdout:?}");
    }

    // 194: a reboot is requested; the step runs again once the agent is back.
    let flag = dir.path().join("rebooted");
    let steps = format!(
        "- {{name: patch, action: aws:runShellScript, inputs: {{runCommand: ['if [ ! -f {f} ]; then touch {f}; exit 194; fi', 'echo after the reboot']}}}}\n",
        f = flag.display()
    );
    let id = send(&server, &json!({"document": document(&steps), "targets": ids(&[&agent.node_id])}));
    poll("the reboot request", Duration::from_secs(30), || flag.exists().then_some(()));
    // The script has touched the flag; the agent records the request just after it exits.
    poll("the agent to record the reboot request", Duration::from_secs(30), || {
        agent.log_text().contains("asked for a reboot").then_some(())
    });
    assert!(!command(&server, &id)["status"].as_str().unwrap().ends_with("Success"));
    agent.restart();
    let view = wait_command(&server, &id, &["Success", "Failed"]);
    let inv = invocation(&view, &agent.node_id);
    assert_eq!(inv["status"], "Success", "{view}\n{}", agent.log_text());
    assert!(inv["stdout"].as_str().unwrap().contains("after the reboot"), "{inv}");
}

#[test]
fn output_is_cut_as_ssm_cuts_it_unless_the_full_view_is_asked_for() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "loud", &[]);
    let id =
        send(&server, &shell(ids(&[&agent.node_id]), &["head -c 30000 /dev/zero | tr '\\0' x", "head -c 9000 /dev/zero | tr '\\0' y >&2"]));
    wait_command(&server, &id, &["Success", "Failed"]);
    let cut = json_of(server.get(&format!("/v1/commands/{id}"), Some(&server.token)), StatusCode::OK);
    let inv = invocation(&cut, &agent.node_id);
    assert_eq!(inv["stdoutTruncated"], true);
    assert_eq!(inv["stderrTruncated"], true);
    assert!(inv["stdout"].as_str().unwrap().starts_with(&"x".repeat(24_000)));
    assert!(inv["stdout"].as_str().unwrap().contains("output truncated"));
    let full = command(&server, &id);
    let inv = invocation(&full, &agent.node_id);
    assert_eq!(inv["stdout"].as_str().unwrap().len(), 30_000);
    assert_eq!(inv["stderr"].as_str().unwrap().len(), 9_000);
    let shown = server.cli(&["command", "show", &id]);
    shown.expect_code(0);
    assert!(shown.stdout.contains("output truncated"), "{}", &shown.stdout[..200.min(shown.stdout.len())]);
    let all = server.cli(&["command", "show", &id, "--full"]);
    assert!(!all.stdout.contains("output truncated"));
}

#[test]
fn automation_runs_a_command_through_the_same_dispatcher() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "auto", &[]);
    let runbook = format!(
        "schemaVersion: '0.3'\nmainSteps:\n- name: run\n  action: aws:runCommand\n  inputs:\n    DocumentName: AWS-RunShellScript\n    InstanceIds: ['{}']\n    Parameters: {{commands: ['echo from automation']}}\n",
        agent.node_id
    );
    let created = server.post("/v1/documents", Some(&server.token), &json!({"name": "RunIt", "content": runbook}));
    assert!(created.status().is_success(), "{}", created.text().unwrap_or_default());
    let started = json_of(server.post("/v1/executions", Some(&server.token), &json!({"document": "RunIt"})), StatusCode::CREATED);
    let execution = started["executionId"].as_str().unwrap().to_string();
    let done = poll("the automation to end", Duration::from_secs(60), || {
        let view = json_of(server.get(&format!("/v1/executions/{execution}"), Some(&server.token)), StatusCode::OK);
        matches!(view["status"].as_str()?, "Success" | "Failed" | "TimedOut" | "Cancelled").then_some(view)
    });
    assert_eq!(done["status"], "Success", "{done}");
    let text = done.to_string();
    assert!(text.contains("from automation"), "{text}");
}

#[test]
fn node_credentials_only_reach_their_own_invocations_and_die_with_deregistration() {
    let server = FleetServer::start(&[]);
    let (id, code) = server.activation(&json!({"registrationLimit": 2}));
    let (a, a_cred) = server.register(&id, &code, "a");
    let (_b, b_cred) = server.register(&id, &code, "b");
    let command_id = send(&server, &shell(ids(&[&a]), &["echo hi"]));
    let poll_body = json!({"waitSeconds": 1});

    // b sees nothing and cannot report on a's invocation.
    let work = json_of(server.post("/v1/agent/poll", Some(&b_cred), &poll_body), StatusCode::OK);
    assert_eq!(work["assignments"], json!([]));
    let invocation_id = format!("{command_id}.{a}");
    let refused =
        server.post(&format!("/v1/agent/invocations/{invocation_id}"), Some(&b_cred), &json!({"status": "Success", "exitCode": 0}));
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);

    // a gets it; admin tokens are no node credentials; a status a node may not report is refused.
    let work = json_of(server.post("/v1/agent/poll", Some(&a_cred), &poll_body), StatusCode::OK);
    assert_eq!(work["assignments"][0]["invocationId"], invocation_id.as_str());
    assert_eq!(server.post("/v1/agent/poll", Some(&server.token), &poll_body).status(), StatusCode::UNAUTHORIZED);
    let bad = server.post(&format!("/v1/agent/invocations/{invocation_id}"), Some(&a_cred), &json!({"status": "Terminated"}));
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let malformed =
        server.post_raw(&format!("/v1/agent/invocations/{invocation_id}"), Some(&a_cred), "application/json", "{\"status\":".into());
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // Deregistered: its calls are refused and its invocation ends Undeliverable.
    server.cli(&["node", "deregister", &a]).expect_code(0);
    assert_eq!(server.post("/v1/agent/poll", Some(&a_cred), &poll_body).status(), StatusCode::UNAUTHORIZED);
    let view = wait_command(&server, &command_id, &["Failed"]);
    assert_eq!(invocation(&view, &a)["status"], "Undeliverable", "{view}");
}

#[test]
fn bad_send_requests_are_refused_naming_the_field() {
    let server = FleetServer::start(&[]);
    let (id, code) = server.activation(&json!({}));
    let (node, _) = server.register(&id, &code, "n");
    let token = Some(server.token.as_str());
    let refused = |body: Value, field: &str| {
        let response = server.post("/v1/commands", token, &body);
        let status = response.status();
        let error = json_of(response, status);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        let named = if field.is_empty() { Value::Null } else { json!(field) };
        assert_eq!(error["field"], named, "{body}: {error}");
    };
    refused(json!({"documentName": "AWS-RunShellScript", "targets": []}), "targets");
    refused(json!({"documentName": "AWS-RunShellScript", "targets": ids(&[&node])}), "parameters.commands");
    refused(
        json!({"documentName": "AWS-RunShellScript", "targets": ids(&[&node]), "parameters": {"commands": ["x"], "nope": "1"}}),
        "parameters.nope",
    );
    refused(json!({"documentName": "No-Such-Document", "targets": ids(&[&node])}), "documentName");
    refused(json!({"documentName": "Bosun-HelloWorld", "targets": ids(&[&node])}), "document");
    refused(json!({"targets": ids(&[&node])}), "documentName");
    refused(
        json!({"documentName": "AWS-RunShellScript", "targets": ids(&[&node]), "parameters": {"commands": ["x"]}, "maxErrors": "lots"}),
        "",
    );
    refused(
        json!({"documentName": "AWS-RunShellScript", "targets": ids(&[&node]), "parameters": {"commands": ["x"]}, "timeoutSeconds": 0}),
        "timeoutSeconds",
    );
    refused(json!({"documentName": "AWS-RunShellScript", "targets": [{"key": "Hosts", "values": ["x"]}]}), "");
    refused(json!({"documentName": "AWS-RunShellScript", "targets": ids(&[&node]), "extra": 1}), "extra");
    let doc = json!({"name": "bad", "fileName": "bad.yaml", "content": "schemaVersion: '2.2'\nmainSteps:\n- {name: a, action: aws:runShelScript}\n"});
    refused(json!({"document": doc, "targets": ids(&[&node])}), "document");

    assert_eq!(server.post("/v1/commands", None, &json!({})).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.post_raw("/v1/commands", token, "text/plain", "{}".into()).status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(server.post_raw("/v1/commands", token, "application/json", "{\"targets\": [".into()).status(), StatusCode::BAD_REQUEST);
    let huge = format!("{{\"comment\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let too_large = server.post_raw("/v1/commands", token, "application/json", huge);
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.headers()["connection"], "close", "the unread body ends the connection, and the answer says so");
    assert_eq!(server.get("/v1/commands/nope", token).status(), StatusCode::NOT_FOUND);
    let bad_target = server.cli(&["command", "send", "--document", "AWS-RunShellScript", "--targets", "hosts:a", "-p", "commands=true"]);
    assert_eq!(bad_target.code, 2, "{}", bad_target.stderr);
}

#[test]
fn a_report_answers_the_nodes_waiting_poll() {
    let server = FleetServer::start(&[]);
    let (id, code) = server.activation(&json!({}));
    let (node, credential) = server.register(&id, &code, "two-connections");
    let command_id = send(&server, &shell(ids(&[&node]), &["echo hi"]));
    let work = json_of(server.post("/v1/agent/poll", Some(&credential), &json!({"waitSeconds": 10})), StatusCode::OK);
    let invocation_id = work["assignments"][0]["invocationId"].as_str().unwrap().to_string();
    // The node polls again while its command runs (one connection), then reports over another.
    let (answered, poll_answer) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let body = json!({"waitSeconds": 60, "running": [invocation_id]});
            let _ = answered.send(json_of(server.post("/v1/agent/poll", Some(&credential), &body), StatusCode::OK));
        });
        // Reports until the waiting poll answers: a report that comes before the poll waits releases nothing.
        let done = json!({"status": "Success", "exitCode": 0, "stdout": "hi\n"});
        let answer = poll("the waiting poll to answer after a report", Duration::from_secs(30), || {
            json_of(server.post(&format!("/v1/agent/invocations/{invocation_id}"), Some(&credential), &done), StatusCode::OK);
            poll_answer.recv_timeout(Duration::from_millis(500)).ok()
        });
        assert_eq!(answer["assignments"], json!([]), "{answer}");
    });
    let view = wait_command(&server, &command_id, &["Success"]);
    assert_eq!(invocation(&view, &node)["stdout"], "hi\n");
}

#[test]
fn work_for_a_silent_node_is_delayed_until_it_polls() {
    let server = FleetServer::start(&["--heartbeat-gap", "1"]);
    let (id, code) = server.activation(&json!({}));
    let (node, credential) = server.register(&id, &code, "quiet");
    let command_id = send(&server, &shell(ids(&[&node]), &["echo late"]));
    let delayed = poll("the invocation to be Delayed", Duration::from_secs(30), || {
        let view = command(&server, &command_id);
        (invocation(&view, &node)["status"] == "Delayed").then_some(view)
    });
    assert_eq!(delayed["status"], "InProgress", "{delayed}");
    let work = json_of(server.post("/v1/agent/poll", Some(&credential), &json!({"waitSeconds": 1})), StatusCode::OK);
    let invocation_id = work["assignments"][0]["invocationId"].as_str().unwrap().to_string();
    let ack = json_of(
        server.post(&format!("/v1/agent/invocations/{invocation_id}"), Some(&credential), &json!({"status": "InProgress"})),
        StatusCode::OK,
    );
    assert_eq!(ack["status"], "InProgress");
    let done = json!({"status": "Success", "exitCode": 0, "stdout": "late\n"});
    let ack = json_of(server.post(&format!("/v1/agent/invocations/{invocation_id}"), Some(&credential), &done), StatusCode::OK);
    assert_eq!(ack["recorded"], true);
    // A repeated report is acknowledged and changes nothing.
    let again = json!({"status": "Failed", "exitCode": 1});
    let ack = json_of(server.post(&format!("/v1/agent/invocations/{invocation_id}"), Some(&credential), &again), StatusCode::OK);
    assert_eq!((ack["recorded"].clone(), ack["status"].clone()), (json!(false), json!("Success")));
    let view = wait_command(&server, &command_id, &["Success"]);
    assert_eq!(invocation(&view, &node)["stdout"], "late\n");
}
