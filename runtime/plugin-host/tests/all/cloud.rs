//! Cloud calls through the host: `aws://` URLs need an `aws:` grant and a
//! control-plane host; granted, the host sends them to the configured endpoint
//! signed, and the plugin sees the answer but never the key.

use std::sync::Arc;

use async_trait::async_trait;
use bosun_plugin_host::{CallError, CloudAccess, CloudCredentials, HostConfig, HostKind, PluginHost};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const SECRET: &str = "host-test-secret-never-seen";

/// A loopback server that answers each request with the request's `authorization` header.
async fn echo_authorization() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 8192];
            let n = socket.read(&mut request).await.unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..n]).into_owned();
            let auth = text.lines().find_map(|l| l.strip_prefix("authorization: ")).unwrap_or("none").to_string();
            let response = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{auth}", auth.len());
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    port
}

struct TestCloud {
    endpoint: String,
}

#[async_trait]
impl CloudAccess for TestCloud {
    fn default_region(&self) -> Option<String> {
        Some("us-east-1".into())
    }

    fn endpoint(&self, _service: &str, _region: &str) -> String {
        self.endpoint.clone()
    }

    async fn credentials(&self) -> Result<CloudCredentials, String> {
        Ok(CloudCredentials { access_key_id: "AKIDHOSTTEST".into(), secret_access_key: SECRET.into(), session_token: None })
    }
}

fn cloud_host(kind: HostKind, port: u16) -> PluginHost {
    let mut config = HostConfig::new(kind);
    config.cloud = Arc::new(TestCloud { endpoint: format!("http://127.0.0.1:{port}") });
    PluginHost::new(config).unwrap()
}

fn request(url: &str) -> serde_json::Value {
    json!({"Case": "http", "Url": url, "Method": "POST"})
}

#[tokio::test]
async fn cloud_calls_need_a_grant_and_the_control_plane() {
    let port = echo_authorization().await;
    let server = cloud_host(HostKind::Server, port);
    let ungranted = hostile(&server, &[&format!("http:http://127.0.0.1:{port}")], None).await;
    let outcome = call(&server, &ungranted, request("aws://ec2/")).await;
    let CallError::Denied(message) = error(&outcome) else { panic!("{:?}", outcome.result) };
    assert!(message.contains("ec2 call in us-east-1 denied: not granted; grant it with --grant aws:ec2:us-east-1"), "{message}");

    let other_region = hostile(&server, &["aws:ec2:eu-west-1"], None).await;
    assert!(matches!(error(&call(&server, &other_region, request("aws://ec2/")).await), CallError::Denied(_)));

    let node = cloud_host(HostKind::Node, port);
    let granted = hostile(&node, &["aws:ec2:*"], None).await;
    let CallError::Denied(message) = error(&call(&node, &granted, request("aws://ec2.us-east-1/")).await) else { panic!() };
    assert!(message.contains("cloud calls run only on the control plane"), "{message}");
}

#[cfg(feature = "cloud")]
#[tokio::test]
async fn granted_cloud_calls_are_signed_by_the_host() {
    let port = echo_authorization().await;
    let host = cloud_host(HostKind::Server, port);
    let plugin = hostile(&host, &["aws:ec2:us-east-1"], None).await;
    let outcome = call(&host, &plugin, request("aws://ec2/")).await;
    let outputs = outcome.result.unwrap();
    let auth = outputs["Body"].as_str().unwrap();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDHOSTTEST/"), "{auth}");
    assert!(auth.contains("/us-east-1/ec2/aws4_request"), "{auth}");
    assert!(!serde_json::to_string(&outputs).unwrap().contains(SECRET));
    assert!(outcome.logs.iter().all(|l| !l.message.contains(SECRET)));
}
