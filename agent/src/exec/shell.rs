//! `aws:runShellScript`: the step's commands written to a script file and run by
//! `/bin/sh` in its own process group, with the step's working directory,
//! environment and time limit, and SSM's exit-code conventions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bosun_document::Step;
use bosun_document::interpolate::render_text;
use bosun_protocol::InvocationStatus;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::InvocationCtx;
use super::flow::{Flow, StepOutcome};
use super::params::DocParams;
use super::process::{self, Ending, Spec};

/// A shell step's time limit when it sets none (SSM's default).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;
/// Exit code: the step succeeded; stop the document.
pub const EXIT_SUCCESS_AND_STOP: i32 = 168;
/// Exit code: the step failed; stop the document.
pub const EXIT_FAILED_AND_STOP: i32 = 169;
/// Exit codes that ask for a reboot, after which the step runs again.
pub const EXIT_REBOOT: [i32; 2] = [194, 3010];

/// The step's inputs, interpolated and checked.
#[derive(Debug, Clone, PartialEq)]
struct Inputs {
    script: String,
    working_directory: Option<String>,
    timeout_seconds: u64,
    env: Vec<(String, String)>,
}

pub async fn run(ctx: &InvocationCtx<'_>, params: &DocParams, index: usize, step: &Step) -> StepOutcome {
    let inputs = match interpolate(params, &step.inputs).and_then(|v| parse(&v)) {
        Ok(inputs) => inputs,
        Err(message) => return StepOutcome::failed(step, message),
    };
    let unusable = params.unusable_env_names();
    if !unusable.is_empty() {
        let message = format!("ENV_VAR parameters need names of letters, digits and _ to be shell variables: {}", unusable.join(", "));
        return StepOutcome::failed(step, message);
    }
    let cwd = match working_directory(&ctx.work_dir, inputs.working_directory.as_deref()) {
        Ok(cwd) => cwd,
        Err(message) => return StepOutcome::failed(step, message),
    };
    let script_path = ctx.script_dir.join(format!("{index:02}-{}.sh", file_safe(&step.name)));
    // Not synced: a step that runs again after a restart writes its script again.
    if let Err(e) = crate::fsutil::write_private(&script_path, inputs.script.as_bytes(), false) {
        return StepOutcome::failed(step, format!("cannot write the script {}: {e}", script_path.display()));
    }

    let mut env = vec![
        ("AWS_SSM_INSTANCE_ID".to_string(), ctx.env.node_id.clone()),
        ("BOSUN_NODE_ID".to_string(), ctx.env.node_id.clone()),
        ("BOSUN_COMMAND_ID".to_string(), ctx.assignment.command_id.clone()),
        ("BOSUN_INVOCATION_ID".to_string(), ctx.assignment.invocation_id.clone()),
    ];
    env.extend(params.env());
    env.extend(inputs.env.iter().cloned());

    // Wait for a process slot, but not past a cancel or the execution timeout.
    let permit = tokio::select! {
        permit = ctx.env.processes.clone().acquire_owned() => permit.ok(),
        () = ctx.cancel.cancelled() => return StepOutcome::new(step, InvocationStatus::Cancelled, Flow::Cancelled),
        () = tokio::time::sleep_until(ctx.deadline) => return timed_out(step, "the command's execution timeout ran out before the step could start", Flow::Deadline),
    };
    let step_limit = Duration::from_secs(inputs.timeout_seconds);
    let remaining = ctx.deadline.saturating_duration_since(Instant::now());
    let by_deadline = remaining < step_limit;
    let spec = Spec {
        program: "/bin/sh".into(),
        args: vec![script_path.clone().into_os_string()],
        cwd,
        env,
        timeout: step_limit.min(remaining),
        max_output: ctx.env.max_output,
        group_file: Some(script_path.with_extension("pid")),
    };
    let finished = process::run(spec, &ctx.cancel).await;
    drop(permit);
    let finished = match finished {
        Ok(finished) => finished,
        Err(e) => return StepOutcome::failed(step, format!("cannot start /bin/sh: {e}")),
    };
    let mut outcome = match finished.ending {
        Ending::Exited(code) => exited(step, code),
        Ending::Signalled(signal) => {
            let mut o = StepOutcome::new(step, InvocationStatus::Failed, Flow::Next);
            o.report.message = Some(format!("the script was killed by signal {signal}"));
            o
        }
        Ending::TimedOut if by_deadline => {
            let why =
                format!("the command's execution timeout ({} s) ran out; the step's processes were killed", ctx.assignment.timeout_seconds);
            timed_out(step, &why, Flow::Deadline)
        }
        Ending::TimedOut => {
            let why = format!("the step ran longer than its timeoutSeconds ({} s); its processes were killed", inputs.timeout_seconds);
            timed_out(step, &why, Flow::Next)
        }
        Ending::Cancelled => {
            let mut o = StepOutcome::new(step, InvocationStatus::Cancelled, Flow::Cancelled);
            o.report.message = Some("cancelled; the step's processes were killed".into());
            o
        }
    };
    outcome.report.stdout = finished.stdout;
    outcome.report.stderr = finished.stderr;
    outcome
}

fn timed_out(step: &Step, why: &str, flow: Flow) -> StepOutcome {
    let mut o = StepOutcome::new(step, InvocationStatus::ExecutionTimedOut, flow);
    o.report.message = Some(why.to_string());
    o
}

/// SSM's exit codes: 0 success, 168 success and stop, 169 failed and stop, 194 and
/// 3010 reboot, anything else failed.
fn exited(step: &Step, code: i32) -> StepOutcome {
    let (status, flow, message) = match code {
        0 => (InvocationStatus::Success, Flow::Next, None),
        EXIT_SUCCESS_AND_STOP => (InvocationStatus::Success, Flow::Exit, Some("exit code 168: success; the document stops here")),
        EXIT_FAILED_AND_STOP => (InvocationStatus::Failed, Flow::Exit, Some("exit code 169: failed; the document stops here")),
        c if EXIT_REBOOT.contains(&c) => {
            (InvocationStatus::InProgress, Flow::Reboot, Some("a reboot was requested; the step runs again after it"))
        }
        _ => (InvocationStatus::Failed, Flow::Next, None),
    };
    let mut o = StepOutcome::new(step, status, flow);
    o.report.exit_code = Some(code);
    o.report.message = message.map(str::to_string);
    o
}

/// Interpolates the inputs: `runCommand` as shell text (ENV_VAR parameters become
/// variable references), the rest as values.
fn interpolate(params: &DocParams, inputs: &Value) -> Result<Value, String> {
    let mut out = Map::new();
    for (key, value) in inputs.as_object().into_iter().flatten() {
        let done = if key == "runCommand" { params.interpolate_shell(value) } else { params.interpolate(value) };
        out.insert(key.clone(), done.map_err(|e| format!("inputs.{key}: {}: {}", e.reference, e.message))?);
    }
    Ok(Value::Object(out))
}

fn parse(inputs: &Value) -> Result<Inputs, String> {
    let script = match inputs.get("runCommand") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(lines)) => {
            let lines: Option<Vec<String>> = lines.iter().map(|l| (!l.is_array() && !l.is_object()).then(|| render_text(l))).collect();
            lines.ok_or("inputs.runCommand: expected a list of command lines")?.join("\n")
        }
        Some(other) => return Err(format!("inputs.runCommand: expected a list of command lines or a string, found {other}")),
        None => return Err("aws:runShellScript needs the input \"runCommand\"".into()),
    };
    let working_directory = match inputs.get("workingDirectory") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return Err(format!("inputs.workingDirectory: expected a path, found {other}")),
    };
    let timeout_seconds = match inputs.get("timeoutSeconds") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT_SECONDS,
        Some(v) => {
            positive_seconds(v).ok_or_else(|| format!("inputs.timeoutSeconds: expected a whole number of seconds above 0, found {v}"))?
        }
    };
    let env = match inputs.get("env") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) if valid_env_name(k) => Ok((k.clone(), render_text(v))),
                _ if !valid_env_name(k) => Err(format!("inputs.env: \"{k}\" is not a valid variable name")),
                _ => Err(format!("inputs.env.{k}: expected a text value, found {v}")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("inputs.env: expected a map of variable names to values, found {other}")),
    };
    Ok(Inputs { script, working_directory, timeout_seconds, env })
}

fn positive_seconds(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (n > 0).then_some(n)
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The step's working directory: absolute as given, relative under the invocation's.
fn working_directory(base: &Path, given: Option<&str>) -> Result<PathBuf, String> {
    let Some(given) = given else { return Ok(base.to_path_buf()) };
    let path = base.join(given);
    if path.is_dir() { Ok(path) } else { Err(format!("inputs.workingDirectory: {} is not a directory", path.display())) }
}

/// A step name as a file name: letters, digits, `-` and `_`, at most 64 characters.
fn file_safe(name: &str) -> String {
    name.chars().take(64).map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inputs_are_parsed() {
        let i = parse(&json!({"runCommand": ["echo a", "echo b"], "timeoutSeconds": "30", "env": {"A": "1", "B": 2}})).unwrap();
        assert_eq!(i.script, "echo a\necho b");
        assert_eq!(i.timeout_seconds, 30);
        assert_eq!(i.env, [("A".to_string(), "1".to_string()), ("B".to_string(), "2".to_string())]);
        assert_eq!(parse(&json!({"runCommand": "ls"})).unwrap().timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
    }

    #[test]
    fn bad_inputs_are_refused_with_the_field() {
        let err = |v: Value| parse(&v).unwrap_err();
        assert!(err(json!({})).contains("runCommand"));
        assert!(err(json!({"runCommand": [["x"]]})).contains("runCommand"));
        assert!(err(json!({"runCommand": "ls", "timeoutSeconds": 0})).contains("timeoutSeconds"));
        assert!(err(json!({"runCommand": "ls", "env": {"A B": "x"}})).contains("not a valid variable name"));
        assert!(err(json!({"runCommand": "ls", "env": ["A"]})).contains("inputs.env"));
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_safe("a/../b c"), "a____b_c");
    }
}
