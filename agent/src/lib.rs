//! bosun-agent: the node agent. It registers with the control plane once, then
//! long-polls for Command invocations, runs them (shell steps as processes in
//! their own process groups), keeps its in-flight state on disk and reports the
//! results until they are acknowledged. Outbound connections only.

pub mod exec;
pub mod fsutil;
