//! Install into an isolated root, never into this machine: two versions of a
//! tiny package built with `dpkg-deb`, a local `file:` apt repository offering
//! the newer one, version 1 installed into the root with `dpkg --root`, then
//! `aws:runPatchBaseline` with `Operation: Install` run in the plugin sandbox
//! with real `apt-get` through the exec grant. The root ends at version 2, the
//! report says Installed, and this machine's dpkg database is unchanged.

use std::path::Path;
use std::process::Command;

use bosun_patching::baseline::{BaselineSpec, OperatingSystem, PatchRule};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::sandbox::Sandbox;

const PACKAGE: &str = "bosun-patch-demo";

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
}

/// Builds `PACKAGE` at `version` into `repo`; returns its Packages stanza.
fn build_package(work: &Path, repo: &Path, version: &str) -> String {
    let tree = work.join(format!("tree-{version}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/share").join(PACKAGE)).unwrap();
    let control = format!(
        "Package: {PACKAGE}\nVersion: {version}\nArchitecture: all\nMaintainer: Bosun <bosun@example.com>\nSection: utils\nPriority: optional\nDescription: a package for the install test\n"
    );
    std::fs::write(tree.join("DEBIAN/control"), &control).unwrap();
    std::fs::write(tree.join("usr/share").join(PACKAGE).join("version"), version).unwrap();
    let deb = repo.join(format!("{PACKAGE}_{version}_all.deb"));
    run(Command::new("dpkg-deb").args(["--root-owner-group", "--build"]).arg(&tree).arg(&deb));
    let bytes = std::fs::read(&deb).unwrap();
    let sha256 = hex::encode(Sha256::digest(&bytes));
    format!("{control}Filename: ./{}\nSize: {}\nSHA256: {sha256}\n", deb.file_name().unwrap().to_string_lossy(), bytes.len())
}

fn installed_version(root: &Path) -> Option<String> {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let stanza = status.split("\n\n").find(|s| s.lines().any(|l| l == format!("Package: {PACKAGE}")))?;
    stanza.lines().find_map(|l| l.strip_prefix("Version: ")).map(str::to_string)
}

fn file_hash(path: &str) -> Option<String> {
    std::fs::read(path).ok().map(|b| hex::encode(Sha256::digest(&b)))
}

#[tokio::test(flavor = "multi_thread")]
async fn install_upgrades_an_isolated_root_through_apt_get() {
    let tools = ["dpkg", "dpkg-deb", "apt-get"].iter().all(|t| Command::new(t).arg("--version").output().is_ok_and(|o| o.status.success()));
    if !tools || !nix_is_root() {
        println!("skipped: needs dpkg, dpkg-deb and apt-get, and root (dpkg --root refuses other users)");
        return;
    }
    let host_status = file_hash("/var/lib/dpkg/status");
    let work = tempfile::tempdir().unwrap();
    let (repo, root) = (work.path().join("repo"), work.path().join("root"));
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "etc/apt/preferences.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/log",
        "run",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    build_package(work.path(), &repo, "1.0");
    let newer = build_package(work.path(), &repo, "2.0");
    std::fs::write(repo.join("Packages"), newer).unwrap();

    let log = format!("--log={}/var/log/dpkg.log", root.display());
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(&log)
        .arg("-i")
        .arg(repo.join(format!("{PACKAGE}_1.0_all.deb"))));
    assert_eq!(installed_version(&root).as_deref(), Some("1.0"));
    std::fs::write(root.join("etc/apt/sources.list"), format!("deb [trusted=yes] file:{} ./\n", repo.display())).unwrap();
    let dir = format!("Dir={}", root.display());
    let status = format!("Dir::State::status={}/var/lib/dpkg/status", root.display());
    run(Command::new("apt-get").args(["-q", "-o", &dir, "-o", &status, "update"]));

    let mut spec = BaselineSpec::new("local-repo", OperatingSystem::Debian);
    spec.approval_rules.patch_rules.push(PatchRule {
        patch_filter_group: Default::default(),
        compliance_level: bosun_patching::ComplianceLevel::High,
        approve_after_days: None,
        approve_until_date: None,
        enable_non_security: true,
    });
    let snapshot = json!({"BaselineId": "pb-test", "Product": "Debian12", "Baseline": spec.to_value()});
    let root_text = root.display().to_string();
    let grants = [format!("fs:ro:{root_text}"), "exec:/usr/bin/apt-get **".to_string()];
    let sandbox = Sandbox::new(&grants).await.unwrap();

    let scan = sandbox.run(&json!({"Operation": "Scan", "Root": root_text, "Snapshot": snapshot})).await;
    let scan = scan.result.unwrap_or_else(|e| panic!("scan: {e}"));
    assert_eq!((scan["MissingCount"].clone(), scan["Patches"][0]["AvailableVersion"].clone()), (json!(1), json!("2.0")), "{scan:?}");

    let install = sandbox.run(&json!({"Operation": "Install", "RebootOption": "NoReboot", "Root": root_text, "Snapshot": snapshot})).await;
    let logs: Vec<String> = install.logs.iter().map(|l| l.message.clone()).collect();
    let report = install.result.unwrap_or_else(|e| panic!("install: {e}; logs {logs:?}"));
    assert_eq!(installed_version(&root).as_deref(), Some("2.0"), "logs {logs:?}");
    assert_eq!(std::fs::read_to_string(root.join("usr/share").join(PACKAGE).join("version")).unwrap(), "2.0");
    assert_eq!((report["Status"].clone(), report["Patches"][0]["State"].clone()), (json!("COMPLIANT"), json!("Installed")), "{report:?}");
    assert_eq!(report["RebootRequested"], false);
    assert_eq!(file_hash("/var/lib/dpkg/status"), host_status, "this machine's dpkg database is untouched");

    // Without the exec grant an install is denied, naming the program, and changes nothing.
    let status_file = root.join("var/lib/dpkg/status");
    let text = std::fs::read_to_string(&status_file).unwrap().replace("Version: 2.0", "Version: 1.0");
    std::fs::write(&status_file, text).unwrap();
    let denied = Sandbox::new(&grants[..1]).await.unwrap();
    let outcome = denied.run(&json!({"Operation": "Install", "Root": root_text, "Snapshot": snapshot})).await;
    let error = outcome.result.unwrap_err().to_string();
    assert!(error.contains("denied") && error.contains("/usr/bin/apt-get"), "{error}");
    assert_eq!(installed_version(&root).as_deref(), Some("1.0"));
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}
