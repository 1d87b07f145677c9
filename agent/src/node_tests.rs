//! Tests of the node's HTTP retry, backoff and stop logic against a scripted
//! server (the real server's end-to-end tests live elsewhere): reports retried
//! until acknowledged, registration retried then stored, a refused registration
//! and a 401 ending the node instead of spinning.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use bosun_protocol::InvocationStatus;
use serde_json::json;

use super::*;
use crate::config::Activation;
use crate::testserver::{FakeServer, Reply};

fn config(server: &str, state_dir: &Path) -> AgentConfig {
    let mut c = AgentConfig::new(server, state_dir);
    c.retry_delays = (Duration::from_millis(1), Duration::from_millis(20));
    c.poll_seconds = 1;
    c
}

fn shared(config: AgentConfig) -> Arc<Shared> {
    let http = crate::client::http_client(4, None).unwrap();
    let control = ControlPlane::new(http, &config.server).unwrap();
    let plugins = Arc::new(crate::exec::plugin::PluginRunner::new(config.state_dir.join("plugins")));
    Arc::new(Shared { config, control, processes: Arc::new(Semaphore::new(4)), registrations: Semaphore::new(4), plugins })
}

/// A registered node `mi-1` with `credential`, talking to `server`, its state in `dir`.
fn node(server: &str, credential: &str, dir: &Path) -> Node {
    let shared = shared(config(server, dir));
    let control = shared.node_control().unwrap();
    Node::new(
        shared,
        control,
        Identity { node_id: "mi-1".into(), credential: credential.into(), server: String::new() },
        StateDir::open(dir, crate::state::Durability::Synced).unwrap(),
        platform::detect(),
        false,
        CancellationToken::new(),
    )
}

fn stored_identity(dir: &Path) {
    let id = Identity { node_id: "mi-0123456789abcdef0".into(), credential: "cred-1".into(), server: String::new() };
    identity::save(dir, &id).unwrap();
}

fn unauthorized() -> Reply {
    Reply::Json(401, json!({"error": "unauthorized", "message": "the node credential was revoked"}).to_string())
}

async fn run(shared: Arc<Shared>) -> Result<(), AgentError> {
    let root = shared.config.state_dir.clone();
    let finished =
        tokio::time::timeout(Duration::from_secs(60), run_node(shared, root, platform::detect(), false, CancellationToken::new())).await;
    finished.expect("the node stops by itself")
}

#[tokio::test]
async fn a_report_is_retried_until_acknowledged() {
    let server = FakeServer::start(|_, earlier| match earlier {
        0 => Reply::Json(503, json!({"error": "unavailable", "message": "busy"}).to_string()),
        1 => Reply::Drop,
        _ => Reply::Json(200, json!({"recorded": true, "status": "Success"}).to_string()),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let node = node(&server.url, "cred-1", dir.path());
    let delivery = node.send_until_acked("inv-1", &report::terminal(InvocationStatus::Success, "")).await;
    assert!(matches!(delivery, Delivery::Acked(ReportAck { recorded: true, .. })), "{delivery:?}");
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.path == "/v1/agent/invocations/inv-1" && s.authorization.as_deref() == Some("Bearer cred-1")));
}

#[tokio::test]
async fn a_refused_report_is_not_retried() {
    let server = FakeServer::start(|_, _| Reply::Json(404, json!({"error": "not_found", "message": "no invocation"}).to_string())).await;
    let dir = tempfile::tempdir().unwrap();
    let node = node(&server.url, "c", dir.path());
    let delivery = node.send_until_acked("inv-1", &report::in_progress()).await;
    assert!(matches!(delivery, Delivery::Refused));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn polls_back_off_on_errors_and_a_401_stops_the_node() {
    let server = FakeServer::start(|seen, earlier| match (seen.path.as_str(), earlier) {
        ("/v1/agent/heartbeat", _) => Reply::Json(204, String::new()),
        ("/v1/agent/poll", 0) => Reply::Drop,
        ("/v1/agent/poll", 1) => Reply::Json(500, json!({"error": "internal", "message": "database is locked"}).to_string()),
        ("/v1/agent/poll", 2) => Reply::Json(200, json!({"assignments": [], "cancel": []}).to_string()),
        _ => unauthorized(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    stored_identity(dir.path());
    let err = run(shared(config(&server.url, dir.path()))).await.unwrap_err();
    assert!(matches!(err, AgentError::Deregistered { .. }), "{err}");
    assert!(err.to_string().contains("the node credential was revoked"), "{err}");
    assert_eq!(server.count("/v1/agent/poll"), 4, "stops at the first 401");
    let heartbeat = server.seen().into_iter().find(|s| s.path == "/v1/agent/heartbeat").unwrap();
    let body: serde_json::Value = serde_json::from_str(&heartbeat.body).unwrap();
    assert_eq!(body["platform"]["platformType"], "Linux");
}

#[tokio::test]
async fn registration_is_retried_then_stored() {
    let server = FakeServer::start(|seen, earlier| match (seen.path.as_str(), earlier) {
        ("/v1/agent/register", 0) => Reply::Json(503, json!({"error": "unavailable", "message": "starting"}).to_string()),
        ("/v1/agent/register", _) => Reply::Json(201, json!({"nodeId": "mi-0000000000000abcd", "credential": "fresh"}).to_string()),
        ("/v1/agent/heartbeat", _) => Reply::Json(204, String::new()),
        _ => unauthorized(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&server.url, dir.path());
    c.activation = Some(Activation { id: "act-1".into(), code: "code-1".into() });
    let err = run(shared(c)).await.unwrap_err();
    assert!(matches!(err, AgentError::Deregistered { .. }), "{err}");
    let stored = identity::load(dir.path()).unwrap().unwrap();
    assert_eq!((stored.node_id.as_str(), stored.credential.as_str()), ("mi-0000000000000abcd", "fresh"));
    assert_eq!(std::fs::metadata(identity::path(dir.path())).unwrap().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(dir.path()).unwrap().mode() & 0o777, 0o700);
    let register = server.seen().into_iter().find(|s| s.path == "/v1/agent/register").unwrap();
    assert_eq!(register.authorization, None);
    let body: serde_json::Value = serde_json::from_str(&register.body).unwrap();
    assert_eq!(body["activationId"], "act-1");
    let poll = server.seen().into_iter().find(|s| s.path == "/v1/agent/poll").unwrap();
    assert_eq!(poll.authorization.as_deref(), Some("Bearer fresh"));
}

#[tokio::test]
async fn a_refused_registration_says_why() {
    let server = FakeServer::start(|_, _| {
        Reply::Json(400, json!({"error": "invalid", "message": "the activation has expired", "field": "activationId"}).to_string())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&server.url, dir.path());
    c.activation = Some(Activation { id: "act-1".into(), code: "code-1".into() });
    let err = run(shared(c)).await.unwrap_err();
    assert!(matches!(err, AgentError::RegistrationRefused { status: 400, .. }), "{err}");
    assert!(err.to_string().contains("the activation has expired (field activationId)"), "{err}");
    assert_eq!(server.seen().len(), 1);
    assert!(identity::load(dir.path()).unwrap().is_none());
}

#[tokio::test]
async fn no_identity_and_no_activation_names_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(shared(config("http://127.0.0.1:9", dir.path()))).await.unwrap_err();
    assert!(matches!(err, AgentError::NotRegistered { .. }));
    assert!(err.to_string().contains("--activation-id and --activation-code"), "{err}");
}

#[tokio::test]
async fn shutdown_abandons_a_pending_poll_and_returns() {
    let server = FakeServer::start(|seen, _| match seen.path.as_str() {
        "/v1/agent/heartbeat" => Reply::Json(204, String::new()),
        _ => Reply::Hang,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    stored_identity(dir.path());
    let mut c = config(&server.url, dir.path());
    c.poll_seconds = 30;
    // Shut down once the agent's long poll is held open by the server.
    let shutdown = async {
        while server.count("/v1/agent/poll") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let result = tokio::time::timeout(Duration::from_secs(60), crate::run(c, shutdown)).await.expect("run returns after shutdown");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(server.count("/v1/agent/poll"), 1);
}

// Paused time: the waits are measured on tokio's clock, which only moves when every task waits.
#[tokio::test(start_paused = true)]
async fn the_next_poll_waits_briefly_for_work_to_be_reported() {
    let dir = tempfile::tempdir().unwrap();
    let node = Arc::new(node("http://127.0.0.1:9", "c", dir.path()));
    // Nothing running: no wait at all.
    let started = Instant::now();
    node.settle().await;
    assert_eq!(started.elapsed(), Duration::ZERO);

    // Work that is reported soon: the wait ends when it is forgotten, not at the deadline.
    node.set_running("inv-1");
    let reporter = Arc::clone(&node);
    let started = Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        reporter.set_reporting("inv-1");
        reporter.forget("inv-1");
    });
    node.settle().await;
    assert!(node.running_ids().is_empty());
    assert_eq!(started.elapsed(), Duration::from_millis(20));

    // Work that goes on, and a reboot pending: the wait ends at the deadline; a pending
    // reboot alone does not hold the poll up.
    node.set_running("inv-2");
    let started = Instant::now();
    node.settle().await;
    assert_eq!(started.elapsed(), REPORT_SETTLE);
    node.set_reboot_pending("inv-2");
    let started = Instant::now();
    node.settle().await;
    assert_eq!(started.elapsed(), Duration::ZERO);
}
