//! The agent's settings, as the binary's flags or a caller of [`crate::run`] give them.

use std::path::PathBuf;
use std::time::Duration;

use bosun_protocol::agent::MAX_POLL_SECONDS;

/// How often the node's platform is reported between polls.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(300);
/// The default long-poll wait.
pub const DEFAULT_POLL_SECONDS: u32 = 20;
/// The default bound on concurrent step processes in simulate mode.
pub const DEFAULT_SIMULATE_PROCESSES: usize = 32;

/// An activation to register with, on first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub id: String,
    pub code: String,
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The control plane's base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// Where the identity, in-flight invocations and scripts live.
    pub state_dir: PathBuf,
    /// Needed only until the node (or each simulated node) is registered.
    pub activation: Option<Activation>,
    /// The long-poll wait, 1 to 30 seconds.
    pub poll_seconds: u32,
    /// Run (with `/bin/sh -c`) when a step asks for a reboot. None: log the request and wait for a restart.
    pub reboot_command: Option<String>,
    /// Run this many virtual agents in this process (0: one real agent).
    pub simulate: usize,
    /// At most this many step processes at once (0: no bound).
    pub max_processes: usize,
    pub heartbeat_interval: Duration,
    /// The shortest and longest delay between retries after connection or server errors.
    pub retry_delays: (Duration, Duration),
    /// A CA certificate (PEM) to trust for an https:// server besides the built-in roots.
    pub ca_cert: Option<PathBuf>,
}

impl AgentConfig {
    /// Settings with the defaults. The state directory is made absolute: scripts run in
    /// other working directories and must still find their files.
    pub fn new(server: impl Into<String>, state_dir: impl Into<PathBuf>) -> Self {
        let state_dir = state_dir.into();
        Self {
            server: server.into(),
            state_dir: std::path::absolute(&state_dir).unwrap_or(state_dir),
            activation: None,
            poll_seconds: DEFAULT_POLL_SECONDS,
            reboot_command: None,
            simulate: 0,
            max_processes: 0,
            heartbeat_interval: HEARTBEAT_INTERVAL,
            retry_delays: (Duration::from_secs(1), Duration::from_secs(60)),
            ca_cert: None,
        }
    }

    /// The poll wait within what the protocol allows.
    pub fn poll_wait(&self) -> u32 {
        self.poll_seconds.clamp(1, MAX_POLL_SECONDS)
    }

    /// The bound on concurrent step processes.
    pub fn process_slots(&self) -> usize {
        match (self.max_processes, self.simulate) {
            (0, 0) => tokio::sync::Semaphore::MAX_PERMITS,
            (0, _) => DEFAULT_SIMULATE_PROCESSES,
            (n, _) => n,
        }
    }
}
