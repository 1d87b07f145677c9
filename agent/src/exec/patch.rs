//! `aws:runPatchBaseline`: asks the server for this node's baseline snapshot
//! (its patch group's baseline, or its operating system's default), runs the
//! `patch-baseline` plugin the server named with the command (Scan or Install)
//! in the agent's plugin host, uploads the compliance report to
//! `/v1/agent/patch/compliance`, and asks for a reboot when the plugin says the
//! node needs one and `RebootOption` is `RebootIfNeeded` (as exit code 3010 does:
//! the step runs again after the reboot, installs nothing more, and scans).

use bosun_document::Step;
use bosun_protocol::InvocationStatus;
use bosun_protocol::patch::PutPatchCompliance;
use serde_json::{Map, Value, json};

use super::InvocationCtx;
use super::flow::{Flow, StepOutcome};
use super::params::DocParams;
use super::plugin;

pub const ACTION: &str = "aws:runPatchBaseline";

/// The step's inputs, as AWS-RunPatchBaseline passes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    operation: String,
    reboot_option: String,
}

/// Reads the step's interpolated inputs; an error names the input.
pub fn plan(inputs: &Value) -> Result<Plan, String> {
    let empty = Map::new();
    let map = match inputs {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => return Err(format!("the inputs of {ACTION} are a map, not {other}")),
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
    for key in map.keys() {
        match key.as_str() {
            "Operation" | "RebootOption" | "SnapshotId" | "finallyStep" => {}
            "InstallOverrideList" | "BaselineOverride" if text(key).is_empty() => {}
            "InstallOverrideList" | "BaselineOverride" => {
                return Err(format!("inputs.{key}: not supported; register a baseline for the node's patch group instead"));
            }
            other => return Err(format!("inputs.{other}: {ACTION} takes Operation, RebootOption, SnapshotId")),
        }
    }
    let operation = match text("Operation") {
        op @ ("Scan" | "Install") => op.to_string(),
        other => return Err(format!("inputs.Operation: Scan or Install, not \"{other}\"")),
    };
    let reboot_option = match text("RebootOption") {
        "" => "RebootIfNeeded".to_string(),
        op @ ("RebootIfNeeded" | "NoReboot") => op.to_string(),
        other => return Err(format!("inputs.RebootOption: RebootIfNeeded or NoReboot, not \"{other}\"")),
    };
    Ok(Plan { operation, reboot_option })
}

/// The report's lines on the step's output.
fn summary(report: &Map<String, Value>) -> String {
    let field = |key: &str| report.get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default();
    let mut text = format!(
        "Operation: {}\nBaseline: {}\nProduct: {}\nStatus: {}\nRebootRequired: {}\n",
        field("Operation"),
        field("BaselineId"),
        field("Product"),
        field("Status"),
        field("RebootRequired")
    );
    for state in ["Installed", "InstalledOther", "InstalledPendingReboot", "InstalledRejected", "Missing", "Failed", "NotApplicable"] {
        text.push_str(&format!("{state}: {}\n", field(&format!("{state}Count"))));
    }
    text
}

/// Runs the step.
pub async fn run(ctx: &InvocationCtx<'_>, params: &DocParams, step: &Step) -> StepOutcome {
    let Some(access) = &ctx.env.plugins else {
        return StepOutcome::failed(step, format!("this agent has no plugin host to run {ACTION}"));
    };
    let Some(wanted) = plugin::plugin_for(ctx, ACTION) else {
        return StepOutcome::failed(step, format!("the server named no plugin for {ACTION}: is the patch-baseline plugin installed?"));
    };
    let plan = match params.interpolate(&step.inputs).map_err(|e| format!("inputs: {}: {}", e.reference, e.message)).and_then(|i| plan(&i))
    {
        Ok(plan) => plan,
        Err(message) => return StepOutcome::failed(step, message),
    };
    let snapshot = match access.control.patch_snapshot(&access.credential).await {
        Ok(snapshot) => snapshot,
        Err(e) => return StepOutcome::failed(step, format!("cannot get this node's patch baseline from the server: {e}")),
    };
    let inputs = json!({"Operation": plan.operation, "RebootOption": plan.reboot_option, "Snapshot": snapshot});
    let (outcome, grants) = match plugin::call(ctx, access, step, wanted, &inputs).await {
        Ok(called) => called,
        Err(ended) => return ended,
    };
    let mut outputs = match outcome.result {
        Ok(ref outputs) => outputs.clone(),
        Err(_) => return plugin::report(step, wanted, outcome, &grants),
    };
    let reboot = outputs.remove("RebootRequested").and_then(|v| v.as_bool()).unwrap_or(false);
    let upload = PutPatchCompliance { command_id: ctx.assignment.command_id.clone(), report: Value::Object(outputs.clone()) };
    if let Err(e) = access.control.put_patch_compliance(&access.credential, &upload).await {
        return StepOutcome::failed(step, format!("the compliance report could not be uploaded: {e}"));
    }
    let mut done = plugin::report(step, wanted, outcome, &grants);
    done.report.stdout = summary(&outputs);
    if reboot {
        done.report.status = InvocationStatus::InProgress;
        done.flow = Flow::Reboot;
        done.report.message = Some("patches need a reboot (RebootIfNeeded); the step runs again after it".into());
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_follow_aws_run_patch_baseline() {
        let scan = plan(&json!({"Operation": "Scan", "SnapshotId": "", "InstallOverrideList": ""})).unwrap();
        assert_eq!(scan, Plan { operation: "Scan".into(), reboot_option: "RebootIfNeeded".into() });
        let install = plan(&json!({"Operation": "Install", "RebootOption": "NoReboot"})).unwrap();
        assert_eq!(install.reboot_option, "NoReboot");
        for (inputs, expected) in [
            (json!({"Operation": "Upgrade"}), "inputs.Operation"),
            (json!({}), "inputs.Operation"),
            (json!({"Operation": "Scan", "RebootOption": "Always"}), "inputs.RebootOption"),
            (json!({"Operation": "Scan", "InstallOverrideList": "https://x/list.yaml"}), "inputs.InstallOverrideList: not supported"),
            (json!({"Operation": "Scan", "Extra": 1}), "inputs.Extra"),
            (json!("Scan"), "are a map"),
        ] {
            let e = plan(&inputs).unwrap_err();
            assert!(e.contains(expected), "{inputs}: {e}");
        }
    }

    #[test]
    fn the_summary_lists_the_counts() {
        let report = json!({"Operation": "Scan", "BaselineId": "pb-1", "Product": "Debian12", "Status": "COMPLIANT",
            "RebootRequired": false, "InstalledCount": 3, "MissingCount": 0});
        let text = summary(report.as_object().unwrap());
        assert!(text.contains("Baseline: pb-1\n") && text.contains("Installed: 3\n") && text.contains("RebootRequired: false\n"), "{text}");
    }
}
