//! `aws:runCommand` in Automation documents: the step sends its command through the
//! same Run Command service as the API and waits for it to end. The command id comes
//! from the step's idempotency key, so a step resumed after a restart waits for the
//! command it sent before instead of sending it again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bosun_document::Availability;
use bosun_engine::{ActionCall, ActionDispatcher, ActionError};
use bosun_protocol::command::{CommandView, SendCommand};
use bosun_protocol::{CommandStatus, Limit, Target};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::wait_for_node::WAIT_FOR_NODE;
use super::{Detail, RunCommand, SendError};

pub const RUN_COMMAND: &str = "aws:runCommand";
/// How much of the first invocation's output the step's `Output` holds, as SSM's aws:runCommand does.
const OUTPUT_CHARS: usize = 2500;
/// How often a waiting step looks at its command.
const WAIT_POLL: Duration = Duration::from_millis(250);

/// The engine's actions: the installed plugins, and `aws:runCommand` and
/// `bosun:waitForNode` when a Run Command service is given.
pub struct Actions<D> {
    pub plugins: D,
    /// None where no server dispatches commands (`bosun automation run`).
    pub run_command: Option<Arc<RunCommand>>,
}

#[async_trait]
impl<D: ActionDispatcher> ActionDispatcher for Actions<D> {
    fn availability(&self, action: &str) -> Availability {
        match (action, &self.run_command) {
            (RUN_COMMAND | WAIT_FOR_NODE, Some(_)) => Availability::Available,
            (RUN_COMMAND | WAIT_FOR_NODE, None) => Availability::NotAvailable,
            _ => self.plugins.availability(action),
        }
    }

    fn is_idempotent(&self, action: &str) -> bool {
        // A re-run finds the command its first run sent, by id; a wait only reads.
        action == RUN_COMMAND || action == WAIT_FOR_NODE || self.plugins.is_idempotent(action)
    }

    fn keeps_secure_references(&self, action: &str) -> bool {
        action == RUN_COMMAND
    }

    async fn run(&self, call: ActionCall) -> Result<Map<String, Value>, ActionError> {
        match (call.action.as_str(), &self.run_command) {
            (RUN_COMMAND, Some(service)) => run_command(service, &call).await,
            (WAIT_FOR_NODE, Some(service)) => service.wait_for_node(&call).await,
            (RUN_COMMAND | WAIT_FOR_NODE, None) => Err(ActionError::NotAvailable(format!(
                "{} (it runs through the server: start the execution with `bosun automation start` while `bosun server` or `bosun dev` runs)",
                call.action
            ))),
            _ => self.plugins.run(call).await,
        }
    }
}

/// A uuid-shaped command id derived from the step's idempotency key.
pub fn command_id_for(idempotency_key: &str) -> String {
    let h = hex::encode(&Sha256::digest(idempotency_key.as_bytes())[..16]);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn text(inputs: &Map<String, Value>, key: &str) -> Result<Option<String>, ActionError> {
    text_value(inputs.get(key), key)
}

/// An input given as text or as a number, as text.
fn text_value(value: Option<&Value>, key: &str) -> Result<Option<String>, ActionError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ActionError::InvalidInput(format!("{key} must be text, got {other}"))),
    }
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>, ActionError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| ActionError::InvalidInput(format!("{key} must be a list of text"))))
            .collect(),
        _ => Err(ActionError::InvalidInput(format!("{key} must be a list of text"))),
    }
}

/// SSM's `Targets: [{Key, Values}]` (and Bosun's lower-case spelling).
fn targets(inputs: &Map<String, Value>) -> Result<Vec<Target>, ActionError> {
    let mut targets = Vec::new();
    if let Some(ids) = inputs.get("InstanceIds") {
        targets.push(Target::Ids(strings(ids, "InstanceIds")?));
    }
    if let Some(list) = inputs.get("Targets") {
        let Value::Array(items) = list else { return Err(ActionError::InvalidInput("Targets must be a list of {Key, Values}".into())) };
        for item in items {
            let key = item.get("Key").or_else(|| item.get("key")).and_then(Value::as_str);
            let values = item.get("Values").or_else(|| item.get("values"));
            let (Some(key), Some(values)) = (key, values) else {
                return Err(ActionError::InvalidInput("each of Targets needs Key and Values".into()));
            };
            let json = json!({"key": key, "values": strings(values, "Targets[].Values")?});
            targets.push(serde_json::from_value(json).map_err(|e| ActionError::InvalidInput(format!("Targets: {e}")))?);
        }
    }
    if targets.is_empty() {
        return Err(ActionError::InvalidInput("give InstanceIds or Targets".into()));
    }
    Ok(targets)
}

fn limit(inputs: &Map<String, Value>, key: &str) -> Result<Option<Limit>, ActionError> {
    text(inputs, key)?.map(|t| Limit::parse(&t).map_err(|e| ActionError::InvalidInput(format!("{key}: {e}")))).transpose()
}

fn seconds(inputs: &Map<String, Value>, key: &str) -> Result<Option<u64>, ActionError> {
    seconds_value(inputs.get(key), key)
}

/// A whole number of seconds, given as a number or as text (interpolated parameters are text).
pub(crate) fn seconds_value(value: Option<&Value>, key: &str) -> Result<Option<u64>, ActionError> {
    text_value(value, key)?
        .map(|t| t.trim().parse().map_err(|_| ActionError::InvalidInput(format!("{key} must be a whole number of seconds, got {t:?}"))))
        .transpose()
}

/// The send request an aws:runCommand step's inputs describe.
pub fn request(inputs: &Value) -> Result<SendCommand, ActionError> {
    let Value::Object(inputs) = inputs else { return Err(ActionError::InvalidInput("inputs must be a map".into())) };
    let document_name = text(inputs, "DocumentName")?.ok_or_else(|| ActionError::InvalidInput("DocumentName is required".into()))?;
    let parameters = match inputs.get("Parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(ActionError::InvalidInput("Parameters must be a map".into())),
    };
    Ok(SendCommand {
        document_name: Some(document_name),
        document_version: text(inputs, "DocumentVersion")?,
        document: None,
        targets: targets(inputs)?,
        parameters,
        max_concurrency: limit(inputs, "MaxConcurrency")?,
        max_errors: limit(inputs, "MaxErrors")?,
        // SSM's TimeoutSeconds of aws:runCommand is the delivery timeout.
        timeout_seconds: seconds(inputs, "ExecutionTimeoutSeconds")?,
        delivery_timeout_seconds: seconds(inputs, "TimeoutSeconds")?,
        comment: text(inputs, "Comment")?.unwrap_or_default(),
    })
}

fn outputs(view: &CommandView) -> Map<String, Value> {
    let first = view.invocations.first();
    let output: String = first.map(|i| i.stdout.chars().take(OUTPUT_CHARS).collect()).unwrap_or_default();
    let mut map = Map::new();
    map.insert("CommandId".into(), json!(view.command_id));
    map.insert("Status".into(), json!(view.status));
    map.insert("ResponseCode".into(), json!(first.and_then(|i| i.exit_code).unwrap_or(-1)));
    map.insert("Output".into(), json!(output));
    map
}

async fn run_command(service: &RunCommand, call: &ActionCall) -> Result<Map<String, Value>, ActionError> {
    let id = command_id_for(&call.idempotency_key);
    let existing = service.view(&id, Detail::Summary).map_err(|e| ActionError::Failed(e.to_string()))?;
    if existing.is_none() {
        let request = request(&call.inputs)?;
        let by = format!("automation:{}", call.execution_id);
        service.send_with_id(&request, &by, Some(id.clone())).await.map_err(|e| match e {
            SendError::Invalid { field, message, details } => ActionError::InvalidInput(if details.is_empty() {
                format!("{field}: {message}")
            } else {
                format!("{field}: {message}: {}", details.join("; "))
            }),
            SendError::NotFound(message) => ActionError::InvalidInput(message),
            SendError::Store(message) => ActionError::Failed(message),
        })?;
    }
    loop {
        let view = service.view(&id, Detail::Invocations).map_err(|e| ActionError::Failed(e.to_string()))?;
        let Some(view) = view else { return Err(ActionError::Failed(format!("command {id} vanished"))) };
        if view.status.is_terminal() {
            return match view.status {
                CommandStatus::Success => Ok(outputs(&view)),
                status => {
                    let failed: Vec<String> = view
                        .invocations
                        .iter()
                        .filter(|i| i.status.is_terminal() && i.status.as_str() != "Success")
                        .map(|i| format!("{} {}", i.node_id, i.status))
                        .collect();
                    Err(ActionError::Failed(format!("command {id} ended {status}: {}", failed.join(", "))))
                }
            };
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_stable_uuids() {
        let a = command_id_for("exec-1/step/1");
        assert_eq!(a, command_id_for("exec-1/step/1"));
        assert_ne!(a, command_id_for("exec-1/step/2"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }

    #[test]
    fn inputs_as_ssm_writes_them() {
        let inputs = json!({
            "DocumentName": "AWS-RunShellScript",
            "Targets": [{"Key": "tag:Env", "Values": ["dev"]}],
            "InstanceIds": ["mi-1"],
            "Parameters": {"commands": ["uptime"]},
            "MaxConcurrency": "10%",
            "MaxErrors": "1",
            "TimeoutSeconds": 600
        });
        let request = request(&inputs).unwrap();
        assert_eq!(request.targets, [Target::Ids(vec!["mi-1".into()]), Target::Tag { key: "Env".into(), values: vec!["dev".into()] }]);
        assert_eq!(request.max_concurrency, Some(Limit::Percent(10)));
        assert_eq!(request.delivery_timeout_seconds, Some(600));
        let interpolated = json!({"DocumentName": "x", "InstanceIds": ["a"], "ExecutionTimeoutSeconds": " 3600 "});
        assert_eq!(super::request(&interpolated).unwrap().timeout_seconds, Some(3600));
        for bad in [
            json!({"Targets": [{"Key": "tag:Env", "Values": ["dev"]}]}),
            json!({"DocumentName": "x"}),
            json!({"DocumentName": "x", "InstanceIds": [1]}),
            json!({"DocumentName": "x", "InstanceIds": ["a"], "MaxErrors": "lots"}),
            json!({"DocumentName": "x", "InstanceIds": ["a"], "TimeoutSeconds": -1}),
            json!({"DocumentName": "x", "InstanceIds": ["a"], "TimeoutSeconds": 1.5}),
            json!({"DocumentName": "x", "InstanceIds": ["a"], "TimeoutSeconds": [600]}),
        ] {
            assert!(matches!(super::request(&bad), Err(ActionError::InvalidInput(_))), "{bad}");
        }
    }
}
