//! bosun-agent: the node agent. It registers with the control plane once, then
//! long-polls for Command invocations, runs them (shell steps as processes in
//! their own process groups), keeps its in-flight state on disk and reports the
//! results until they are acknowledged. Outbound connections only.
//!
//! Entry point: [`run`] with an [`AgentConfig`]; it returns when the shutdown
//! future completes (in-flight state stays on disk) or on a fatal error.

pub mod backoff;
pub mod client;
pub mod config;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod identity;
mod invocation;
mod node;
pub mod platform;
mod report;
pub mod session;
pub mod simulate;
pub mod state;
#[cfg(test)]
mod testserver;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use config::{Activation, AgentConfig};
pub use error::AgentError;

/// How many registrations run at once (simulate mode registers many nodes).
const CONCURRENT_REGISTRATIONS: usize = 16;

/// Runs the agent (or, with `config.simulate > 0`, that many virtual agents) until
/// `shutdown` completes or a fatal error: no identity and no activation, a refused
/// registration, or a revoked credential (401). On shutdown a pending poll is
/// abandoned, running steps are killed, and in-flight state stays on disk: the next
/// start reports those invocations.
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
    let token = CancellationToken::new();
    let work = run_until(config, token.clone());
    tokio::pin!(work);
    tokio::pin!(shutdown);
    tokio::select! {
        result = &mut work => result,
        () = &mut shutdown => {
            token.cancel();
            work.await
        }
    }
}

/// [`run`] with a cancellation token instead of a future.
pub async fn run_until(config: AgentConfig, shutdown: CancellationToken) -> Result<(), AgentError> {
    // In simulate mode this pool only registers the nodes: each node then has its own.
    let http = client::http_client(client::NODE_POOL, config.ca_cert.as_deref())?;
    let control = client::ControlPlane::new(http, &config.server)?;
    let processes = Arc::new(Semaphore::new(config.process_slots()));
    let platform = platform::detect();
    let simulate = config.simulate;
    let state_dir = config.state_dir.clone();
    let plugins = Arc::new(exec::plugin::PluginRunner::new(state_dir.join("plugins")));
    let shared = Arc::new(node::Shared { config, control, processes, registrations: Semaphore::new(CONCURRENT_REGISTRATIONS), plugins });
    if simulate > 0 {
        simulate::run(shared, simulate, platform, shutdown).await
    } else {
        node::run_node(shared, state_dir, platform, true, shutdown).await
    }
}
