//! The control plane's agent API over HTTP: register, heartbeat, long poll and
//! invocation reports. Each call says whether a failure is worth retrying
//! (connection errors, timeouts, 5xx, 408, 429), final (other 4xx, with the
//! server's message), or a revoked credential (401).

use std::time::Duration;

use bosun_protocol::agent::{Heartbeat, InvocationReport, PluginArtifact, Poll, RegisterRequest, Registered, ReportAck, Work};
use bosun_protocol::inventory::{PutInventory, PutInventoryResult};
use bosun_protocol::patch::PutPatchCompliance;
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AgentError;

/// Extra time a long poll's HTTP request gets over the wait it asks for.
const POLL_GRACE: Duration = Duration::from_secs(15);
/// Time limit of the other calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 401: the credential is not (or no longer) valid.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// A 4xx that will not change by retrying.
    #[error("refused ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// Worth retrying after a delay.
    #[error("{0}")]
    Transient(String),
}

/// Idle connections a node keeps to the server. A report sent while the long poll
/// waits opens a second connection; the server then answers the poll, and of the two
/// connections, now idle, one is kept. Every open connection costs the server memory.
pub const NODE_POOL: usize = 1;
/// How long an idle connection to the server is kept for reuse.
const IDLE_CONNECTION: Duration = Duration::from_secs(5);

/// An HTTP client for the agent: one connection pool, keeping `pool_per_host` idle connections.
pub fn http_client(pool_per_host: usize, ca_cert: Option<&std::path::Path>) -> Result<reqwest::Client, AgentError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(pool_per_host)
        // A report's connection is closed soon after: the server keeps memory for every open one.
        .pool_idle_timeout(IDLE_CONNECTION)
        .user_agent(concat!("bosun-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|e| AgentError::Http(format!("cannot read the CA certificate {}: {e}", path.display())))?;
        // reqwest accepts text without any certificate in it; refuse it here instead of failing every call later.
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(AgentError::Http(format!("{} holds no PEM certificate (no BEGIN CERTIFICATE block)", path.display())));
        }
        let certificate = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| AgentError::Http(format!("{} is not a PEM certificate: {e}", path.display())))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|e| AgentError::Http(e.to_string()))
}

#[derive(Debug, Clone)]
pub struct ControlPlane {
    http: reqwest::Client,
    base: Url,
}

impl ControlPlane {
    pub fn new(http: reqwest::Client, server: &str) -> Result<Self, AgentError> {
        let bad = |message: String| AgentError::BadServer { url: server.to_string(), message };
        let base = Url::parse(server).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("expected an http:// or https:// URL".into()));
        }
        Ok(Self { http, base })
    }

    pub fn server(&self) -> &str {
        self.base.as_str()
    }

    /// The HTTP client (and so the connection pool) this control plane is reached through.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub async fn register(&self, request: &RegisterRequest) -> Result<Registered, CallError> {
        self.call(&["v1", "agent", "register"], None, request, CALL_TIMEOUT).await
    }

    pub async fn heartbeat(&self, credential: &str, heartbeat: &Heartbeat) -> Result<(), CallError> {
        self.call_empty(&["v1", "agent", "heartbeat"], credential, heartbeat).await
    }

    pub async fn poll(&self, credential: &str, poll: &Poll) -> Result<Work, CallError> {
        let timeout = Duration::from_secs(u64::from(poll.wait_seconds)) + POLL_GRACE;
        self.call(&["v1", "agent", "poll"], Some(credential), poll, timeout).await
    }

    pub async fn report(&self, credential: &str, invocation_id: &str, report: &InvocationReport) -> Result<ReportAck, CallError> {
        self.call(&["v1", "agent", "invocations", invocation_id], Some(credential), report, CALL_TIMEOUT).await
    }

    /// Uploads the node's inventory.
    pub async fn put_inventory(&self, credential: &str, upload: &PutInventory) -> Result<PutInventoryResult, CallError> {
        self.call(&["v1", "agent", "inventory"], Some(credential), upload, CALL_TIMEOUT).await
    }

    /// The node's patch baseline snapshot, as the server resolves it now.
    pub async fn patch_snapshot(&self, credential: &str) -> Result<serde_json::Value, CallError> {
        let request = self.http.get(self.url(&["v1", "agent", "patch", "snapshot"])).bearer_auth(credential).timeout(CALL_TIMEOUT);
        let response = self.finish(request).await?;
        response.json().await.map_err(|e| CallError::Transient(format!("unreadable answer: {}", describe(&e))))
    }

    /// Uploads the report of an `aws:runPatchBaseline` step.
    pub async fn put_patch_compliance(&self, credential: &str, upload: &PutPatchCompliance) -> Result<(), CallError> {
        self.call_empty(&["v1", "agent", "patch", "compliance"], credential, upload).await
    }

    /// An installed plugin version for this agent's engine; without `bytes`, its grants and limits only.
    pub async fn plugin_artifact(
        &self,
        credential: &str,
        name: &str,
        version: &str,
        engine_key: &str,
        bytes: bool,
    ) -> Result<PluginArtifact, CallError> {
        let mut url = self.url(&["v1", "agent", "plugins", name, version]);
        url.query_pairs_mut().append_pair("engineKey", engine_key).append_pair("bytes", if bytes { "true" } else { "false" });
        let request = self.http.get(url).bearer_auth(credential).timeout(CALL_TIMEOUT);
        let response = self.finish(request).await?;
        response.json::<PluginArtifact>().await.map_err(|e| CallError::Transient(format!("unreadable answer: {}", describe(&e))))
    }

    async fn send(
        &self,
        segments: &[&str],
        credential: Option<&str>,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<reqwest::Response, CallError> {
        let mut request = self.http.post(self.url(segments)).json(body).timeout(timeout);
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        self.finish(request).await
    }

    /// Sends a request and classifies a failure.
    async fn finish(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CallError> {
        let response = request.send().await.map_err(|e| CallError::Transient(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = error_message(response).await;
        Err(match status {
            StatusCode::UNAUTHORIZED => CallError::Unauthorized(message),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => CallError::Transient(format!("{status}: {message}")),
            s if s.is_client_error() => CallError::Rejected { status: s.as_u16(), message },
            s => CallError::Transient(format!("{s}: {message}")),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        credential: Option<&str>,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let response = self.send(segments, credential, body, timeout).await?;
        response.json::<T>().await.map_err(|e| CallError::Transient(format!("unreadable answer: {}", describe(&e))))
    }

    async fn call_empty(&self, segments: &[&str], credential: &str, body: &impl Serialize) -> Result<(), CallError> {
        self.send(segments, Some(credential), body, CALL_TIMEOUT).await.map(drop)
    }
}

/// The server's `{"error", "message", "field"}` as one line, or the body's start.
async fn error_message(response: reqwest::Response) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        error: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        field: Option<String>,
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) if !body.message.is_empty() => match body.field {
            Some(field) => format!("{} (field {field})", body.message),
            None => body.message,
        },
        Ok(body) if !body.error.is_empty() => body.error,
        _ if text.trim().is_empty() => status.canonical_reason().unwrap_or("no message").to_string(),
        _ => text.chars().take(300).collect(),
    }
}

/// A reqwest error with its causes, which hold the useful part ("connection refused").
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("ca.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(http_client(4, Some(&junk)).unwrap_err().to_string().contains("no PEM certificate"));
        assert!(http_client(4, Some(&dir.path().join("missing.pem"))).is_err());
        assert!(http_client(4, None).is_ok());
    }

    #[test]
    fn urls_keep_a_base_path_and_encode_ids() {
        let c = ControlPlane::new(reqwest::Client::new(), "http://h:1/prefix/").unwrap();
        assert_eq!(c.url(&["v1", "agent", "poll"]).as_str(), "http://h:1/prefix/v1/agent/poll");
        assert_eq!(c.url(&["v1", "agent", "invocations", "a/../b"]).as_str(), "http://h:1/prefix/v1/agent/invocations/a%2F..%2Fb");
        let c = ControlPlane::new(reqwest::Client::new(), "http://h:1").unwrap();
        assert_eq!(c.url(&["v1"]).as_str(), "http://h:1/v1");
        assert!(ControlPlane::new(reqwest::Client::new(), "ftp://h").is_err());
        assert!(ControlPlane::new(reqwest::Client::new(), "not a url").is_err());
    }
}
