//! Run Command completion notifications through a real `bosun server`
//! (`--command-webhook`): a loopback receiver that fails on purpose, the Standard
//! Webhooks signature checked with the secret file, retries after a failure, and
//! a notification still due after `kill -9` sent at the next start.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

const LIMIT: Duration = Duration::from_secs(60);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    path: String,
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
    /// The status the receiver answered.
    answered: u16,
}

/// A loopback HTTP receiver that answers 500 to its first `failures` requests and 200 afterwards.
pub(crate) struct Receiver {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

impl Receiver {
    pub(crate) fn start(failures: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicUsize::new(failures));
        let (got, failing) = (requests.clone(), failures.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_one(stream, &got, &failing);
            }
        });
        Receiver { url, requests, failures }
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_one(stream: TcpStream, got: &Mutex<Vec<Received>>, failing: &AtomicUsize) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let fail = failing.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let answered = if fail { 500 } else { 200 };
    got.lock().unwrap().push(Received { path, headers, body, answered });
    let reason = if fail { "Internal Server Error" } else { "OK" };
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {answered} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
    stream.flush()
}

/// The Standard Webhooks signature of a request, computed here independently of the server.
pub(crate) fn expected_signature(secret: &str, request: &Received) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", request.headers["webhook-id"], request.headers["webhook-timestamp"]).as_bytes());
    mac.update(&request.body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A server sending notifications to `receiver`, with a secret file of [`SECRET`], and one registered node.
fn server_with_node(receiver: &Receiver, secret_dir: &tempfile::TempDir) -> (FleetServer, String, String) {
    let secret_file = secret_dir.path().join("webhook.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let server = FleetServer::start(&["--command-webhook", &receiver.url, "--command-webhook-secret-file", secret_file.to_str().unwrap()]);
    let (id, code) = server.activation(&json!({}));
    let (node, credential) = server.register(&id, &code, "web-1");
    (server, node, credential)
}

/// Sends `echo hi` to `node` and, as its agent, takes the assignment and reports Success; returns the command id.
fn run_echo_as_the_agent(server: &FleetServer, node: &str, credential: &str) -> String {
    let body = json!({
        "documentName": "AWS-RunShellScript",
        "targets": [{"key": "InstanceIds", "values": [node]}],
        "parameters": {"commands": ["echo hi"]},
    });
    let sent = json_of(server.post("/v1/commands", Some(&server.token), &body), StatusCode::CREATED);
    let command_id = sent["commandId"].as_str().unwrap().to_string();
    let invocation = poll("the assignment", LIMIT, || {
        let work = json_of(server.post("/v1/agent/poll", Some(credential), &json!({"waitSeconds": 5})), StatusCode::OK);
        let assignment = work["assignments"].as_array()?.first()?.clone();
        assert_eq!(assignment["commandId"], command_id.as_str());
        Some(assignment["invocationId"].as_str()?.to_string())
    });
    let report = json!({"status": "Success", "exitCode": 0, "stdout": "hi\n"});
    json_of(server.post(&format!("/v1/agent/invocations/{invocation}"), Some(credential), &report), StatusCode::OK);
    command_id
}

#[track_caller]
fn assert_notifies(request: &Received, command_id: &str) {
    assert_eq!(request.path, "/hook");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["webhook-id"], format!("cmd_{command_id}"));
    let sent_at: i64 = request.headers["webhook-timestamp"].parse().unwrap();
    assert!((sent_at - chrono::Utc::now().timestamp()).abs() < 300, "{sent_at}");
    assert_eq!(request.headers["webhook-signature"], expected_signature(SECRET, request), "the signature verifies with the secret file");
    let wrong = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_ne!(request.headers["webhook-signature"], expected_signature(wrong, request));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "bosun.command.completed");
    assert_eq!(body["data"]["commandId"], command_id);
    assert_eq!(body["data"]["status"], "Success", "{body}");
    assert_eq!(body["data"]["counts"], json!({"Success": 1}));
    assert!(body["data"].get("invocations").is_none(), "{body}");
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok(), "{body}");
    assert_eq!(body["timestamp"], body["data"]["completedAt"]);
}

#[test]
fn a_completed_command_is_notified_signed_and_retried_after_a_failure() {
    let receiver = Receiver::start(1);
    let secret_dir = tempfile::tempdir().unwrap();
    let (server, node, credential) = server_with_node(&receiver, &secret_dir);
    let command_id = run_echo_as_the_agent(&server, &node, &credential);

    let requests = poll("the notification to be delivered after a failure", LIMIT, || {
        let requests = receiver.requests();
        (requests.iter().any(|r| r.answered == 200)).then_some(requests)
    });
    assert_eq!(requests.iter().map(|r| r.answered).collect::<Vec<_>>(), [500, 200], "{requests:?}");
    for request in &requests {
        assert_notifies(request, &command_id);
    }
    assert_eq!(requests[0].headers["webhook-id"], requests[1].headers["webhook-id"], "one message id across retries");
    let log = server.log_text();
    assert!(log.contains("the command webhook failed"), "{log}");
    assert!(!log.contains(SECRET.strip_prefix("whsec_").unwrap()), "the secret is never logged");
}

#[test]
fn a_notification_due_at_a_crash_is_sent_at_the_next_start() {
    // Fails until told otherwise: the notification is due when the server is killed.
    let receiver = Receiver::start(usize::MAX);
    let secret_dir = tempfile::tempdir().unwrap();
    let (mut server, node, credential) = server_with_node(&receiver, &secret_dir);
    let command_id = run_echo_as_the_agent(&server, &node, &credential);
    poll("a failed attempt", LIMIT, || (!receiver.requests().is_empty()).then_some(()));
    server.kill9();

    receiver.failures.store(0, Ordering::SeqCst);
    server.restart();
    let delivered = poll("the notification after the restart", LIMIT, || receiver.requests().into_iter().find(|r| r.answered == 200));
    assert_notifies(&delivered, &command_id);
    // Delivered once: nothing more arrives for it (the next poke would resend anything still due).
    let before = receiver.requests().len();
    let second = run_echo_as_the_agent(&server, &node, &credential);
    let next = poll("the second command's notification", LIMIT, || {
        let requests = receiver.requests();
        (requests.len() > before).then(|| requests[before..].to_vec())
    });
    assert!(next.iter().all(|r| r.headers["webhook-id"] == format!("cmd_{second}")), "{next:?}");
}
