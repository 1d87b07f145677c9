//! The wire types that Bosun's control plane, its CLI and the node agent share:
//! the agent protocol (`/v1/agent/*`), the fleet API (activations, nodes, groups)
//! and Run Command (`/v1/commands`), with the parsers for target specs and
//! rate-control values. Pure data: serde only, so the agent can depend on it.

pub mod agent;
pub mod association;
pub mod command;
pub mod events;
pub mod fleet;
pub mod inventory;
pub mod packages;
pub mod params;
pub mod patch;
pub mod rate;
pub mod session;
pub mod status;
pub mod target;
pub mod window;

pub use rate::Limit;
pub use status::{CommandStatus, InvocationStatus, PingStatus};
pub use target::Target;

/// A JSON object (parameters, tags).
pub type JsonMap = serde_json::Map<String, serde_json::Value>;
