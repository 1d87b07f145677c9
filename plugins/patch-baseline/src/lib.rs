//! The `aws:runPatchBaseline` action. `Scan` reads the dpkg status database
//! and the apt lists under `Root` (read-only grants) and applies the node's
//! baseline snapshot (`bosun-patching`); `Install` runs `apt-get install
//! --only-upgrade` on the approved patches through the `exec` grant, then
//! scans again, marking patches still missing as Failed. The output is the
//! compliance report; `RebootRequested` tells the agent to reboot
//! (`RebootIfNeeded` and a node that needs one).

use std::collections::HashSet;
use std::path::Path;

use bosun_patching::{Report, ScanOptions, Snapshot};
use bosun_plugin_sdk::{ExecRequest, Host, PluginError};
use serde::{Deserialize, Serialize};

/// apt-get, as the manifest asks to run it.
pub const APT_GET: &str = "/usr/bin/apt-get";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Operation {
    Scan,
    Install,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum RebootOption {
    #[default]
    RebootIfNeeded,
    NoReboot,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    pub operation: Operation,
    #[serde(default)]
    pub reboot_option: RebootOption,
    pub snapshot: Snapshot,
    #[serde(default = "default_root")]
    pub root: String,
}

fn default_root() -> String {
    "/".into()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(flatten)]
    pub report: Report,
    /// True when the agent should reboot the node now.
    pub reboot_requested: bool,
}

pub fn run_patch_baseline(input: Input, host: &Host) -> Result<Output, PluginError> {
    input.snapshot.baseline.check().map_err(|e| PluginError::invalid_input(format!("Snapshot.Baseline: {e}")))?;
    if !input.root.starts_with('/') || input.root.split('/').any(|part| part == "..") {
        return Err(PluginError::invalid_input(format!("Root \"{}\" must be an absolute path without ..", input.root)));
    }
    let root = Path::new(&input.root);
    let now = chrono::Utc::now();
    let scan = |operation: &str, failed: HashSet<String>| {
        let options = ScanOptions { operation: operation.into(), failed };
        bosun_patching::scan(root, &input.snapshot, now, &options).map_err(|e| scan_error(&e))
    };
    let report = match input.operation {
        Operation::Scan => scan("Scan", HashSet::new())?,
        Operation::Install => {
            let before = scan("Install", HashSet::new())?;
            let targets = before.install_targets();
            if targets.is_empty() {
                host.info("no approved patch is missing");
                before
            } else {
                host.log(bosun_plugin_sdk::Level::Info, "installing approved patches", &[("count", &targets.len().to_string())]);
                let output = host.exec(&ExecRequest::new(APT_GET).args(apt_arguments(&input.root, &targets)))?;
                if !output.success() {
                    host.warn(&format!("apt-get exited {}: {}", output.exit_code, tail(&output.stderr_text())));
                }
                let tried: HashSet<String> =
                    before.patches.iter().filter(|p| p.available_version.is_some()).map(|p| p.name.clone()).collect();
                scan("Install", tried)?
            }
        }
    };
    for warning in &report.warnings {
        host.warn(warning);
    }
    let reboot_requested =
        input.operation == Operation::Install && input.reboot_option == RebootOption::RebootIfNeeded && report.reboot_required;
    Ok(Output { report, reboot_requested })
}

/// A scan error; a path outside the grants reads as missing under WASI, so say which grant it needs.
fn scan_error(message: &str) -> PluginError {
    if message.contains("No such file") || message.contains("not found") {
        PluginError::failed(format!("{message} (is the directory granted to the plugin, fs:ro:...?)"))
    } else {
        PluginError::failed(message)
    }
}

/// The arguments of the apt-get run that installs `targets` on the system under `root`.
pub fn apt_arguments(root: &str, targets: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
        .into_iter()
        .map(String::from)
        .collect();
    let root = root.trim_end_matches('/');
    if !root.is_empty() {
        for option in
            [format!("Dir={root}"), format!("Dir::State::status={root}/var/lib/dpkg/status"), format!("DPkg::Options::=--root={root}")]
        {
            args.push("-o".into());
            args.push(option);
        }
    }
    args.extend(["install".to_string(), "--only-upgrade".to_string()]);
    args.extend(targets.iter().cloned());
    args
}

/// The last lines of a program's error output.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

bosun_plugin_sdk::export_action!("aws:runPatchBaseline" => run_patch_baseline);

#[cfg(test)]
mod tests {
    use bosun_plugin_sdk::ExecOutput;
    use bosun_plugin_sdk::testing::TestHost;
    use serde_json::{Value, json};

    use super::*;

    fn root_with(status: &str, packages: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(root.path().join("var/lib/apt/lists")).unwrap();
        std::fs::write(root.path().join("var/lib/dpkg/status"), status).unwrap();
        std::fs::write(root.path().join("var/lib/apt/lists/sec_dists_bookworm-security_InRelease"), "Label: Debian-Security\n").unwrap();
        std::fs::write(root.path().join("var/lib/apt/lists/sec_dists_bookworm-security_main_binary-amd64_Packages"), packages).unwrap();
        root
    }

    const OLD: &str = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.15-1\n";
    const NEW: &str = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.20-1\n";
    const OFFER: &str = "Package: openssl\nArchitecture: amd64\nVersion: 3.0.20-1\nPriority: optional\nSection: utils\n";

    fn inputs(operation: &str, root: &Path) -> Value {
        let baseline = bosun_patching::baseline::predefined(bosun_patching::OperatingSystem::Debian).to_value();
        json!({"Operation": operation, "RebootOption": "RebootIfNeeded", "Root": root.display().to_string(),
               "Snapshot": {"BaselineId": "Bosun-DefaultPatchBaseline-Debian", "Product": "Debian12", "Baseline": baseline}})
    }

    fn call(inputs: &Value, host: &TestHost) -> Result<Value, PluginError> {
        bosun_dispatch("aws:runPatchBaseline", &inputs.to_string(), &host.host()).map(|out| serde_json::from_str(&out).unwrap())
    }

    #[test]
    fn scan_reports_without_running_anything() {
        let root = root_with(OLD, OFFER);
        let host = TestHost::new();
        let out = call(&inputs("Scan", root.path()), &host).unwrap();
        assert_eq!(out["Status"], "NON_COMPLIANT");
        assert_eq!(out["MissingCount"], 1);
        assert_eq!(out["Patches"][0]["AvailableVersion"], "3.0.20-1");
        assert_eq!(out["RebootRequested"], false);
        assert!(host.exec_requests().is_empty());
    }

    #[test]
    fn install_runs_apt_get_on_the_approved_patches_then_rescans() {
        let root = root_with(OLD, OFFER);
        let status = root.path().join("var/lib/dpkg/status");
        // apt-get "installs" by leaving the new version in the status database, as dpkg would.
        std::fs::write(&status, NEW).unwrap();
        std::fs::create_dir_all(root.path().join("run")).unwrap();
        std::fs::write(root.path().join("run/reboot-required"), "").unwrap();
        let host = TestHost::builder().exec_any_args(APT_GET, ExecOutput::default()).build();
        std::fs::write(&status, OLD).unwrap();
        let first = call(&inputs("Scan", root.path()), &host).unwrap();
        assert_eq!(first["MissingCount"], 1);
        std::fs::write(&status, NEW).unwrap();
        let out = call(&inputs("Install", root.path()), &host).unwrap();
        // Already at the approved version: nothing to run, compliant, but the node waits for a reboot.
        assert!(host.exec_requests().is_empty());
        assert_eq!(out["Status"], "COMPLIANT");
        assert_eq!(out["RebootRequested"], true);

        std::fs::write(&status, OLD).unwrap();
        let out = call(&inputs("Install", root.path()), &host).unwrap();
        let runs = host.exec_requests();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].args.last().unwrap(), "openssl:amd64=3.0.20-1");
        assert!(runs[0].args.contains(&format!("DPkg::Options::=--root={}", root.path().display())));
        // The canned apt-get changed nothing, so the patch failed.
        assert_eq!(out["FailedCount"], 1);
        assert_eq!(out["Patches"][0]["State"], "Failed");
    }

    #[test]
    fn bad_inputs_are_refused() {
        let root = root_with(OLD, OFFER);
        let host = TestHost::new();
        let mut bad_root = inputs("Scan", root.path());
        bad_root["Root"] = "/tmp/../etc".into();
        assert!(call(&bad_root, &host).unwrap_err().message().contains("Root"));
        let mut bad_baseline = inputs("Scan", root.path());
        bad_baseline["Snapshot"]["Baseline"]["RejectedPatches"] = json!(["rm -rf /"]);
        assert!(call(&bad_baseline, &host).unwrap_err().message().contains("RejectedPatches[0]"));
        let mut unknown = inputs("Scan", root.path());
        unknown["Operation"] = "Upgrade".into();
        assert!(call(&unknown, &host).is_err());
        let missing = inputs("Scan", Path::new("/nonexistent-root"));
        let e = call(&missing, &host).unwrap_err();
        assert!(e.message().contains("cannot open") && e.message().contains("granted"), "{}", e.message());
    }

    #[test]
    fn the_manifest_declares_the_action_and_its_grants() {
        let manifest = bosun_plugin_manifest::Manifest::from_json(include_str!("../bosun-plugin.json")).unwrap();
        assert!(manifest.action("aws:runPatchBaseline").is_some());
        assert_eq!(BOSUN_ACTIONS, ["aws:runPatchBaseline"]);
        assert!(manifest.capabilities.contains(&"fs:ro:/var/lib/dpkg".to_string()));
    }
}
