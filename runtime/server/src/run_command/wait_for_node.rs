//! `bosun:waitForNode`: an Automation step that waits until exactly one node
//! tagged `TagKey=TagValue` is registered and Online (seen within the server's
//! heartbeat gap), and outputs its id, so that a later `aws:runCommand` can
//! target the agent of an instance the runbook launched (it registers through
//! an activation tagged `InstanceId=<id>`). It reads the fleet and changes
//! nothing, so a step resumed after a restart simply waits again.

use std::time::Duration;

use bosun_engine::{ActionCall, ActionError};
use bosun_protocol::PingStatus;
use bosun_protocol::target::{check_tag_key, check_tag_value};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RunCommand;
use super::automation::seconds_value;

pub const WAIT_FOR_NODE: &str = "bosun:waitForNode";
/// How often the step looks at the fleet.
const WAIT_POLL: Duration = Duration::from_millis(500);
/// `TimeoutSeconds` when a step gives none, and the most it may give.
const DEFAULT_TIMEOUT_SECONDS: u64 = 600;
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Input {
    tag_key: String,
    tag_value: String,
    /// Read by [`seconds_value`], as aws:runCommand reads its own.
    #[serde(default)]
    timeout_seconds: Option<Value>,
}

/// The checked inputs of a step.
#[derive(Debug, PartialEq, Eq)]
struct Wait {
    key: String,
    value: String,
    timeout: Duration,
}

fn parse(inputs: &Value) -> Result<Wait, ActionError> {
    let input: Input = serde_json::from_value(inputs.clone()).map_err(|e| ActionError::InvalidInput(e.to_string()))?;
    check_tag_key(&input.tag_key).map_err(|e| ActionError::InvalidInput(format!("TagKey: {}", e.0)))?;
    check_tag_value(&input.tag_value).map_err(|e| ActionError::InvalidInput(format!("TagValue: {}", e.0)))?;
    if input.tag_value.is_empty() {
        return Err(ActionError::InvalidInput("TagValue must not be empty".into()));
    }
    let seconds = seconds_value(input.timeout_seconds.as_ref(), "TimeoutSeconds")?.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
        return Err(ActionError::InvalidInput(format!("TimeoutSeconds must be 1 to {MAX_TIMEOUT_SECONDS}, got {seconds}")));
    }
    Ok(Wait { key: input.tag_key, value: input.tag_value, timeout: Duration::from_secs(seconds) })
}

/// The one Online node among `nodes`, none yet, or an error when several are.
fn pick(wait: &Wait, nodes: &[bosun_protocol::fleet::NodeView]) -> Result<Option<String>, ActionError> {
    let online: Vec<&str> = nodes.iter().filter(|n| n.ping_status == PingStatus::Online).map(|n| n.node_id.as_str()).collect();
    match online.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        many => Err(ActionError::Failed(format!(
            "{} online nodes are tagged {}={} ({}): the tag must name one node",
            many.len(),
            wait.key,
            wait.value,
            many.join(", ")
        ))),
    }
}

impl RunCommand {
    /// Runs a `bosun:waitForNode` step: the node's id once it is Online, or a failure past the timeout.
    pub async fn wait_for_node(&self, call: &ActionCall) -> Result<Map<String, Value>, ActionError> {
        let wait = parse(&call.inputs)?;
        let deadline = tokio::time::Instant::now() + wait.timeout;
        loop {
            let nodes = self
                .store
                .list_nodes(Some((&wait.key, &wait.value)), self.heartbeat_gap())
                .map_err(|e| ActionError::Failed(format!("cannot read the fleet: {e}")))?;
            if let Some(node) = pick(&wait, &nodes)? {
                return Ok(Map::from_iter([("NodeId".to_string(), json!(node))]));
            }
            if tokio::time::Instant::now() >= deadline {
                let seen = match nodes.len() {
                    0 => "no node has that tag".to_string(),
                    n => format!("{n} node(s) have it but none is Online"),
                };
                return Err(ActionError::Failed(format!(
                    "no node tagged {}={} was registered and Online within {} s ({seen}); its agent registers with an activation tagged {}={}",
                    wait.key,
                    wait.value,
                    wait.timeout.as_secs(),
                    wait.key,
                    wait.value
                )));
            }
            tokio::time::sleep(WAIT_POLL.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::fleet::NodeView;

    fn node(id: &str, ping_status: PingStatus) -> NodeView {
        serde_json::from_value(json!({
            "nodeId": id, "pingStatus": ping_status, "tags": {}, "activationId": "act-1", "registeredAt": "2026-01-01T00:00:00Z",
            "platform": {"platformType": "Linux", "name": "Ubuntu", "version": "24.04", "kernel": "6.8", "architecture": "x86_64",
                         "hostname": "h", "ipAddresses": [], "agentVersion": "0.1.0"}
        }))
        .unwrap()
    }

    #[test]
    fn inputs_are_checked() {
        let wait = parse(&json!({"TagKey": "InstanceId", "TagValue": "i-1", "TimeoutSeconds": "30"})).unwrap();
        assert_eq!(wait, Wait { key: "InstanceId".into(), value: "i-1".into(), timeout: Duration::from_secs(30) });
        assert_eq!(parse(&json!({"TagKey": "k", "TagValue": "v"})).unwrap().timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECONDS));
        // Read as aws:runCommand reads its timeouts: a number, or text around one.
        assert_eq!(parse(&json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": " 45 "})).unwrap().timeout, Duration::from_secs(45));
        assert_eq!(
            parse(&json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": null})).unwrap().timeout,
            Duration::from_secs(DEFAULT_TIMEOUT_SECONDS)
        );
        for (bad, says) in [
            (json!({"TagValue": "v"}), "TagKey"),
            (json!({"TagKey": "", "TagValue": "v"}), "TagKey"),
            (json!({"TagKey": "k".repeat(129), "TagValue": "v"}), "TagKey"),
            (json!({"TagKey": "aws:x", "TagValue": "v"}), "TagKey"),
            (json!({"TagKey": "k\u{0}", "TagValue": "v"}), "TagKey"),
            (json!({"TagKey": "k", "TagValue": "v\n"}), "TagValue"),
            (json!({"TagKey": "k", "TagValue": ""}), "TagValue"),
            (json!({"TagKey": "k", "TagValue": "v".repeat(257)}), "TagValue"),
            (json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": 0}), "TimeoutSeconds"),
            (json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": 86_401}), "TimeoutSeconds"),
            (json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": -5}), "TimeoutSeconds"),
            (json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": "soon"}), "TimeoutSeconds"),
            (json!({"TagKey": "k", "TagValue": "v", "TimeoutSeconds": [1]}), "TimeoutSeconds"),
            (json!({"TagKey": "k", "TagValue": "v", "Extra": 1}), "Extra"),
            (json!({"TagKey": ["k"], "TagValue": "v"}), "string"),
            (json!("not a map"), "map"),
        ] {
            match parse(&bad) {
                Err(ActionError::InvalidInput(message)) => assert!(message.contains(says), "{bad}: {message}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn only_one_online_node_is_picked() {
        let wait = parse(&json!({"TagKey": "InstanceId", "TagValue": "i-1"})).unwrap();
        assert_eq!(pick(&wait, &[]).unwrap(), None);
        assert_eq!(pick(&wait, &[node("mi-1", PingStatus::ConnectionLost)]).unwrap(), None);
        let nodes = [node("mi-1", PingStatus::Inactive), node("mi-2", PingStatus::Online)];
        assert_eq!(pick(&wait, &nodes).unwrap(), Some("mi-2".to_string()));
        let two = [node("mi-1", PingStatus::Online), node("mi-2", PingStatus::Online)];
        let error = pick(&wait, &two).unwrap_err().to_string();
        assert_eq!(error, "2 online nodes are tagged InstanceId=i-1 (mi-1, mi-2): the tag must name one node");
    }
}
