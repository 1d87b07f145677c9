//! The SQLite store: its own API (documents, records, group commit), and the
//! engine running on it: control flow, signals, retries,
//! child executions, and resuming after the engine stops.

mod control_flow;
mod fixtures;
mod fleet;
mod loops;
mod params;
mod resume;
mod store;
mod support;
