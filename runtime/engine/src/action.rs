//! The action-dispatch trait: every action that is not control flow goes
//! through it, so plugins and Run Command plug in without touching the engine.
//! Also `bosun:echo`, the built-in action tests and authors use.

use async_trait::async_trait;
use bosun_document::Availability;
use serde_json::{Map, Value};

/// One call of an action for one attempt of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionCall {
    pub execution_id: String,
    pub step_name: String,
    pub action: String,
    /// Interpolated inputs (a JSON object).
    pub inputs: Value,
    pub attempt: u32,
    /// Stable across a re-run of the same attempt after a restart, so an action can
    /// recognise work it already did.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The action ran and failed; the message is shown as the step's failure.
    #[error("{0}")]
    Failed(String),
    /// The inputs are not what the action accepts.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Nothing here implements the action.
    #[error("action \"{0}\" is not available here")]
    NotAvailable(String),
}

/// Runs actions. The engine asks it for everything except control flow.
#[async_trait]
pub trait ActionDispatcher: Send + Sync {
    fn availability(&self, action: &str) -> Availability;

    /// True when running the same call twice has the effect of running it once,
    /// so a step in flight at a crash may be run again.
    fn is_idempotent(&self, action: &str) -> bool;

    /// True when the action resolves `{{ ssm-secure:... }}` itself, later (Run Command
    /// resolves it when a node takes the invocation): it is called with those references
    /// as written instead of their values, so no plaintext passes through it.
    fn keeps_secure_references(&self, _action: &str) -> bool {
        false
    }

    /// Runs the action; the result is its response, a JSON object.
    async fn run(&self, call: ActionCall) -> Result<Map<String, Value>, ActionError>;
}

/// `bosun:echo`: returns its inputs as its outputs, and fails with the given
/// message when its inputs contain `Fail: "message"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

pub const ECHO: &str = "bosun:echo";

impl Echo {
    pub fn echo(inputs: &Value) -> Result<Map<String, Value>, ActionError> {
        let map = match inputs {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => {
                return Err(ActionError::InvalidInput(format!("inputs must be a map, got {other}")));
            }
        };
        match map.get("Fail") {
            Some(Value::String(message)) => Err(ActionError::Failed(message.clone())),
            Some(other) => Err(ActionError::Failed(other.to_string())),
            None => Ok(map),
        }
    }
}

#[async_trait]
impl ActionDispatcher for Echo {
    fn availability(&self, action: &str) -> Availability {
        if action == ECHO { Availability::Available } else { Availability::NotAvailable }
    }

    fn is_idempotent(&self, action: &str) -> bool {
        action == ECHO
    }

    async fn run(&self, call: ActionCall) -> Result<Map<String, Value>, ActionError> {
        if call.action != ECHO {
            return Err(ActionError::NotAvailable(call.action));
        }
        Echo::echo(&call.inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn echo_returns_inputs() {
        let out = Echo::echo(&json!({"A": 1, "B": ["x"]})).unwrap();
        assert_eq!(Value::Object(out), json!({"A": 1, "B": ["x"]}));
    }

    #[test]
    fn echo_fails_with_message() {
        assert_eq!(Echo::echo(&json!({"Fail": "disk full"})), Err(ActionError::Failed("disk full".into())));
    }

    #[test]
    fn echo_rejects_non_map() {
        assert!(matches!(Echo::echo(&json!([1])), Err(ActionError::InvalidInput(_))));
    }
}
