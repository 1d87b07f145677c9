//! Simulate mode: N virtual nodes in one process, for load benchmarks. Each has
//! its own identity and state under `<state-dir>/sim-<i>/` and speaks the real
//! protocol over HTTP; they share one HTTP connection pool, one platform report
//! (with a per-node hostname) and a bounded pool of step processes.

use std::sync::Arc;

use bosun_protocol::agent::Platform;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::AgentError;
use crate::node::{Shared, run_node};

/// The state directory of virtual node `i`.
pub fn node_dir(root: &std::path::Path, i: usize) -> std::path::PathBuf {
    root.join(format!("sim-{i}"))
}

/// Runs `count` virtual nodes until `shutdown`. A node that stops with an error
/// (refused registration, deregistered) is logged; the others go on.
pub async fn run(shared: Arc<Shared>, count: usize, base: Platform, shutdown: CancellationToken) -> Result<(), AgentError> {
    let root = shared.config.state_dir.clone();
    crate::fsutil::private_dir(&root).map_err(|e| AgentError::state(&root, e))?;
    tracing::info!(nodes = count, state_dir = %root.display(), "simulating nodes");
    let mut nodes = JoinSet::new();
    for i in 0..count {
        let mut platform = base.clone();
        platform.hostname = format!("{}-sim-{i}", base.hostname);
        nodes.spawn(Box::pin(run_node(Arc::clone(&shared), node_dir(&root, i), platform, false, shutdown.clone())));
    }
    let mut errors = Vec::new();
    while let Some(result) = nodes.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!("a simulated node stopped: {e}");
                errors.push(e);
            }
            Err(e) => tracing::error!("a simulated node's task failed: {e}"),
        }
    }
    let failed = errors.len();
    match errors.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(AgentError::Simulation { failed, total: count, first: Box::new(first) }),
    }
}
