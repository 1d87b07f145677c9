//! Runs a package's scripts through the host's `exec`: `/usr/bin/env -C DIR
//! PATH=… SSM_…=… /bin/sh SCRIPT`, so the script runs in its version's
//! directory with a standard PATH and the step's `additionalArguments` as
//! environment variables (named `SSM_*`, as Distributor requires). The grant
//! `exec:/usr/bin/env -C <root>/* **` keeps the plugin to directories under the root.

use std::path::Path;

use bosun_plugin_sdk::{ExecRequest, Host, PluginError};

const ENV: &str = "/usr/bin/env";
const SHELL: &str = "/bin/sh";
const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The most additional arguments a step may pass.
const MAX_ARGUMENTS: usize = 64;

/// The scripts' environment from `additionalArguments`: a JSON object (or its text)
/// of `SSM_`-prefixed names and string values.
pub fn environment(arguments: Option<&serde_json::Value>) -> Result<Vec<(String, String)>, PluginError> {
    let parsed;
    let map = match arguments {
        None => return Ok(Vec::new()),
        Some(serde_json::Value::String(text)) if text.trim().is_empty() || text.trim() == "{}" => return Ok(Vec::new()),
        Some(serde_json::Value::String(text)) => {
            parsed = serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| PluginError::invalid_input(format!("additionalArguments is not JSON: {e}")))?;
            &parsed
        }
        Some(other) => other,
    };
    let map = map.as_object().ok_or_else(|| PluginError::invalid_input("additionalArguments is a JSON object of SSM_ names and values"))?;
    if map.len() > MAX_ARGUMENTS {
        return Err(PluginError::invalid_input(format!("additionalArguments has {} entries; at most {MAX_ARGUMENTS}", map.len())));
    }
    let mut environment = Vec::new();
    for (name, value) in map {
        let valid = name.len() > 4 && name.starts_with("SSM_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(PluginError::invalid_input(format!(
                "additionalArguments.{name}: names start with SSM_ and hold letters, digits and '_'"
            )));
        }
        let value = value.as_str().ok_or_else(|| PluginError::invalid_input(format!("additionalArguments.{name}: a string")))?;
        if value.contains('\0') {
            return Err(PluginError::invalid_input(format!("additionalArguments.{name}: holds a NUL byte")));
        }
        environment.push((name.clone(), value.to_string()));
    }
    Ok(environment)
}

/// The exec request that runs `script` in `dir`.
pub fn request(dir: &Path, script: &str, environment: &[(String, String)]) -> ExecRequest {
    let mut args = vec!["-C".to_string(), dir.display().to_string(), PATH.to_string()];
    args.extend(environment.iter().map(|(name, value)| format!("{name}={value}")));
    args.extend([SHELL.to_string(), script.to_string()]);
    ExecRequest::new(ENV).args(args)
}

/// Runs `script` of the version unpacked in `dir`; a non-zero exit fails the step.
pub fn run(host: &Host, dir: &Path, script: &str, environment: &[(String, String)]) -> Result<(), PluginError> {
    let output = host.exec(&request(dir, script, environment))?;
    let stdout = output.stdout_text();
    let stderr = output.stderr_text();
    // The scripts' output becomes the step's: stdout after the outputs, stderr with the log.
    if !stdout.is_empty() {
        println!("{}", stdout.trim_end());
    }
    if !stderr.is_empty() {
        eprintln!("{}", stderr.trim_end());
    }
    if !output.success() {
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
        return Err(PluginError::failed(format!("{script} in {} exited with {}: {tail}", dir.display(), output.exit_code)));
    }
    host.info(&format!("{script} in {} succeeded", dir.display()));
    Ok(())
}
