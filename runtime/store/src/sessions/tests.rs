//! The store's session records: start and end with their audit rows and events,
//! the recording cap, scopes and preferences.

use std::collections::BTreeMap;

use bosun_protocol::session::SessionPreferences;

use super::*;
use crate::Durability;

fn new_session(id: &str, owner: &str) -> NewSession {
    NewSession {
        id: id.into(),
        node_id: "mi-1".into(),
        owner: owner.into(),
        document: "Bosun-StartInteractiveShell".into(),
        run_as: "bosun-session".into(),
        rows: 24,
        cols: 80,
        source_address: "127.0.0.1".into(),
    }
}

fn chunk(at_ms: u64, data: &[u8]) -> RecordedChunk {
    RecordedChunk { at_ms, data: data.to_vec() }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_starts_records_and_ends_once_with_audit_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let view = store.create_session(new_session("s-1", "ops")).await.unwrap();
    assert_eq!(view.status, CONNECTING);
    assert!(store.session_connected("s-1").await.unwrap());
    assert!(!store.session_connected("s-1").await.unwrap(), "only a Connecting session connects");
    assert!(store.record_session_output("s-1", vec![chunk(0, b"$ "), chunk(5, b"\x00\xffls\r\n")], 1024).await.unwrap());
    let end = SessionEnd { status: TERMINATED, exit_code: Some(3), reason: "the shell exited".into() };
    let ended = store.end_session("s-1", end.clone()).await.unwrap().unwrap();
    assert_eq!((ended.status.as_str(), ended.exit_code), (TERMINATED, Some(3)));
    assert!(store.end_session("s-1", end).await.unwrap().is_none(), "a session ends once");
    let recording = store.session_recording("s-1").unwrap().unwrap();
    assert_eq!((recording.rows, recording.cols, recording.session.recorded_bytes), (24, 80, 8));
    assert_eq!(recording.chunks, vec![chunk(0, b"$ "), chunk(5, b"\x00\xffls\r\n")]);
    let audit = store.list_audit(Some("ops"), None, 10).unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["session start s-1 on mi-1 (Bosun-StartInteractiveShell)", "session end s-1 on mi-1"]);
    let events = store.events_after(0, 10).unwrap();
    let kinds: Vec<(&str, &str)> = events.iter().map(|e| (e.source.as_str(), e.detail_type.as_str())).collect();
    assert_eq!(kinds, [("bosun.session", "Session Started"), ("bosun.session", "Session Ended")]);
    assert_eq!(events[1].detail["exitCode"], 3);
    assert!(store.get_session("nope").unwrap().is_none());
    assert!(store.record_session_output("nope", vec![chunk(0, b"x")], 10).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recording_stops_at_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    store.create_session(new_session("s-2", "ops")).await.unwrap();
    assert!(store.record_session_output("s-2", vec![chunk(0, &[b'y'; 600])], 1000).await.unwrap());
    assert!(!store.record_session_output("s-2", vec![chunk(1, &[b'y'; 600]), chunk(2, b"more")], 1000).await.unwrap());
    let recording = store.session_recording("s-2").unwrap().unwrap();
    assert_eq!(recording.session.recorded_bytes, 1000);
    assert!(recording.session.truncated);
    assert_eq!(recording.chunks.iter().map(|c| c.data.len()).sum::<usize>(), 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn open_sessions_are_ended_and_listed_latest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    store.create_session(new_session("s-a", "ops")).await.unwrap();
    store.create_session(new_session("s-b", "dev")).await.unwrap();
    assert_eq!(store.end_open_sessions("the server restarted").await.unwrap(), 2);
    let all = store.list_sessions(None, None, 10).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| s.status == FAILED && s.reason.as_deref() == Some("the server restarted")));
    assert_eq!(store.list_sessions(Some("mi-2"), None, 10).unwrap(), vec![]);
    assert_eq!(store.session_node("s-a").unwrap(), Some(("mi-1".to_string(), false)));
}

#[test]
fn scopes_allow_matching_nodes_and_scoped_tokens_are_denied_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let tags = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    assert_eq!(store.session_scopes("admin").unwrap(), SessionScopes::Unrestricted);
    store.set_session_scopes("dev", &[TagCondition::parse("Env=dev").unwrap(), TagCondition::parse("Team=web-*").unwrap()]).unwrap();
    let dev = store.session_scopes("dev").unwrap();
    assert!(dev.allows(&tags(&[("Env", "dev")])));
    assert!(dev.allows(&tags(&[("Env", "prod"), ("Team", "web-eu")])));
    assert!(!dev.allows(&tags(&[("Env", "prod")])));
    assert!(!dev.allows(&tags(&[])));
    store.set_parameter_scopes("reader", &crate::ParamScopes { read: vec!["/app/*".into()], decrypt: vec![] }).unwrap();
    assert_eq!(store.session_scopes("reader").unwrap(), SessionScopes::Nodes(vec![]), "scoped for parameters: no sessions");
    assert!(!store.session_scopes("reader").unwrap().allows(&tags(&[("Env", "dev")])));
    for bad in ["Env", "=dev", "Env=", "E*nv=dev", "Env=\u{7}", &format!("Env={}", "x".repeat(200))] {
        assert!(TagCondition::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn preferences_default_and_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    assert_eq!(store.session_preferences().unwrap(), SessionPreferences::default());
    let changed = SessionPreferences { idle_timeout_seconds: 5, run_as: "ops".into(), ..Default::default() };
    store.set_session_preferences(&changed).unwrap();
    assert_eq!(store.session_preferences().unwrap(), changed);
    let bad = SessionPreferences { idle_timeout_seconds: 0, ..Default::default() };
    assert!(store.set_session_preferences(&bad).unwrap_err().0.contains("idleTimeoutSeconds"));
    assert_eq!(store.session_preferences().unwrap(), changed);
}
