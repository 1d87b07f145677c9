//! What host functions reach outside the sandbox with: the HTTP client, the
//! parameter source, the cloud signer's settings, and whether this host may run programs (nodes only).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

/// Where the host is running, which decides what it can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// The control plane: no `exec`.
    Server,
    /// A node (the agent, or `bosun plugin test`): `exec` of granted programs.
    Node,
}

/// Reads Parameter Store values for `get-parameter`, after the grant check.
#[async_trait]
pub trait ParameterSource: Send + Sync {
    /// `Ok(None)` when there is no such parameter.
    async fn get(&self, name: &str) -> Result<Option<String>, String>;
}

/// Parameters given by hand, for `bosun plugin test --param` and tests.
#[derive(Debug, Clone, Default)]
pub struct StaticParameters(pub HashMap<String, String>);

#[async_trait]
impl ParameterSource for StaticParameters {
    async fn get(&self, name: &str) -> Result<Option<String>, String> {
        let key = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
        Ok(self.0.get(&key).or_else(|| self.0.get(name)).cloned())
    }
}

pub struct Services {
    pub kind: HostKind,
    pub http: reqwest::Client,
    pub params: Arc<dyn ParameterSource>,
    pub cloud: Arc<dyn crate::cloud::CloudAccess>,
    /// The largest HTTP response body or exec output stream a plugin receives.
    pub max_transfer_bytes: usize,
}
