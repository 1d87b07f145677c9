//! Running a plugin in Bosun's real sandbox from a test: the crate is built
//! with `bosun plugin build` and an action run with `bosun plugin test
//! --output json`, so what the test sees is what the host does, grants and
//! limits included. Uses the `bosun` command (the `BOSUN` environment
//! variable, else `bosun` on PATH). Not on wasm32.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Why a sandbox run could not be made (a plugin failure is a [`SandboxRun`]).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot run {command}: {error} (set BOSUN to the bosun command)")]
    Spawn { command: String, error: std::io::Error },
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("`bosun plugin test` printed something other than its JSON report: {0}")]
    Report(String),
}

/// A plugin crate built into a component, ready to run.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bosun: PathBuf,
    component: PathBuf,
}

/// What one run in the sandbox gave.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxRun {
    /// `Success` or `Failed`.
    pub status: String,
    pub outputs: Option<Value>,
    pub error: Option<String>,
    /// Each `{"level", "message", "fields"}`.
    pub logs: Vec<Value>,
    /// The messages of the capability checks that refused a call.
    pub denials: Vec<String>,
    pub wall_ms: f64,
    pub peak_memory_bytes: u64,
}

fn bosun() -> PathBuf {
    std::env::var_os("BOSUN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("bosun"))
}

fn run(command: &mut Command) -> Result<Vec<u8>, SandboxError> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|error| SandboxError::Spawn { command: shown.clone(), error })?;
    if !output.status.success() && output.stdout.is_empty() {
        return Err(SandboxError::Command { command: shown, stderr: String::from_utf8_lossy(&output.stderr).into_owned() });
    }
    Ok(output.stdout)
}

impl Sandbox {
    /// Builds the plugin crate in `crate_dir` (in a test, `env!("CARGO_MANIFEST_DIR")`)
    /// into `target/bosun-sandbox`, or the directory `BOSUN_SANDBOX_TARGET_DIR` names.
    pub fn build(crate_dir: impl AsRef<Path>) -> Result<Sandbox, SandboxError> {
        let crate_dir = crate_dir.as_ref();
        let target =
            std::env::var_os("BOSUN_SANDBOX_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| crate_dir.join("target/bosun-sandbox"));
        let out = target.join("components");
        let bosun = bosun();
        let stdout =
            run(Command::new(&bosun).args(["plugin", "build"]).arg(crate_dir).arg("--target-dir").arg(&target).arg("--out-dir").arg(&out))?;
        let text = String::from_utf8_lossy(&stdout);
        let component = text
            .lines()
            .find_map(|line| line.strip_prefix("built ").and_then(|rest| rest.rsplit_once(" -> ")).map(|(_, path)| PathBuf::from(path)))
            .ok_or_else(|| SandboxError::Report(text.to_string()))?;
        Ok(Sandbox { bosun, component })
    }

    /// The built component.
    pub fn component(&self) -> &Path {
        &self.component
    }

    /// Runs `action` with `inputs` and the grants given (the `--grant` syntax).
    pub fn run(&self, action: &str, inputs: &Value, grants: &[&str]) -> Result<SandboxRun, SandboxError> {
        let mut command = Command::new(&self.bosun);
        command.args(["plugin", "test"]).arg(&self.component).args([
            "--action",
            action,
            "--input",
            &inputs.to_string(),
            "--output",
            "json",
        ]);
        for grant in grants {
            command.args(["--grant", grant]);
        }
        let stdout = run(&mut command)?;
        let report: Value =
            serde_json::from_slice(&stdout).map_err(|_| SandboxError::Report(String::from_utf8_lossy(&stdout).into_owned()))?;
        let text = |key: &str| report[key].as_str().map(str::to_string);
        Ok(SandboxRun {
            status: text("status").unwrap_or_default(),
            outputs: report.get("outputs").filter(|v| !v.is_null()).cloned(),
            error: text("error"),
            logs: report["logs"].as_array().cloned().unwrap_or_default(),
            denials: report["denials"].as_array().into_iter().flatten().filter_map(|d| d["message"].as_str().map(str::to_string)).collect(),
            wall_ms: report["wallMs"].as_f64().unwrap_or(0.0),
            peak_memory_bytes: report["peakMemoryBytes"].as_u64().unwrap_or(0),
        })
    }
}
