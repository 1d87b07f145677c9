//! `aws:softwareInventory`: runs the inventory collectors the server named with
//! the command (the built-in ones and any installed collector plugin) in the
//! agent's plugin host, each with the grants the operator gave it, and uploads
//! what they collected to `/v1/agent/inventory`. The step's inputs say which
//! collectors run, as AWS-GatherSoftwareInventory's parameters do.

use bosun_document::Step;
use bosun_plugin_host::CollectedItem;
use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::PluginRef;
use bosun_protocol::inventory::{Entry, InventoryItem, PutInventory};
use serde_json::{Value, json};

use super::InvocationCtx;
use super::flow::{Flow, StepOutcome};
use super::params::DocParams;

pub const ACTION: &str = "aws:softwareInventory";

/// Inputs that switch a built-in collector on (`Enabled`) or off, and the collector.
const SWITCHES: &[(&str, &str)] = &[
    ("applications", "inventory-packages"),
    ("networkConfig", "inventory-network"),
    ("services", "inventory-services"),
    ("customInventory", "inventory-custom"),
];
/// Always runs: AWS:InstanceInformation is every node's first item.
const OS_COLLECTOR: &str = "inventory-os";
const FILES_COLLECTOR: &str = "inventory-files";
/// The other inputs the step takes.
const OTHER_INPUTS: &[&str] = &["instanceDetailedInformation", "files"];

/// What the step's inputs ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    enabled: Vec<&'static str>,
    detailed: bool,
    /// The `Files` searches of the files collector, when given.
    files: Option<Value>,
    /// Collectors that are not built in run with customInventory.
    custom: bool,
}

/// Reads the step's interpolated inputs; an error names the input.
pub fn plan(inputs: &Value) -> Result<Plan, String> {
    let empty = serde_json::Map::new();
    let map = match inputs {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => return Err(format!("the inputs of {ACTION} are a map, not {other}")),
    };
    for key in map.keys().filter(|k| k.as_str() != "finallyStep") {
        if !SWITCHES.iter().any(|(input, _)| input == key) && !OTHER_INPUTS.contains(&key.as_str()) {
            let known: Vec<&str> = SWITCHES.iter().map(|(input, _)| *input).chain(OTHER_INPUTS.iter().copied()).collect();
            return Err(format!("inputs.{key}: {ACTION} takes {}", known.join(", ")));
        }
    }
    let switch = |key: &str| -> Result<bool, String> {
        match map.get(key) {
            None => Ok(true),
            Some(Value::String(s)) if s == "Enabled" => Ok(true),
            Some(Value::String(s)) if s == "Disabled" => Ok(false),
            Some(other) => Err(format!("inputs.{key}: Enabled or Disabled, not {other}")),
        }
    };
    let mut enabled = vec![OS_COLLECTOR];
    for (input, collector) in SWITCHES {
        if switch(input)? {
            enabled.push(collector);
        }
    }
    let files = match map.get("files") {
        None => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => Some(serde_json::from_str::<Value>(text).map_err(|e| format!("inputs.files: not JSON: {e}"))?),
        Some(list @ Value::Array(_)) => Some(list.clone()),
        Some(other) => Err(format!("inputs.files: a JSON list of searches, not {other}"))?,
    };
    if files.is_some() {
        enabled.push(FILES_COLLECTOR);
    }
    Ok(Plan { enabled, detailed: switch("instanceDetailedInformation")?, files, custom: switch("customInventory")? })
}

impl Plan {
    /// True when the plan runs `collector`.
    fn runs(&self, collector: &str) -> bool {
        let builtin = collector == OS_COLLECTOR || collector == FILES_COLLECTOR || SWITCHES.iter().any(|(_, c)| *c == collector);
        if builtin { self.enabled.contains(&collector) } else { self.custom }
    }

    /// The settings a collector gets.
    fn inputs_of(&self, collector: &str) -> Value {
        match (collector, &self.files) {
            (FILES_COLLECTOR, Some(files)) => json!({ "Files": files }),
            _ => json!({}),
        }
    }
}

/// A collected item as uploaded: entries as maps, and the agent's own fields
/// added to AWS:InstanceInformation.
fn to_upload(item: CollectedItem, node_id: &str) -> InventoryItem {
    let mut content: Vec<Entry> =
        item.content.into_iter().map(|entry| entry.into_iter().map(|(k, v)| (k, Value::String(v))).collect()).collect();
    if item.type_name == "AWS:InstanceInformation"
        && let Some(first) = content.first_mut()
    {
        first.insert("AgentType".into(), Value::String("bosun-agent".into()));
        first.insert("AgentVersion".into(), Value::String(env!("CARGO_PKG_VERSION").into()));
        first.insert("InstanceId".into(), Value::String(node_id.into()));
    }
    InventoryItem { type_name: item.type_name, schema_version: item.schema_version, capture_time: item.capture_time, content }
}

/// Runs the step.
pub async fn run(ctx: &InvocationCtx<'_>, params: &DocParams, step: &Step) -> StepOutcome {
    let Some(access) = &ctx.env.plugins else {
        return StepOutcome::failed(step, format!("this agent has no plugin host to run the collectors of {ACTION}"));
    };
    let plan = match params.interpolate(&step.inputs).map_err(|e| format!("inputs: {}: {}", e.reference, e.message)).and_then(|i| plan(&i))
    {
        Ok(plan) => plan,
        Err(message) => return StepOutcome::failed(step, message),
    };
    let collectors: Vec<&PluginRef> = ctx.assignment.plugins.iter().filter(|p| p.action == ACTION && plan.runs(&p.name)).collect();
    if collectors.is_empty() {
        return StepOutcome::failed(step, "the server named no inventory collector with this command".into());
    }
    let work = async {
        let (mut items, mut log, mut failures) = (Vec::new(), String::new(), Vec::new());
        for wanted in collectors {
            let (host, collector) = match access.runner.collector(access, wanted).await {
                Ok(loaded) => loaded,
                Err(message) => {
                    failures.push(message);
                    continue;
                }
            };
            let outcome = host.collect(&collector, &plan.inputs_of(&wanted.name)).await;
            for line in &outcome.logs {
                log.push_str(&format!("[{}] {}: {}\n", line.level.as_str(), wanted.name, line.message));
            }
            match outcome.result {
                Ok(collected) => {
                    let kept = collected.into_iter().filter(|i| plan.detailed || i.type_name != "AWS:InstanceDetailedInformation");
                    items.extend(kept.map(|i| to_upload(i, &ctx.env.node_id)));
                }
                Err(error) => {
                    let granted: Vec<String> = collector.grants.iter().map(ToString::to_string).collect();
                    let granted = if granted.is_empty() { "nothing".to_string() } else { granted.join(", ") };
                    failures.push(format!("collector {}: {error} (it is granted {granted})", wanted.name));
                }
            }
        }
        let counts: Vec<String> = items.iter().map(|i| format!("{}={}", i.type_name, i.content.len())).collect();
        let uploaded = access.control.put_inventory(&access.credential, &PutInventory { items }).await;
        (uploaded, counts, log, failures)
    };
    let (uploaded, counts, log, failures) = tokio::select! {
        r = work => r,
        () = ctx.cancel.cancelled() => return StepOutcome::new(step, InvocationStatus::Cancelled, Flow::Cancelled),
        () = tokio::time::sleep_until(ctx.deadline) => {
            let mut o = StepOutcome::new(step, InvocationStatus::ExecutionTimedOut, Flow::Deadline);
            o.report.message = Some("the command's execution timeout ran out while collecting inventory".into());
            return o;
        }
    };
    let mut outcome = match uploaded {
        Ok(result) => {
            let mut o = match failures.is_empty() {
                true => StepOutcome::new(step, InvocationStatus::Success, Flow::Next),
                false => StepOutcome::failed(step, failures.join("; ")),
            };
            o.report.stdout = format!(
                "collected: {}\nstored: {}\nunchanged: {}\n",
                counts.join(" "),
                result.stored.join(" "),
                result.unchanged.join(" ")
            );
            o
        }
        Err(e) => {
            let mut all = failures;
            all.push(format!("the upload to the server failed: {e}"));
            StepOutcome::failed(step, all.join("; "))
        }
    };
    outcome.report.stderr = match &outcome.report.message {
        Some(message) if outcome.report.status != InvocationStatus::Success => format!("{log}{message}\n"),
        _ => log,
    };
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inputs_choose_the_collectors() {
        let all = plan(&json!({})).unwrap();
        assert_eq!(all.enabled, vec![OS_COLLECTOR, "inventory-packages", "inventory-network", "inventory-services", "inventory-custom"]);
        assert!(all.runs("acme-collector") && all.detailed && all.files.is_none());
        let some = plan(&json!({"applications": "Enabled", "services": "Disabled", "customInventory": "Disabled",
            "instanceDetailedInformation": "Disabled", "files": "[{\"Path\": \"/etc\", \"Pattern\": [\"*.conf\"]}]"}))
        .unwrap();
        assert!(some.runs("inventory-packages") && !some.runs("inventory-services") && !some.runs("acme-collector"));
        assert!(some.runs(FILES_COLLECTOR) && !some.detailed);
        assert_eq!(some.inputs_of(FILES_COLLECTOR)["Files"][0]["Path"], "/etc");
        assert_eq!(some.inputs_of("inventory-packages"), json!({}));
    }

    #[test]
    fn bad_inputs_name_the_input() {
        for (inputs, expected) in [
            (json!({"applications": "Yes"}), "inputs.applications"),
            (json!({"windowsRegistry": "Enabled"}), "inputs.windowsRegistry"),
            (json!({"files": "[not json"}), "inputs.files: not JSON"),
            (json!({"files": 5}), "inputs.files"),
            (json!("text"), "are a map"),
        ] {
            let e = plan(&inputs).unwrap_err();
            assert!(e.contains(expected), "{inputs}: {e}");
        }
    }

    #[test]
    fn the_agent_adds_its_fields_to_instance_information() {
        let item = CollectedItem {
            type_name: "AWS:InstanceInformation".into(),
            schema_version: "1.0".into(),
            capture_time: "2026-11-27T04:00:00Z".into(),
            content: vec![vec![("ComputerName".into(), "web-1".into())]],
        };
        let up = to_upload(item, "mi-0123");
        assert_eq!(up.content[0]["InstanceId"], "mi-0123");
        assert_eq!(up.content[0]["ComputerName"], "web-1");
    }
}
