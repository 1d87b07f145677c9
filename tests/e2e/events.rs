//! The event bus through a real `bosun server`: hooks refusing bad signatures, old
//! timestamps, replayed ids, oversized bodies, malformed JSON and other content
//! types, and accepting good ones (Standard Webhooks and GitHub); an event stored
//! before its 202 surviving `kill -9` with its rule's target run exactly once;
//! OpsItem deduplication; targets (outbound signed webhook, Automation); the dead-letter
//! list; and an audit row for each state-changing call.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::command_webhook::{Receiver, expected_signature};
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

const LIMIT: Duration = Duration::from_secs(60);

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The Standard Webhooks signature, computed here independently of the server.
fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// POSTs `body` to a hook with Standard Webhooks headers signed by `secret` at `timestamp`.
fn deliver(server: &FleetServer, hook: &str, secret: &str, id: &str, timestamp: i64, body: &str) -> reqwest::blocking::Response {
    let request = reqwest::blocking::Client::new()
        .post(format!("{}/v1/hooks/{hook}", server.url))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sign(secret, id, timestamp, body))
        .body(body.to_string());
    server.send(request, None)
}

fn create_hook(server: &FleetServer, args: &[&str]) -> String {
    let mut all = vec!["hook", "create"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json"]);
    let run = server.cli(&all);
    run.expect_code(0);
    run.json()["secret"].as_str().unwrap().to_string()
}

fn create_rule(server: &FleetServer, rule: &Value) {
    json_of(server.post("/v1/rules", Some(&server.token), rule), StatusCode::CREATED);
}

fn opsitems(server: &FleetServer) -> Vec<Value> {
    json_of(server.get("/v1/opsitems", Some(&server.token)), StatusCode::OK).as_array().unwrap().clone()
}

fn error_message(response: reqwest::blocking::Response, status: StatusCode) -> String {
    json_of(response, status)["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn hooks_refuse_what_is_not_signed_fresh_new_small_and_json() {
    let server = FleetServer::start(&[]);
    let secret = create_hook(&server, &["ci", "--source", "ci.builds", "--body-limit", "1024"]);
    let body = r#"{"type": "build.finished", "status": "failed"}"#;

    let accepted = json_of(deliver(&server, "ci", &secret, "msg_1", now(), body), StatusCode::ACCEPTED);
    let event_id = accepted["eventId"].as_str().unwrap();
    let events = json_of(server.get("/v1/events", Some(&server.token)), StatusCode::OK);
    let stored = events.as_array().unwrap().iter().find(|e| e["id"] == event_id).expect("the event is in the log");
    assert_eq!((stored["source"].as_str(), stored["detail-type"].as_str()), (Some("ci.builds"), Some("build.finished")));
    assert_eq!(stored["detail"]["status"], "failed");

    let replayed = error_message(deliver(&server, "ci", &secret, "msg_1", now(), body), StatusCode::CONFLICT);
    assert!(replayed.contains("msg_1"), "{replayed}");
    let stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let forged = error_message(deliver(&server, "ci", stranger, "msg_2", now(), body), StatusCode::UNAUTHORIZED);
    assert!(forged.contains("signature"), "{forged}");
    let stale = error_message(deliver(&server, "ci", &secret, "msg_3", now() - 301, body), StatusCode::UNAUTHORIZED);
    assert!(stale.contains("timestamp"), "{stale}");
    let future = deliver(&server, "ci", &secret, "msg_4", now() + 600, body);
    assert_eq!(future.status(), StatusCode::UNAUTHORIZED);
    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(2000));
    assert_eq!(deliver(&server, "ci", &secret, "msg_5", now(), &big).status(), StatusCode::PAYLOAD_TOO_LARGE);
    let malformed = error_message(deliver(&server, "ci", &secret, "msg_6", now(), "{\n  \"a\": }"), StatusCode::BAD_REQUEST);
    assert!(malformed.contains("line 2 column"), "{malformed}");
    let text = server.send(
        reqwest::blocking::Client::new().post(format!("{}/v1/hooks/ci", server.url)).header("content-type", "text/plain").body("hi"),
        None,
    );
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unsigned = server.post("/v1/hooks/ci", None, &json!({}));
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(&server, "nope", &secret, "msg_7", now(), body).status(), StatusCode::NOT_FOUND);
    // An admin token is no signature.
    assert_eq!(server.post("/v1/hooks/ci", Some(&server.token), &json!({})).status(), StatusCode::UNAUTHORIZED);

    // Rotation: the old secret stays valid for the grace period, the new one works at once.
    let rotated = server.cli(&["hook", "rotate-secret", "ci", "--grace-seconds", "3600", "--output", "json"]);
    rotated.expect_code(0);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    json_of(deliver(&server, "ci", &secret, "msg_8", now(), body), StatusCode::ACCEPTED);
    json_of(deliver(&server, "ci", &new_secret, "msg_9", now(), body), StatusCode::ACCEPTED);
    server.cli(&["hook", "rotate-secret", "ci", "--grace-seconds", "0"]).expect_code(0);
    assert_eq!(deliver(&server, "ci", &new_secret, "msg_10", now(), body).status(), StatusCode::UNAUTHORIZED);

    // GitHub's scheme.
    let github = create_hook(&server, &["gh", "--scheme", "github"]);
    let payload = r#"{"ref": "refs/heads/main"}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(github.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let push = |signature: &str, delivery: &str| {
        let request = reqwest::blocking::Client::new()
            .post(format!("{}/v1/hooks/gh", server.url))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signature)
            .body(payload);
        server.send(request, None)
    };
    json_of(push(&signature, "d-1"), StatusCode::ACCEPTED);
    assert_eq!(push(&signature, "d-1").status(), StatusCode::CONFLICT);
    assert_eq!(push("sha256=00", "d-2").status(), StatusCode::UNAUTHORIZED);

    let list = server.cli(&["hook", "list"]);
    list.expect_code(0);
    assert!(list.stdout.contains("ci.builds") && list.stdout.contains("github"), "{}", list.stdout);
    assert!(!list.stdout.contains("whsec_"), "secrets are not listed");
    server.cli(&["hook", "delete", "gh"]).expect_code(0);
    assert_eq!(push(&signature, "d-3").status(), StatusCode::NOT_FOUND);
}

fn opsitem_rule(name: &str, source: &str) -> Value {
    json!({
        "name": name,
        "eventPattern": {"source": [source], "detail": {"severity": [{"numeric": [">=", 3]}]}},
        "targets": [{
            "id": "ops",
            "action": {"type": "opsItem", "title": "alert"},
            "inputTransformer": {
                "inputPaths": {"host": "$.detail.host"},
                "inputTemplate": "{\"title\": \"Disk full on <host>\", \"deduplication\": \"disk-<host>\", \"severity\": \"2\"}"
            }
        }]
    })
}

#[test]
fn an_event_stored_before_its_202_survives_kill9_and_its_target_runs_once() {
    let mut server = FleetServer::start(&[]);
    let secret = create_hook(&server, &["alerts"]);
    create_rule(&server, &opsitem_rule("disk", "hook.alerts"));
    json_of(deliver(&server, "alerts", &secret, "a-1", now(), r#"{"host": "web-1", "severity": 4}"#), StatusCode::ACCEPTED);
    server.kill9();
    server.restart();
    let items = poll("the OpsItem of the event", LIMIT, || Some(opsitems(&server)).filter(|i| !i.is_empty()));
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!((items[0]["title"].as_str(), items[0]["occurrences"].as_u64()), (Some("Disk full on web-1"), Some(1)));
    // Restarting again runs nothing again: the delivery was done with the OpsItem.
    server.restart();
    json_of(deliver(&server, "alerts", &secret, "a-2", now(), r#"{"host": "web-1", "severity": 1}"#), StatusCode::ACCEPTED);
    json_of(deliver(&server, "alerts", &secret, "a-3", now(), r#"{"host": "web-1", "severity": 3}"#), StatusCode::ACCEPTED);
    let item = poll("the repeat counted on the open OpsItem", LIMIT, || {
        let items = opsitems(&server);
        items.iter().find(|i| i["occurrences"] == 2).cloned()
    });
    assert_eq!(opsitems(&server).len(), 1, "the repeat did not open another OpsItem");
    assert_eq!(item["deduplication"], "disk-web-1");

    // A runbook run from the OpsItem is recorded on it.
    let id = item["id"].as_str().unwrap();
    let ran = server.cli(&["opsitem", "run-runbook", id, "Bosun-HelloWorld", "-p", "Name=Ada", "--output", "json"]);
    ran.expect_code(0);
    let execution = ran.json()["executions"][0].as_str().unwrap().to_string();
    assert_eq!(ran.json()["runbooks"], json!(["Bosun-HelloWorld"]));
    json_of(server.get(&format!("/v1/executions/{execution}"), Some(&server.token)), StatusCode::OK);
    server.cli(&["opsitem", "run-runbook", id, "No-Such-Runbook"]).expect_code(2);

    // A resolved OpsItem takes no repeats: the same string opens a new one.
    server.cli(&["opsitem", "update", id, "--status", "Resolved"]).expect_code(0);
    json_of(deliver(&server, "alerts", &secret, "a-4", now(), r#"{"host": "web-1", "severity": 5}"#), StatusCode::ACCEPTED);
    poll("a new OpsItem", LIMIT, || Some(()).filter(|()| opsitems(&server).len() == 2));
    let shown = server.cli(&["opsitem", "show", id, "--output", "json"]);
    shown.expect_code(0);
    assert_eq!(shown.json()["status"], "Resolved");
    assert!(json_of(server.get("/v1/events/dlq", Some(&server.token)), StatusCode::OK).as_array().unwrap().is_empty());
}

#[test]
fn rules_deliver_to_webhooks_and_automations_and_failures_reach_the_dead_letter_list() {
    let server = FleetServer::start(&[]);
    let secret = create_hook(&server, &["deploys"]);
    let receiver = Receiver::start(0);
    let target_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    create_rule(
        &server,
        &json!({
            "name": "notify",
            "eventPattern": {"source": ["hook.deploys"], "detail": {"env": [{"prefix": "prod"}]}},
            "targets": [
                {"id": "hook", "action": {"type": "webhook", "url": receiver.url, "secret": target_secret},
                 "inputTransformer": {"inputPaths": {"env": "$.detail.env"}, "inputTemplate": "{\"deployed\": \"<env>\"}"}},
                {"id": "hello", "action": {"type": "automation", "documentName": "Bosun-HelloWorld"}, "input": {"Name": "Ada"}},
                {"id": "broken", "action": {"type": "automation", "documentName": "No-Such-Runbook"}}
            ]
        }),
    );
    // Bosun's own events reach rules too: the execution the rule starts ends in Success.
    create_rule(
        &server,
        &json!({
            "name": "on-success",
            "eventPattern": {"source": ["bosun.automation"], "detail": {"status": ["Success"], "document-name": ["Bosun-HelloWorld"]}},
            "targets": [{"id": "note", "action": {"type": "opsItem", "title": "HelloWorld succeeded", "severity": "4"}}]
        }),
    );
    json_of(deliver(&server, "deploys", &secret, "d-1", now(), r#"{"env": "staging"}"#), StatusCode::ACCEPTED);
    json_of(deliver(&server, "deploys", &secret, "d-2", now(), r#"{"env": "prod-eu"}"#), StatusCode::ACCEPTED);
    let received = poll("the signed webhook", LIMIT, || receiver.requests().into_iter().next());
    assert_eq!(serde_json::from_slice::<Value>(&received.body).unwrap(), json!({"deployed": "prod-eu"}));
    assert_eq!(received.headers["webhook-signature"], expected_signature(target_secret, &received));
    assert_eq!(receiver.requests().len(), 1, "the staging event matched nothing");

    let execution = poll("the rule's execution", LIMIT, || {
        let list = json_of(server.get("/v1/executions", Some(&server.token)), StatusCode::OK);
        list.as_array()?.iter().find(|e| e["documentName"] == "Bosun-HelloWorld").cloned()
    });
    assert!(execution.is_object());
    let item = poll("the OpsItem of the execution's Success event", LIMIT, || opsitems(&server).into_iter().next());
    assert_eq!((item["title"].as_str(), item["source"].as_str()), (Some("HelloWorld succeeded"), Some("bosun.automation")));
    let audit = json_of(server.get("/v1/audit?principal=rule:notify", Some(&server.token)), StatusCode::OK);
    assert!(audit.as_array().unwrap().iter().any(|r| r["action"] == "start-execution Bosun-HelloWorld"), "{audit}");

    // A missing runbook is a permanent failure: dead at once, listed, and replayable.
    let dead = poll("the dead letter", LIMIT, || {
        let run = server.cli(&["event", "dlq", "list", "--output", "json"]);
        run.json().as_array().filter(|a| !a.is_empty()).cloned()
    });
    assert_eq!((dead.len(), dead[0]["targetId"].as_str()), (1, Some("broken")));
    assert!(dead[0]["lastError"].as_str().unwrap().contains("No-Such-Runbook"), "{dead:?}");
    let id = dead[0]["deliveryId"].to_string();
    let replay = server.cli(&["event", "dlq", "replay", &id]);
    replay.expect_code(0);
    assert!(replay.stdout.contains("1 deliveries sent again"), "{}", replay.stdout);
    poll("the replayed delivery to fail again", LIMIT, || {
        let dead = json_of(server.get("/v1/events/dlq", Some(&server.token)), StatusCode::OK);
        dead.as_array().filter(|a| a.len() == 1 && a[0]["attempts"] == 1).map(|_| ())
    });
}

#[test]
fn the_rule_commands_and_the_audit_trail() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let mut bad = opsitem_rule("bad", "x");
    bad["eventPattern"] = json!({"source": [{"prefx": "a"}]});
    let refused = server.cli(&["rule", "create", "--file", &write("bad.json", &bad)]);
    refused.expect_code(2);
    assert!(refused.stderr.contains("eventPattern.source[0].prefx"), "{}", refused.stderr);
    server.cli(&["rule", "create", "--file", &write("good.json", &opsitem_rule("disk", "hook.x"))]).expect_code(0);
    let list = server.cli(&["rule", "list", "--output", "json"]);
    list.expect_code(0);
    assert_eq!(list.json()[0]["name"], "disk");
    server.cli(&["rule", "disable", "disk"]).expect_code(0);
    let shown = server.cli(&["rule", "show", "disk", "--output", "json"]);
    assert_eq!(shown.json()["enabled"], false);
    server.cli(&["rule", "enable", "disk"]).expect_code(0);
    server.cli(&["rule", "delete", "disk"]).expect_code(0);
    server.cli(&["rule", "show", "disk"]).expect_code(2);
    create_hook(&server, &["h"]);
    // A parameter put changes state; the reads (POSTs, as in SSM) do not and are not recorded.
    server.cli(&["param", "put", "/audit/p", "v", "--type", "String"]).expect_code(0);
    server.cli(&["param", "get", "/audit/p"]).expect_code(0);
    server.cli(&["param", "get-by-path", "/audit"]).expect_code(0);

    let audit = server.cli(&["audit", "list", "--principal", "ops", "--output", "json"]);
    audit.expect_code(0);
    let rows: Vec<(String, String)> = audit
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap().to_string(), r["outcome"].as_str().unwrap().to_string()))
        .collect();
    let expected = [
        ("POST /v1/rules", "422"),
        ("POST /v1/rules", "201"),
        ("POST /v1/rules/disk/disable", "200"),
        ("POST /v1/rules/disk/enable", "200"),
        ("DELETE /v1/rules/disk", "204"),
        ("POST /v1/hooks", "201"),
        ("POST /v1/parameters/put", "200"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(a, o)| (a.to_string(), o.to_string())).collect();
    assert_eq!(rows, expected);
    let first = &audit.json()[0];
    assert_eq!((first["principal"].as_str(), first["sourceAddress"].as_str()), (Some("ops"), Some("127.0.0.1")));
    let later = server.cli(&["audit", "list", "--since", "2999-01-01T00:00:00Z", "--output", "json"]);
    assert_eq!(later.json(), json!([]));
    server.cli(&["audit", "list", "--since", "yesterday"]).expect_code(2);

    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for path in [
        "/v1/hooks",
        "/v1/hooks/{name}",
        "/v1/hooks/{name}/rotate-secret",
        "/v1/rules",
        "/v1/rules/{name}/enable",
        "/v1/events",
        "/v1/events/dlq",
        "/v1/events/dlq/replay",
        "/v1/opsitems/{id}",
        "/v1/opsitems/{id}/run-runbook",
        "/v1/audit",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is not in the OpenAPI document");
    }
    assert!(openapi["paths"]["/v1/hooks/{name}"]["post"].is_object() && openapi["paths"]["/v1/hooks/{name}"]["delete"].is_object());

    let pattern = write("p.json", &json!({"detail": {"n": [{"numeric": [">", 1]}]}}));
    let yes = server.cli(&["rule", "test", "--pattern", &pattern, "--event", &write("e1.json", &json!({"detail": {"n": 2}}))]);
    assert_eq!((yes.code, yes.stdout.trim()), (0, "match"));
    let no = server.cli(&["rule", "test", "--pattern", &pattern, "--event", &write("e2.json", &json!({"detail": {"n": 1}}))]);
    assert_eq!((no.code, no.stdout.trim()), (1, "no-match"));
}
