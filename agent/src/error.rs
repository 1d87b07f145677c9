//! The agent's errors, each saying what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "this node is not registered: {state_dir} holds no identity; start once with --activation-id and --activation-code (from `bosun activation create`) to register it"
    )]
    NotRegistered { state_dir: PathBuf },
    #[error("the server {server} refused the registration ({status}): {message}")]
    RegistrationRefused { server: String, status: u16, message: String },
    #[error(
        "node {node_id} is deregistered: the server refused its credential (401: {message}); stopping. To register this machine again, remove {identity} and start with a new activation"
    )]
    Deregistered { node_id: String, message: String, identity: PathBuf },
    #[error("state directory: {path}: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the identity file {path} is not valid: {message}; remove it and register again with an activation")]
    BadIdentity { path: PathBuf, message: String },
    #[error("invalid server URL \"{url}\": {message}")]
    BadServer { url: String, message: String },
    #[error("cannot set up the HTTP client: {0}")]
    Http(String),
    #[error("{failed} of {total} simulated agents stopped with an error; the first: {first}")]
    Simulation { failed: usize, total: usize, first: Box<AgentError> },
}

impl AgentError {
    pub fn state(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::State { path: path.into(), source }
    }
}
