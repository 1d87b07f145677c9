//! `aws:runDocument`: runs a document the server sent along with the assignment
//! (`documentType: SSMDocument`, `documentPath` naming one of
//! `Assignment.included`) with its `documentParameters`, as part of this step.
//! `documentType: LocalPath` is refused: a path on the node is outside what the
//! server vetted.

use bosun_document::params::{ParamInput, resolve_parameters};
use bosun_document::{Document, Step};
use bosun_protocol::agent::DocumentText;
use bosun_protocol::{InvocationStatus, JsonMap};
use serde_json::Value;

use super::flow::{End, Flow, StepOutcome};
use super::params::DocParams;
use super::{InvocationCtx, MAX_NESTING, load_command_document, run_steps};

pub async fn run(ctx: &InvocationCtx<'_>, params: &DocParams, step: &Step, depth: usize) -> StepOutcome {
    let prepared = params
        .interpolate(&step.inputs)
        .map_err(|e| format!("inputs: {}: {}", e.reference, e.message))
        .and_then(|inputs| prepare(ctx, &inputs, depth));
    let (doc, values) = match prepared {
        Ok(p) => p,
        Err(message) => return StepOutcome::failed(step, message),
    };
    let nested_params = DocParams::new(&doc, &values, &ctx.env.node_id);
    let run = Box::pin(run_steps(ctx, &doc, &nested_params, 0, Vec::new(), depth + 1)).await;
    let flow = match run.end {
        End::Completed => Flow::Next,
        End::Reboot { .. } => Flow::Reboot,
        End::Cancelled => Flow::Cancelled,
        End::Deadline => Flow::Deadline,
    };
    let status = if flow == Flow::Reboot { InvocationStatus::InProgress } else { run.status() };
    let mut outcome = StepOutcome::new(step, status, flow);
    let (stdout, stderr) = run.outputs(ctx.env.max_output);
    outcome.report.exit_code = run.exit_code();
    outcome.report.stdout = stdout;
    outcome.report.stderr = stderr;
    let summary: Vec<String> = run.reports.iter().map(|r| format!("{} {}", r.name, r.status)).collect();
    let name = step.inputs.get("documentPath").and_then(Value::as_str).unwrap_or("the document");
    outcome.report.message = Some(format!("ran {name}: {}", summary.join(", ")));
    outcome
}

/// The nested document and its parameter values.
fn prepare(ctx: &InvocationCtx<'_>, inputs: &Value, depth: usize) -> Result<(Document, JsonMap), String> {
    if depth + 1 >= MAX_NESTING {
        return Err(format!("aws:runDocument nests documents at most {MAX_NESTING} deep"));
    }
    let doc_type = inputs.get("documentType").and_then(Value::as_str).unwrap_or("SSMDocument");
    match doc_type {
        "SSMDocument" => {}
        "LocalPath" => {
            return Err("documentType LocalPath is not supported: the agent runs only documents the server sent with the command; \
                        store the document and use documentType SSMDocument"
                .into());
        }
        other => return Err(format!("unknown documentType \"{other}\"; use SSMDocument")),
    }
    let path = inputs.get("documentPath").and_then(Value::as_str).ok_or("aws:runDocument needs the input \"documentPath\"")?;
    let text = find_included(&ctx.assignment.included, path).ok_or_else(|| {
        let sent: Vec<&str> = ctx.assignment.included.iter().map(|d| d.name.as_str()).collect();
        let sent = if sent.is_empty() { "none".to_string() } else { sent.join(", ") };
        format!("the document \"{path}\" was not sent with the command (documents sent: {sent})")
    })?;
    let doc = load_command_document(text)?;
    let given = document_parameters(inputs.get("documentParameters"))?;
    let values = resolve_parameters(&doc.parameters, &given).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("documentParameters for \"{path}\": {}", lines.join("; "))
    })?;
    Ok((doc, values))
}

/// `documentPath` is a document name, maybe with `:version`.
fn find_included<'a>(included: &'a [DocumentText], path: &str) -> Option<&'a DocumentText> {
    let bare = path.rsplit_once(':').map_or(path, |(name, _)| name);
    included.iter().find(|d| d.name == path).or_else(|| included.iter().find(|d| d.name == bare))
}

/// `documentParameters` as a map, or JSON text of one. Text values are parsed as
/// on a command line (`a,b` is a list), others are taken as JSON.
fn document_parameters(value: Option<&Value>) -> Result<Vec<(String, ParamInput)>, String> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(format!("inputs.documentParameters: expected a map or JSON text of one, found {text:?}")),
        },
        Some(other) => return Err(format!("inputs.documentParameters: expected a map, found {other}")),
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, ParamInput::Text(s)),
            other => (k, ParamInput::Json(other)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parameters_as_map_or_text() {
        let p = document_parameters(Some(&json!({"a": "x", "n": 2}))).unwrap();
        assert_eq!(p, [("a".to_string(), ParamInput::Text("x".into())), ("n".to_string(), ParamInput::Json(json!(2)))]);
        assert_eq!(document_parameters(Some(&json!("{\"a\": [\"x\"]}"))).unwrap(), [("a".to_string(), ParamInput::Json(json!(["x"])))]);
        assert!(document_parameters(Some(&json!("a=b"))).is_err());
        assert!(document_parameters(None).unwrap().is_empty());
    }

    #[test]
    fn finds_by_name_with_or_without_a_version() {
        let d = |n: &str| DocumentText { name: n.into(), file_name: "x.yaml".into(), content: String::new() };
        let included = [d("Setup"), d("Other")];
        assert_eq!(find_included(&included, "Setup").unwrap().name, "Setup");
        assert_eq!(find_included(&included, "Other:3").unwrap().name, "Other");
        assert!(find_included(&included, "Missing").is_none());
    }
}
