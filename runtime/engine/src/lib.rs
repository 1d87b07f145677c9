//! Bosun's runbook engine: runs Automation documents as durable state machines.
//! Every transition is committed through [`store::ExecutionStore`] before it is
//! acted on; actions other than control flow go through
//! [`action::ActionDispatcher`].

pub mod action;
mod checked;
mod control;
mod engine;
pub mod error;
pub mod flow;
mod handle;
mod looping;
pub mod record;
pub mod resolve;
mod run;
pub mod status;
pub mod store;
pub mod trace;
mod transition;

pub use action::{ActionCall, ActionDispatcher, ActionError, Echo};
pub use engine::{CONTROL_FLOW, Engine, EngineConfig, StartRequest};
pub use error::EngineError;
pub use record::{Change, Decision, DocumentSnapshot, ExecutionRecord, SignalKind, SignalRecord, StepRecord, StoredExecution};
pub use resolve::{Globals, MASK, ParameterSource};
pub use status::{ExecutionStatus, StepStatus};
pub use store::{DocumentSource, ExecutionStore, StoreError};
pub use trace::TraceEvent;
