//! The plugin natively against `TestHost`: the control plane's answers are
//! canned, scripts are recorded instead of run, and the install root is a
//! temporary directory.

use bosun_plugin_sdk::testing::TestHost;
use bosun_plugin_sdk::{ExecOutput, HttpResponse};
use serde_json::json;

use super::*;

const OK: ExecOutput = ExecOutput { exit_code: 0, stdout: Vec::new(), stderr: Vec::new() };

struct Version {
    version: &'static str,
    zip: Vec<u8>,
    /// The sha256 the manifest claims.
    claimed: String,
}

fn version(version: &'static str, files: &[(&str, &[u8])]) -> Version {
    let zip = bosun_package::archive::write_zip(files).unwrap();
    let claimed = bosun_package::sha256_hex(&zip);
    Version { version, zip, claimed }
}

fn tools(v: &'static str) -> Version {
    version(v, &[("install.sh", b"echo in"), ("uninstall.sh", b"echo out"), ("update.sh", b"echo up"), ("bin/tool", v.as_bytes())])
}

/// A host that serves `versions` (the last is the latest) and runs every script successfully.
fn host(versions: &[&Version]) -> TestHost {
    host_running(versions, OK)
}

/// The same, with every script ending as `scripts` says.
fn host_running(versions: &[&Version], scripts: ExecOutput) -> TestHost {
    let mut builder = TestHost::builder().exec_any_args("/usr/bin/env", scripts);
    for (i, v) in versions.iter().enumerate() {
        let manifest = json!({
            "schemaVersion": "2.0", "version": v.version,
            "packages": {"ubuntu": {"_any": {"x86_64": {"file": "tools.zip"}}}},
            "files": {"tools.zip": {"checksums": {"sha256": v.claimed}}},
        });
        let answer = json!({"name": "tools", "version": v.version, "manifest": manifest,
            "node": {"platform": "ubuntu", "version": "24.04", "architecture": "x86_64"}});
        let body = serde_json::to_vec(&answer).unwrap();
        builder = builder.http("GET", format!("/v1/agent/packages/tools?version={}", v.version), HttpResponse::new(200, body.clone()));
        if i == versions.len() - 1 {
            builder = builder.http("GET", "/v1/agent/packages/tools", HttpResponse::new(200, body));
        }
        let file = format!("/v1/agent/packages/tools/versions/{}/files/tools.zip", v.version);
        builder = builder.http("GET", file, HttpResponse::new(200, v.zip.clone()));
    }
    builder.build()
}

fn input(root: &Path, action: &str, version: Option<&str>, extra: serde_json::Value) -> Input {
    let mut value = json!({"name": "tools", "action": action, "installRoot": root.display().to_string()});
    if let Some(v) = version {
        value["version"] = json!(v);
    }
    for (k, v) in extra.as_object().unwrap() {
        value[k] = v.clone();
    }
    serde_json::from_value(value).unwrap()
}

fn scripts_run(test: &TestHost) -> Vec<String> {
    test.exec_requests().iter().map(|r| format!("{} {}", r.args[1].rsplit('/').next().unwrap(), r.args.last().unwrap())).collect()
}

#[test]
fn installs_then_does_nothing_then_repairs_drift() {
    let root = tempfile::tempdir().unwrap();
    let v1 = tools("1.0");
    let test = host(&[&v1]);
    let done = configure(input(root.path(), "Install", None, json!({})), &test.host()).unwrap();
    assert_eq!((done.outcome, done.version.as_str(), done.platform.as_str()), (Outcome::Installed, "1.0", "ubuntu _any x86_64"));
    assert_eq!(std::fs::read(root.path().join("tools/1.0/bin/tool")).unwrap(), b"1.0");
    let first = &test.exec_requests()[0];
    assert_eq!(first.program, "/usr/bin/env");
    assert_eq!(first.args[..2], ["-C".to_string(), root.path().join("tools/1.0").display().to_string()]);
    assert_eq!(first.args[first.args.len() - 2..], ["/bin/sh".to_string(), "install.sh".to_string()]);
    assert!(!root.path().join(".downloads").read_dir().unwrap().any(|_| true), "the download is not kept");

    let again = configure(input(root.path(), "Install", Some("1.0"), json!({})), &test.host()).unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyInstalled);
    assert_eq!(test.exec_requests().len(), 1, "an intact installation runs nothing");

    std::fs::remove_file(root.path().join("tools/1.0/bin/tool")).unwrap();
    std::fs::write(root.path().join("tools/1.0/install.sh"), "echo tampered").unwrap();
    let repaired = configure(input(root.path(), "Install", None, json!({})), &test.host()).unwrap();
    assert_eq!(repaired.outcome, Outcome::Repaired);
    assert_eq!(repaired.drift, vec!["install.sh".to_string(), "bin/tool".to_string()], "in archive order");
    assert_eq!(std::fs::read(root.path().join("tools/1.0/bin/tool")).unwrap(), b"1.0");
    assert_eq!(std::fs::read(root.path().join("tools/1.0/install.sh")).unwrap(), b"echo in");
    assert_eq!(scripts_run(&test), vec!["1.0 install.sh", "1.0 install.sh"]);
}

#[test]
fn a_wrong_sha256_is_refused_before_anything_is_unpacked() {
    let root = tempfile::tempdir().unwrap();
    let mut v1 = tools("1.0");
    v1.claimed = bosun_package::sha256_hex(b"another archive");
    let test = host(&[&v1]);
    let error = configure(input(root.path(), "Install", None, json!({})), &test.host()).unwrap_err().to_string();
    assert!(error.contains("the manifest says") && error.contains("refused"), "{error}");
    assert!(test.exec_requests().is_empty());
    assert!(!root.path().join("tools/1.0").exists());
    assert!(!root.path().join("tools/installed.json").exists());
    assert!(!root.path().join(".downloads").read_dir().unwrap().any(|_| true), "the bad download is deleted");
}

#[test]
fn updates_in_place_or_by_reinstalling_and_uninstalls() {
    let root = tempfile::tempdir().unwrap();
    let (v1, v2) = (tools("1.0"), tools("2.0"));
    let test = host(&[&v1, &v2]);
    configure(input(root.path(), "Install", Some("1.0"), json!({})), &test.host()).unwrap();
    let updated = configure(input(root.path(), "Install", None, json!({"installationType": "In-place update"})), &test.host()).unwrap();
    assert_eq!((updated.outcome, updated.version.as_str()), (Outcome::Updated, "2.0"));
    assert!(!root.path().join("tools/1.0").exists() && root.path().join("tools/2.0/bin/tool").exists());
    let back = configure(input(root.path(), "Install", Some("1.0"), json!({})), &test.host()).unwrap();
    assert_eq!(back.outcome, Outcome::Updated);
    let refused = configure(input(root.path(), "Uninstall", Some("2.0"), json!({})), &test.host()).unwrap_err().to_string();
    assert!(refused.contains("tools 1.0 is installed, not 2.0"), "{refused}");
    let gone = configure(input(root.path(), "Uninstall", None, json!({})), &test.host()).unwrap();
    assert_eq!(gone.outcome, Outcome::Uninstalled);
    assert!(!root.path().join("tools/1.0").exists() && !root.path().join("tools/installed.json").exists());
    assert_eq!(scripts_run(&test), vec!["1.0 install.sh", "2.0 update.sh", "2.0 uninstall.sh", "1.0 install.sh", "1.0 uninstall.sh"]);
    let nothing = configure(input(root.path(), "Uninstall", None, json!({})), &test.host()).unwrap();
    assert_eq!(nothing.outcome, Outcome::NotInstalled);
}

#[test]
fn a_failing_script_fails_the_step_and_records_nothing() {
    let root = tempfile::tempdir().unwrap();
    let v1 = tools("1.0");
    let failing = ExecOutput { exit_code: 3, stdout: Vec::new(), stderr: b"no disk space".to_vec() };
    let test = host_running(&[&v1], failing);
    let error = configure(input(root.path(), "Install", None, json!({})), &test.host()).unwrap_err().to_string();
    assert!(error.contains("install.sh") && error.contains("exited with 3") && error.contains("no disk space"), "{error}");
    assert!(!root.path().join("tools/installed.json").exists(), "a failed install is not recorded: the next run tries again");
}

#[test]
fn hostile_and_malformed_inputs_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let test = TestHost::new();
    let refuse = |extra: serde_json::Value, name: &str| {
        let mut i = input(root.path(), "Install", None, extra);
        i.name = name.to_string();
        configure(i, &test.host()).unwrap_err().to_string()
    };
    assert!(refuse(json!({}), "../etc").contains("package name"));
    assert!(refuse(json!({"version": "../../x"}), "tools").contains("version"));
    assert!(refuse(json!({"installRoot": "/var/../etc"}), "tools").contains("installRoot"));
    assert!(refuse(json!({"installRoot": "relative"}), "tools").contains("installRoot"));
    assert!(refuse(json!({"additionalArguments": "{\"PATH\": \"/tmp\"}"}), "tools").contains("start with SSM_"));
    assert!(refuse(json!({"additionalArguments": "{not json"}), "tools").contains("not JSON"));
    assert!(refuse(json!({"additionalArguments": {"SSM_x": 1}}), "tools").contains("a string"));
    assert!(test.http_requests().is_empty(), "nothing was asked of the control plane");
    let env = scripts::environment(Some(&json!("{\"SSM_region\": \"eu-west-1\"}"))).unwrap();
    let request = scripts::request(Path::new("/r/tools/1.0"), "install.sh", &env);
    assert_eq!(request.args[3], "SSM_region=eu-west-1");
}

#[test]
fn the_manifest_asks_for_what_the_action_uses() {
    let manifest = bosun_plugin_manifest::Manifest::from_json(include_str!("../bosun-plugin.json")).unwrap();
    assert_eq!(manifest.actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), BOSUN_ACTIONS);
    assert!(manifest.capabilities.iter().any(|c| c == &format!("fs:rw:{DEFAULT_ROOT}")));
}
