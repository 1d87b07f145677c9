//! Granted capabilities work: HTTP to a real loopback server, logs, the
//! built-in bosun:readFile, and many calls at once.

use std::sync::Arc;

use bosun_plugin_host::{HostKind, LogLevel};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// A one-response-per-connection HTTP server on a loopback port the OS picks.
async fn http_server(body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let response = format!("HTTP/1.1 201 Created\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    port
}

#[tokio::test]
async fn granted_http_reaches_a_loopback_server() {
    let port = http_server("made").await;
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[&format!("http:http://127.0.0.1:{port}")], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "http", "Url": format!("http://127.0.0.1:{port}/things"), "Method": "POST"})).await;
    assert_eq!(outcome.result.unwrap(), json!({"Status": 201, "Body": "made"}).as_object().unwrap().clone());
    // Another port of the same host is not granted.
    let outcome = call(&host, &plugin, json!({"Case": "http", "Url": format!("http://127.0.0.1:{}/", port + 1)})).await;
    assert!(matches!(error(&outcome), bosun_plugin_host::CallError::Denied(_)));
}

#[tokio::test]
async fn logs_come_back_with_levels_and_fields() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "log", "Count": 5, "Message": "hello"})).await;
    assert!(outcome.result.is_ok());
    let levels: Vec<LogLevel> = outcome.logs.iter().map(|l| l.level).collect();
    assert_eq!(levels, [LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error]);
    assert_eq!(outcome.logs[2].message, "hello");
    assert_eq!(outcome.logs[2].fields, [("n".to_string(), "2".to_string()), ("case".to_string(), "log".to_string())]);
}

#[tokio::test]
async fn the_builtin_read_file_plugin_reads_a_granted_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("motd"), "hello\n").unwrap();
    let path = dir.path().to_str().unwrap();
    let host = host(HostKind::Server);
    let read_file = bosun_builtin_plugins::builtin().iter().find(|p| p.name == "read-file").expect("read-file is built in");
    let plugin = host.load(read_file.bytes, grants(&[&format!("fs:ro:{path}")]), None).await.unwrap();
    let outcome = host.call(&plugin, "bosun:readFile", &json!({"Path": format!("{path}/motd")})).await;
    let outputs = outcome.result.unwrap();
    assert_eq!(outputs["Content"], "hello\n");
    assert_eq!(outputs["Sha256"], "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    assert_eq!(outputs["Size"], 6);
    let outcome = host.call(&plugin, "bosun:readFile", &json!({"Path": "relative"})).await;
    assert!(matches!(outcome.result, Err(bosun_plugin_host::CallError::InvalidInput(_))), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_calls_run_at_once() {
    let host = Arc::new(host(HostKind::Server));
    let plugin = Arc::new(hostile(&host, &[], None).await);
    let calls: Vec<_> = (0..100)
        .map(|n| {
            let (host, plugin) = (host.clone(), plugin.clone());
            tokio::spawn(async move { call(&host, &plugin, json!({"Case": "output", "Bytes": n})).await })
        })
        .collect();
    for (n, task) in calls.into_iter().enumerate() {
        let outputs = task.await.unwrap().result.unwrap();
        assert_eq!(outputs["Data"].as_str().unwrap().len(), n);
    }
}

/// A server that answers 201 to `GET /ops/v1/agent/packages/tools` with `Authorization: Bearer node-secret`, else 401.
async fn control_plane() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..n]).to_ascii_lowercase();
            let good = text.starts_with("get /ops/v1/agent/packages/tools ") && text.contains("\r\nauthorization: bearer node-secret\r\n");
            let status = if good { "201 Created" } else { "401 Unauthorized" };
            let response = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    port
}

#[tokio::test]
async fn relative_urls_reach_the_linked_control_plane_with_a_credential_the_plugin_never_holds() {
    let port = control_plane().await;
    let host = host(HostKind::Node);
    let base = format!("http://127.0.0.1:{port}/ops/");
    let link = Arc::new(bosun_plugin_host::ControlPlaneLink::new(&base, "node-secret", &["/v1/agent/packages/"]).unwrap());
    let plugin = hostile(&host, &[&format!("http:http://127.0.0.1:{port}")], None).await;
    let ask = |url: &str| json!({"Case": "http", "Url": url});

    let outcome = host.call_linked(&plugin, "plugin:hostile", &ask("/v1/agent/packages/tools"), Some(link.clone())).await;
    assert_eq!(outcome.result.unwrap()["Status"], 201, "the host added the credential");
    for outside in ["/v1/agent/poll", "/v1/agent/packages/../poll", "/v1/agent/packages/%2e%2e/heartbeat"] {
        let outcome = host.call_linked(&plugin, "plugin:hostile", &ask(outside), Some(link.clone())).await;
        assert!(
            matches!(error(&outcome), bosun_plugin_host::CallError::InvalidInput(m) if m.contains("not a control-plane path")),
            "{outside}"
        );
    }
    // Without a link (the control plane's own host), a relative URL goes nowhere.
    let outcome = call(&host, &plugin, ask("/v1/agent/packages/tools")).await;
    assert!(matches!(error(&outcome), bosun_plugin_host::CallError::InvalidInput(m) if m.contains("no control plane")));
    // Without the grant of the control plane's origin, it is denied like any host.
    let ungranted = hostile(&host, &[], None).await;
    let outcome = host.call_linked(&ungranted, "plugin:hostile", &ask("/v1/agent/packages/tools"), Some(link.clone())).await;
    assert!(matches!(error(&outcome), bosun_plugin_host::CallError::Denied(_)));
}
