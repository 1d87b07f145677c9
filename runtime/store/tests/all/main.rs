//! The engine running on the SQLite store: control flow, signals, retries,
//! child executions, and resuming after the engine stops.

mod control_flow;
mod fixtures;
mod resume;
mod support;
