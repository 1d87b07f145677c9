//! The event bus in the control plane: checking rules, verifying what webhook
//! senders sign, and the loop that routes logged events to rule targets and
//! delivers them.

pub mod bus;
pub mod hook_body;
pub mod hook_verify;
pub mod rules;
pub mod targets;
