//! Session Manager end to end: a real `bosun server`, real `bosun-agent`
//! processes and the `bosun session` CLI in a real terminal (a PTY): a command's
//! round trip, the window size and its change seen by `stty size`, Ctrl-C
//! interrupting `sleep`, the remote exit code, the recording equal to what the
//! terminal showed, an interactive command, terminate, the idle timeout, the
//! maximum duration, the shell profile, a missing run-as user, nodes a
//! token may not open, port forwarding carrying a TCP echo, and a `yes` flood
//! that a stalled terminal holds back without memory growing on the server or the
//! agent. `hostile.rs` sends what no client or node should.

mod hostile;
mod term;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::Agent;
use crate::fleet::{FleetServer, json_of};
use crate::support::{bosun, bosun_path, poll};
use term::Terminal;

const LIMIT: Duration = Duration::from_secs(60);
/// The exit code of a session the server ended (terminate, timeouts).
const ENDED_BY_SERVER: i32 = 130;

/// The user this test runs as: sessions run as it (as root, through the run-as preference).
fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A server and one agent tagged `tags`; sessions run as this test's user.
fn setup(dir: &std::path::Path, tags: &[(&str, &str)]) -> (FleetServer, Agent) {
    let server = FleetServer::start(&[]);
    let agent = Agent::start(&server, dir, "node", tags);
    set_preferences(&server, json!({}));
    (server, agent)
}

/// Sets the session preferences: the defaults with run-as this user, and `changes`.
fn set_preferences(server: &FleetServer, changes: Value) {
    let mut preferences = json_of(server.get("/v1/session-preferences", Some(&server.token)), StatusCode::OK);
    preferences["runAs"] = json!(me());
    for (key, value) in changes.as_object().unwrap() {
        preferences[key] = value.clone();
    }
    let response = server.send(server_put(server, "/v1/session-preferences").json(&preferences), Some(&server.token));
    json_of(response, StatusCode::OK);
}

fn server_put(server: &FleetServer, path: &str) -> reqwest::blocking::RequestBuilder {
    reqwest::blocking::Client::new().put(format!("{}{path}", server.url))
}

fn session(server: &FleetServer, id: &str) -> Value {
    json_of(server.get(&format!("/v1/sessions/{id}"), Some(&server.token)), StatusCode::OK)
}

/// The session the CLI opened: the one session of the node.
fn only_session(server: &FleetServer, node: &str) -> Value {
    poll("the session to be listed", LIMIT, || {
        let list = json_of(server.get(&format!("/v1/sessions?target={node}"), Some(&server.token)), StatusCode::OK);
        list.as_array()?.first().cloned()
    })
}

/// Waits for the session to end; its view.
fn ended(server: &FleetServer, id: &str) -> Value {
    poll(&format!("session {id} to end"), LIMIT, || {
        let view = session(server, id);
        view["endedAt"].is_string().then_some(view)
    })
}

/// The recorded output of a session.
fn recording(server: &FleetServer, id: &str) -> Vec<u8> {
    let transcript = json_of(server.get(&format!("/v1/sessions/{id}/transcript"), Some(&server.token)), StatusCode::OK);
    let b64 = base64::engine::general_purpose::STANDARD;
    transcript["chunks"].as_array().unwrap().iter().flat_map(|c| b64.decode(c["data"].as_str().unwrap()).unwrap()).collect()
}

/// Types `command` and waits for `needle`, typing it again every second (for what
/// depends on a signal the terminal sends on its own, like a window change).
fn retype_until(term: &mut Terminal, command: &str, needle: &str) {
    let mut tries = 0;
    poll(&format!("{needle:?} after {command:?}"), LIMIT, || {
        if tries % 50 == 0 {
            term.type_bytes(command.as_bytes());
        }
        tries += 1;
        term.text().contains(needle).then_some(())
    });
}

#[test]
fn a_shell_round_trip_resize_interrupt_exit_code_and_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = setup(dir.path(), &[]);
    let mut term = Terminal::start(&server, &server.token, &["session", "start", &agent.node_id], 30, 100);
    term.wait_for_remote();
    term.type_bytes(b"echo marker-$((6*7))\r");
    term.expect("marker-42");
    term.type_bytes(b"echo size-$(stty size | tr ' ' x)\r");
    term.expect("size-30x100");
    term.resize(40, 120);
    retype_until(&mut term, "echo size-$(stty size | tr ' ' x)\r", "size-40x120");
    term.type_bytes(b"sh -c 'echo sleep-starts; exec sleep 100'\r");
    term.expect("sleep-starts\r\n");
    term.type_bytes(b"\x03");
    term.expect("^C");
    // Typed while `sleep` runs, this would wait for its 100 s: Ctrl-C must have ended it.
    term.type_bytes(b"echo status-$?\r");
    term.expect("status-130");
    term.type_bytes(b"exit 7\r");
    assert_eq!(term.wait(), 7, "the CLI exits with the remote exit code:\n{}", term.text());

    let id = only_session(&server, &agent.node_id)["sessionId"].as_str().unwrap().to_string();
    let view = ended(&server, &id);
    assert_eq!((view["status"].as_str(), view["exitCode"].as_i64()), (Some("Terminated"), Some(7)), "{view}");
    let shown = term.shown();
    let banner = shown.windows(8).position(|w| w == b"(run as ").expect("the banner");
    let banner_end = banner + shown[banner..].windows(2).position(|w| w == b"\r\n").expect("the banner line") + 2;
    assert_eq!(
        String::from_utf8_lossy(&recording(&server, &id)),
        String::from_utf8_lossy(&shown[banner_end..]),
        "the recording is what the terminal showed after the banner"
    );
    let cast = server.cli(&["session", "replay", &id, "--format", "asciicast"]);
    cast.expect_code(0);
    let header: Value = serde_json::from_str(cast.stdout.lines().next().unwrap()).unwrap();
    assert_eq!((header["version"].as_i64(), header["width"].as_i64(), header["height"].as_i64()), (Some(2), Some(100), Some(30)));
    assert!(cast.stdout.contains("marker-42"), "{}", cast.stdout);
    let replay = server.cli(&["session", "replay", &id, "--speed", "1000"]);
    assert!(replay.stdout.contains("status-130"), "{}", replay.stdout);

    let audit = json_of(server.get("/v1/audit?principal=ops", Some(&server.token)), StatusCode::OK);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    assert!(actions.iter().any(|a| a.starts_with(&format!("session start {id}"))), "{actions:?}");
    assert!(actions.iter().any(|a| a.starts_with(&format!("session end {id}"))), "{actions:?}");
    let events = json_of(server.get("/v1/events?limit=1000", Some(&server.token)), StatusCode::OK);
    let kinds: Vec<&str> =
        events.as_array().unwrap().iter().filter(|e| e["source"] == "bosun.session").filter_map(|e| e["detail-type"].as_str()).collect();
    assert_eq!(kinds, ["Session Started", "Session Ended"], "{events}");
}

#[test]
fn commands_terminate_idle_timeout_and_a_missing_run_as_user() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = setup(dir.path(), &[]);
    let node = agent.node_id.as_str();
    let args = ["session", "start", node, "--document", "Bosun-StartInteractiveCommand", "-p", "command=echo hi-$((1+1)); exit 3"];
    let mut term = Terminal::start(&server, &server.token, &args, 24, 80);
    term.expect("hi-2");
    assert_eq!(term.wait(), 3, "{}", term.text());

    set_preferences(&server, json!({"shellProfile": "MARK=$((40+2))"}));
    let mut term = Terminal::start(&server, &server.token, &["session", "start", node], 24, 80);
    term.wait_for_remote();
    term.type_bytes(b"echo ready-$((2+3))-$MARK\r");
    term.expect("ready-5-42");
    let id = poll("a connected session", LIMIT, || {
        let list = json_of(server.get("/v1/sessions?status=Connected", Some(&server.token)), StatusCode::OK);
        list.as_array()?.first().map(|s| s["sessionId"].as_str().unwrap().to_string())
    });
    server.cli(&["session", "terminate", &id]).expect_code(0);
    assert_eq!(term.wait(), ENDED_BY_SERVER);
    assert!(term.text().contains("terminated by ops"), "{}", term.text());
    assert_eq!(ended(&server, &id)["reason"], "terminated by ops");
    assert_eq!(server.cli(&["session", "terminate", &id]).code, 2, "a session ends once");

    set_preferences(&server, json!({"idleTimeoutSeconds": 2}));
    let mut term = Terminal::start(&server, &server.token, &["session", "start", node], 24, 80);
    assert_eq!(term.wait(), ENDED_BY_SERVER, "{}", term.text());
    assert!(term.text().contains("the session was idle for 2 s"), "{}", term.text());

    set_preferences(&server, json!({"idleTimeoutSeconds": 600, "maxDurationSeconds": 2}));
    let mut term = Terminal::start(&server, &server.token, &["session", "start", node], 24, 80);
    assert_eq!(term.wait(), ENDED_BY_SERVER, "{}", term.text());
    assert!(term.text().contains("the session reached its maximum duration of 2 s"), "{}", term.text());

    set_preferences(&server, json!({"runAs": "no-such-user-9f2"}));
    let mut term = Terminal::start(&server, &server.token, &["session", "start", node], 24, 80);
    let code = term.wait();
    let shown = term.text();
    if me() == "root" {
        assert_eq!(code, 1, "{shown}");
        assert!(shown.contains("the run-as user \"no-such-user-9f2\" does not exist on this node"), "{shown}");
    } else {
        assert!(shown.contains("does not run as root"), "{shown}");
    }
}

/// A token that may open sessions only to nodes tagged `tag`.
fn session_token(server: &FleetServer, name: &str, flags: &[&str]) -> String {
    let d = server.data_dir().to_str().unwrap();
    let run = bosun(&[&["token", "create", name, "--data-dir", d, "--output", "json"], flags].concat());
    run.expect_code(0);
    run.json()["token"].as_str().unwrap().to_string()
}

#[test]
fn tokens_open_sessions_only_to_the_nodes_their_tags_allow() {
    let dir = tempfile::tempdir().unwrap();
    let (server, prod) = setup(dir.path(), &[("Env", "prod")]);
    let dev = Agent::start(&server, dir.path(), "dev-node", &[("Env", "dev")]);
    let dev_token = session_token(&server, "dev-only", &["--session-tag", "Env=dev"]);
    let reader = session_token(&server, "reader", &["--param-read", "/app/*"]);
    let start = |token: &str, node: &str| server.post("/v1/sessions", Some(token), &json!({"target": node}));

    let denied = json_of(start(&dev_token, &prod.node_id), StatusCode::FORBIDDEN);
    assert!(denied["message"].as_str().unwrap().contains("its session scopes are Env=dev"), "{denied}");
    let denied = json_of(start(&reader, &dev.node_id), StatusCode::FORBIDDEN);
    assert!(denied["message"].as_str().unwrap().contains("no session scope"), "{denied}");
    let mut term = Terminal::start(&server, &dev_token, &["session", "start", &prod.node_id], 24, 80);
    assert_eq!(term.wait(), 2, "a denied session is a usage error:\n{}", term.text());
    assert!(term.text().contains("may not open sessions to"), "{}", term.text());

    let opened = json_of(start(&dev_token, &dev.node_id), StatusCode::CREATED);
    let id = opened["sessionId"].as_str().unwrap();
    assert_eq!(opened["owner"], "dev-only");
    let theirs = json_of(start(&server.token, &prod.node_id), StatusCode::CREATED);
    let listed = json_of(server.get("/v1/sessions", Some(&dev_token)), StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1, "a scoped token sees its own sessions: {listed}");
    let other = theirs["sessionId"].as_str().unwrap();
    json_of(server.get(&format!("/v1/sessions/{other}"), Some(&dev_token)), StatusCode::NOT_FOUND);
    json_of(server.post(&format!("/v1/sessions/{other}/terminate"), Some(&dev_token), &json!({})), StatusCode::NOT_FOUND);
    let refused = server.send(server_put(&server, "/v1/session-preferences").json(&json!({})), Some(&dev_token));
    assert!(refused.status().is_client_error());
    json_of(server.post(&format!("/v1/sessions/{id}/terminate"), Some(&dev_token), &json!({})), StatusCode::ACCEPTED);
    json_of(server.post(&format!("/v1/sessions/{other}/terminate"), Some(&server.token), &json!({})), StatusCode::ACCEPTED);

    let listed = server.cli(&["session", "list", "--output", "json"]);
    listed.expect_code(0);
    assert_eq!(listed.json().as_array().unwrap().len(), 2, "{}", listed.stdout);
    let shown = server.cli(&["session", "show", other, "--output", "json"]);
    assert_eq!(shown.json()["reason"], "terminated by ops");
    let preferences = server.cli(&["session", "preferences", "set", "--idle-timeout", "5m", "--output", "json"]);
    assert_eq!(preferences.json()["idleTimeoutSeconds"], 300);
    assert_eq!(server.cli(&["session", "preferences", "set", "--run-as", "bad user"]).code, 2);
    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for path in [
        "/v1/sessions",
        "/v1/sessions/{id}",
        "/v1/sessions/{id}/stream",
        "/v1/sessions/{id}/terminate",
        "/v1/sessions/{id}/transcript",
        "/v1/session-preferences",
        "/v1/agent/sessions/{id}/stream",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is in the OpenAPI document");
    }
}

/// An echo server on the loopback: each connection gets back what it sends.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for connection in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = connection.try_clone().unwrap();
                let mut writer = connection;
                let _ = std::io::copy(&mut reader, &mut writer);
                let _ = writer.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn port_forwarding_carries_tcp_connections_to_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = setup(dir.path(), &[]);
    let port = echo_server();
    let mut forward = Command::new(bosun_path())
        .args(["session", "forward", &agent.node_id, "--remote-port", &port.to_string(), "--local-port", "0"])
        .env("BOSUN_ENDPOINT", &server.url)
        .env("BOSUN_TOKEN", &server.token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(forward.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let local = line.split_whitespace().nth(1).expect("forwarding ADDRESS ...").to_string();
    let clients: Vec<_> = (0..3u8)
        .map(|n| {
            let local = local.clone();
            std::thread::spawn(move || {
                let sent: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8 ^ n).collect();
                let mut connection = TcpStream::connect(&local).unwrap();
                let mut writer = connection.try_clone().unwrap();
                let to_send = sent.clone();
                let sender = std::thread::spawn(move || {
                    writer.write_all(&to_send).unwrap();
                    writer.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                connection.read_to_end(&mut got).unwrap();
                sender.join().unwrap();
                got == sent
            })
        })
        .collect();
    for client in clients {
        assert!(client.join().unwrap(), "each connection got back exactly what it sent");
    }
    let id = only_session(&server, &agent.node_id)["sessionId"].as_str().unwrap().to_string();
    assert_eq!(session(&server, &id)["document"], "Bosun-StartPortForwardingSession");
    let _ = forward.kill();
    let _ = forward.wait();
    assert_eq!(ended(&server, &id)["reason"], "the client disconnected");
}

/// A process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).unwrap().parse().unwrap()
}

#[test]
fn a_yes_flood_is_held_back_by_a_stalled_terminal_without_memory_growth() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = setup(dir.path(), &[]);
    set_preferences(&server, json!({"maxRecordedBytes": 1_073_741_824u64}));
    let mut term = Terminal::start(&server, &server.token, &["session", "start", &agent.node_id], 24, 80);
    term.wait_for_remote();
    term.type_bytes(b"echo go-$((1+1))\r");
    term.expect("go-2");
    let id = only_session(&server, &agent.node_id)["sessionId"].as_str().unwrap().to_string();
    let recorded = || session(&server, &id)["recordedBytes"].as_u64().unwrap();
    term.type_bytes(b"yes\r");
    // While the terminal reads, the flood flows: 4 MB (far more than every buffer on the path) pass the relay.
    poll("4 MB of output to pass", LIMIT, || (recorded() > 4_000_000).then_some(()));
    let (server_before, agent_before) = (rss_kib(server.pid()), rss_kib(agent.pid()));
    term.reading.store(false, std::sync::atomic::Ordering::Relaxed);
    // A stalled terminal stops the flood: the recorded output stops growing.
    let mut last = recorded();
    let mut steady = 0;
    poll("the flood to stop", LIMIT, || {
        std::thread::sleep(Duration::from_millis(500));
        let now = recorded();
        steady = if now == last { steady + 1 } else { 0 };
        last = now;
        (steady >= 4).then_some(())
    });
    let (server_after, agent_after) = (rss_kib(server.pid()), rss_kib(agent.pid()));
    assert!(server_after < server_before + 32 * 1024, "server RSS {server_before} KiB -> {server_after} KiB");
    assert!(agent_after < agent_before + 32 * 1024, "agent RSS {agent_before} KiB -> {agent_after} KiB");
    term.reading.store(true, std::sync::atomic::Ordering::Relaxed);
    term.type_bytes(b"\x03");
    term.type_bytes(b"exit 0\r");
    assert_eq!(term.wait(), 0);
}
