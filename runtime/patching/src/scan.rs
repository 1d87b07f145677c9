//! The scan: the installed packages of a root (dpkg's status database), the
//! versions its apt lists offer, the node's baseline applied to each, and the
//! compliance state of every installed package. It reads files only, through
//! `std::fs`, so the same code runs natively and inside the plugin sandbox.

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::path::Path;

use bosun_debversion::compare;
use chrono::{DateTime, Utc};

use crate::approval::{Candidate, Verdict, judge};
use crate::apt::{self, Archive, Available};
use crate::baseline::{ComplianceLevel, RejectedPatchesAction};
use crate::dpkg::{self, InstalledPackage};
use crate::names::{PackageSpec, any_matches};
use crate::report::{PatchEntry, PatchState, Report, Snapshot};

/// Where a scan reads, under its root.
pub const STATUS_FILE: &str = "var/lib/dpkg/status";
pub const LISTS_DIR: &str = "var/lib/apt/lists";
pub const REBOOT_REQUIRED: &str = "run/reboot-required";
pub const REBOOT_REQUIRED_PKGS: &str = "run/reboot-required.pkgs";

/// What the scan was told besides the baseline.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// `Scan` or `Install`.
    pub operation: String,
    /// Packages an install tried and that are still not at the approved version.
    pub failed: HashSet<String>,
}

/// Scans the system under `root` against the snapshot's baseline.
pub fn scan(root: &Path, snapshot: &Snapshot, now: DateTime<Utc>, options: &ScanOptions) -> Result<Report, String> {
    let status_path = root.join(STATUS_FILE);
    let status = std::fs::File::open(&status_path).map_err(|e| format!("cannot open {}: {e}", status_path.display()))?;
    let installed =
        dpkg::read_status(BufReader::with_capacity(1 << 16, status), &status_path.display().to_string()).map_err(|e| e.to_string())?;

    let mut warnings = Vec::new();
    let lists_dir = root.join(LISTS_DIR);
    let apt::Lists { packages: lists, releases, unknown } = match apt::find_lists(&lists_dir) {
        Ok(found) => found,
        Err(e) => {
            warnings.push(format!("no package lists were read ({e}); run apt-get update"));
            apt::Lists::default()
        }
    };
    for name in unknown {
        warnings.push(format!("{name}: a compression this scan does not read (it reads plain, .lz4 and .gz lists)"));
    }
    let wanted: HashSet<&str> = installed.iter().map(|p| p.name.as_str()).collect();
    let mut archives = Vec::with_capacity(lists.len());
    let mut offered: HashMap<String, Vec<Available>> = HashMap::new();
    for list in &lists {
        archives.push(apt::archive_of(list, &releases).map_err(|e| e.to_string())?);
        let reader = apt::open_list(list).map_err(|e| e.to_string())?;
        apt::read_packages(reader, &list.display().to_string(), archives.len() - 1, &wanted, &mut offered).map_err(|e| e.to_string())?;
    }

    let reboot_required = root.join(REBOOT_REQUIRED).exists();
    let pending: HashSet<String> = std::fs::read_to_string(root.join(REBOOT_REQUIRED_PKGS))
        .map(|text| text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default();

    let judge_ctx = Judge { snapshot, archives: &archives, now };
    let mut patches: Vec<PatchEntry> = installed
        .iter()
        .map(|package| judge_ctx.installed_state(package, offered.get(&package.name).map(Vec::as_slice).unwrap_or(&[]), &pending, options))
        .collect();
    patches.extend(not_applicable(snapshot, &installed));
    Ok(Report::new(&options.operation, snapshot, patches, reboot_required, warnings))
}

struct Judge<'a> {
    snapshot: &'a Snapshot,
    archives: &'a [Archive],
    now: DateTime<Utc>,
}

impl Judge<'_> {
    fn verdict(&self, name: &str, offer: &Available) -> Verdict {
        let archive = &self.archives[offer.archive];
        let candidate = Candidate {
            name,
            arch: &offer.arch,
            version: &offer.version,
            section: &offer.section,
            priority: &offer.priority,
            security: archive.security,
            released: archive.date,
        };
        judge(&self.snapshot.baseline, &self.snapshot.product, &candidate, self.now)
    }

    /// The state of an installed package, from the versions offered for its architecture.
    fn installed_state(
        &self,
        package: &InstalledPackage,
        offers: &[Available],
        pending: &HashSet<String>,
        options: &ScanOptions,
    ) -> PatchEntry {
        let baseline = &self.snapshot.baseline;
        let mut entry = PatchEntry {
            name: package.name.clone(),
            arch: package.arch.clone(),
            installed_version: Some(package.version.clone()),
            available_version: None,
            state: PatchState::InstalledOther,
            severity: ComplianceLevel::Unspecified,
            classification: "Other".into(),
        };
        if any_matches(&baseline.rejected_patches, &package.name, &package.arch, &package.version) {
            if baseline.rejected_patches_action == RejectedPatchesAction::Block {
                entry.state = PatchState::InstalledRejected;
            }
            return entry;
        }
        let mut best_update: Option<(&Available, ComplianceLevel)> = None;
        let mut installed_approved: Option<(&Available, ComplianceLevel)> = None;
        for offer in offers.iter().filter(|o| o.arch == package.arch) {
            let order = compare(&offer.version, &package.version);
            if order.is_lt() {
                continue;
            }
            let Verdict::Approved(level) = self.verdict(&package.name, offer) else { continue };
            if order.is_eq() {
                installed_approved = installed_approved.or(Some((offer, level)));
            } else if best_update.is_none_or(|(best, _)| compare(&offer.version, &best.version).is_gt()) {
                best_update = Some((offer, level));
            }
        }
        if let Some((offer, level)) = best_update {
            entry.available_version = Some(offer.version.clone());
            entry.severity = level;
            entry.classification = self.classification(offer);
            entry.state = if options.failed.contains(&package.name) { PatchState::Failed } else { PatchState::Missing };
        } else if let Some((offer, level)) = installed_approved {
            entry.severity = level;
            entry.classification = self.classification(offer);
            entry.state = if pending.contains(&package.name) { PatchState::InstalledPendingReboot } else { PatchState::Installed };
        }
        entry
    }

    fn classification(&self, offer: &Available) -> String {
        if self.archives[offer.archive].security { "Security".into() } else { "Other".into() }
    }
}

/// Entries of the approved list whose package is not installed.
fn not_applicable(snapshot: &Snapshot, installed: &[InstalledPackage]) -> Vec<PatchEntry> {
    let baseline = &snapshot.baseline;
    let mut entries: Vec<PatchEntry> = Vec::new();
    for spec in baseline.approved_patches.iter().filter_map(|e| PackageSpec::parse(e).ok()) {
        let is_installed = installed.iter().any(|p| crate::names::wildcard(spec.name, &p.name) && spec.arch.is_none_or(|a| a == p.arch));
        if is_installed || spec.name.contains('*') || entries.iter().any(|e| e.name == spec.name) {
            continue;
        }
        entries.push(PatchEntry {
            name: spec.name.to_string(),
            arch: spec.arch.unwrap_or("").to_string(),
            installed_version: None,
            available_version: spec.version.map(str::to_string),
            state: PatchState::NotApplicable,
            severity: baseline.approved_patches_compliance_level,
            classification: String::new(),
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::baseline::{BaselineSpec, OperatingSystem, PatchRule, predefined};

    fn snapshot(baseline: BaselineSpec) -> Snapshot {
        Snapshot { baseline_id: "pb-test".into(), product: "Debian12".into(), patch_group: None, baseline }
    }

    /// Approves every update, security or not, at once.
    fn approve_all() -> BaselineSpec {
        let mut spec = BaselineSpec::new("all-updates", OperatingSystem::Debian);
        spec.approval_rules.patch_rules.push(PatchRule {
            patch_filter_group: Default::default(),
            compliance_level: ComplianceLevel::Medium,
            approve_after_days: None,
            approve_until_date: None,
            enable_non_security: true,
        });
        spec
    }

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn state_of<'a>(report: &'a Report, name: &str) -> &'a PatchEntry {
        report.patches.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} is not in the report"))
    }

    /// A tiny system: four installed packages, a main archive and a security archive.
    fn tiny_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dpkg = root.path().join("var/lib/dpkg");
        let lists = root.path().join(LISTS_DIR);
        std::fs::create_dir_all(&dpkg).unwrap();
        std::fs::create_dir_all(&lists).unwrap();
        std::fs::create_dir_all(root.path().join("run")).unwrap();
        let installed = |name: &str, version: &str| {
            format!(
                "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\nArchitecture: amd64\nVersion: {version}\nDescription: d\n long\n\n"
            )
        };
        let status = [
            installed("openssl", "3.0.15-1~deb12u1"),
            installed("libc6", "2.36-9+deb12u7"),
            installed("bash", "5.2.15-2+b2"),
            installed("telnet", "0.17+2.4-2"),
            installed("zlib1g", "1:1.2.13.dfsg-1"),
        ]
        .concat();
        std::fs::write(dpkg.join("status"), status).unwrap();
        let offer = |name: &str, version: &str, priority: &str| {
            format!("Package: {name}\nVersion: {version}\nArchitecture: amd64\nSection: libs\nPriority: {priority}\nDescription: d\n\n")
        };
        std::fs::write(
            lists.join("deb_debian_dists_bookworm_InRelease"),
            "Origin: Debian\nLabel: Debian\nSuite: oldstable\nDate: Sat, 10 Jan 2026 10:00:00 UTC\n",
        )
        .unwrap();
        std::fs::write(
            lists.join("deb_debian_dists_bookworm_main_binary-amd64_Packages"),
            [
                offer("bash", "5.2.15-2+b9", "required"),
                offer("libc6", "2.36-9+deb12u7", "required"),
                offer("zlib1g", "1:1.2.13.dfsg-1", "required"),
                offer("unrelated", "9", "optional"),
            ]
            .concat(),
        )
        .unwrap();
        std::fs::write(
            lists.join("sec_debian-security_dists_bookworm-security_InRelease"),
            "Origin: Debian\nLabel: Debian-Security\nSuite: oldstable-security\nDate: Fri, 29 May 2026 10:00:00 UTC\n",
        )
        .unwrap();
        std::fs::write(
            lists.join("sec_debian-security_dists_bookworm-security_main_binary-amd64_Packages"),
            [
                offer("openssl", "3.0.20-1~deb12u1", "optional"),
                offer("openssl", "3.0.16-1~deb12u1", "optional"),
                offer("libc6", "2.36-9+deb12u7", "required"),
                offer("telnet", "0.17+2.4-3", "optional"),
            ]
            .concat(),
        )
        .unwrap();
        root
    }

    fn run(root: &Path, baseline: BaselineSpec) -> Report {
        scan(root, &snapshot(baseline), now(), &ScanOptions { operation: "Scan".into(), ..Default::default() }).unwrap()
    }

    #[test]
    fn the_default_baseline_finds_missing_security_updates() {
        let root = tiny_root();
        let report = run(root.path(), predefined(OperatingSystem::Debian));
        let openssl = state_of(&report, "openssl");
        assert_eq!((openssl.state, openssl.available_version.as_deref()), (PatchState::Missing, Some("3.0.20-1~deb12u1")));
        assert_eq!(openssl.classification, "Security");
        assert_eq!(state_of(&report, "libc6").state, PatchState::Installed, "the installed version is the security archive's");
        assert_eq!(state_of(&report, "bash").state, PatchState::InstalledOther, "a non-security update is not approved");
        assert_eq!(state_of(&report, "zlib1g").state, PatchState::InstalledOther);
        assert_eq!(report.status, crate::ComplianceStatus::NonCompliant);
        assert_eq!((report.missing_count, report.installed_count, report.installed_other_count), (2, 1, 2));
        assert!(report.patches.iter().all(|p| p.name != "unrelated"));
        assert_eq!(report.install_targets(), ["openssl:amd64=3.0.20-1~deb12u1", "telnet:amd64=0.17+2.4-3"]);
    }

    #[test]
    fn approve_after_days_uses_the_archive_date() {
        let root = tiny_root();
        let mut spec = approve_all();
        spec.approval_rules.patch_rules[0].approve_after_days = Some(7);
        let report = run(root.path(), spec);
        // The main archive's index is months old; the security archive's is three days old.
        assert_eq!(state_of(&report, "bash").state, PatchState::Missing);
        assert_eq!(state_of(&report, "openssl").state, PatchState::InstalledOther);
        assert_eq!(state_of(&report, "telnet").state, PatchState::InstalledOther);
    }

    #[test]
    fn the_rejected_list_blocks_or_allows_as_dependency() {
        let root = tiny_root();
        let mut spec = approve_all();
        spec.rejected_patches = vec!["telnet".into(), "openssl=3.0.20-1~deb12u1".into()];
        let report = run(root.path(), spec.clone());
        assert_eq!(state_of(&report, "telnet").state, PatchState::InstalledOther, "ALLOW_AS_DEPENDENCY");
        let openssl = state_of(&report, "openssl");
        assert_eq!((openssl.state, openssl.available_version.as_deref()), (PatchState::Missing, Some("3.0.16-1~deb12u1")));
        spec.rejected_patches_action = RejectedPatchesAction::Block;
        let report = run(root.path(), spec);
        assert_eq!(state_of(&report, "telnet").state, PatchState::InstalledRejected);
    }

    #[test]
    fn priority_filters_choose_the_patches() {
        let root = tiny_root();
        let mut spec = approve_all();
        spec.approval_rules.patch_rules[0].patch_filter_group.patch_filters =
            vec![crate::baseline::PatchFilter { key: crate::baseline::FilterKey::Priority, values: vec!["Required".into()] }];
        let report = run(root.path(), spec);
        assert_eq!(state_of(&report, "bash").state, PatchState::Missing);
        assert_eq!(state_of(&report, "openssl").state, PatchState::InstalledOther);
        assert_eq!(state_of(&report, "libc6").state, PatchState::Installed);
    }

    #[test]
    fn pending_reboots_failures_and_not_applicable() {
        let root = tiny_root();
        std::fs::write(root.path().join(REBOOT_REQUIRED), "").unwrap();
        std::fs::write(root.path().join(REBOOT_REQUIRED_PKGS), "libc6\n").unwrap();
        let mut spec = predefined(OperatingSystem::Debian);
        spec.approved_patches = vec!["nginx".into(), "libc6".into()];
        let failed: HashSet<String> = ["openssl".to_string()].into();
        let report = scan(root.path(), &snapshot(spec), now(), &ScanOptions { operation: "Install".into(), failed }).unwrap();
        assert!(report.reboot_required);
        assert_eq!(state_of(&report, "libc6").state, PatchState::InstalledPendingReboot);
        assert_eq!(state_of(&report, "openssl").state, PatchState::Failed);
        assert_eq!(state_of(&report, "nginx").state, PatchState::NotApplicable);
        assert_eq!((report.failed_count, report.not_applicable_count, report.installed_pending_reboot_count), (1, 1, 1));
    }

    #[test]
    fn a_corrupt_status_database_fails_the_scan_with_its_place() {
        let root = tiny_root();
        std::fs::write(root.path().join(STATUS_FILE), "Package: a\nStatus: install ok installed\n\u{0}\u{1}garbage\n").unwrap();
        let e = scan(root.path(), &snapshot(approve_all()), now(), &ScanOptions::default()).unwrap_err();
        assert!(e.contains("var/lib/dpkg/status:3:"), "{e}");
        std::fs::remove_file(root.path().join(STATUS_FILE)).unwrap();
        let e = scan(root.path(), &snapshot(approve_all()), now(), &ScanOptions::default()).unwrap_err();
        assert!(e.contains("cannot open"), "{e}");
    }

    /// The machine's own status database and apt lists, against what apt itself
    /// would upgrade on the same files (`apt-get -s dist-upgrade`).
    #[test]
    fn the_missing_list_matches_apt_on_this_machines_lists() {
        let has_lists = std::fs::read_dir("/var/lib/apt/lists")
            .is_ok_and(|d| d.flatten().any(|e| e.file_name().to_string_lossy().contains("_Packages")));
        if !std::path::Path::new("/var/lib/dpkg/status").exists()
            || !has_lists
            || Command::new("apt-get").arg("--version").output().is_err()
        {
            eprintln!("skipped: this machine has no dpkg database, apt lists or apt-get");
            return;
        }
        // The root holds the status database and the lists of the sources apt
        // is configured with (the lists directory may keep stale lists of removed sources).
        let root = tempfile::tempdir().unwrap();
        let lists = root.path().join(LISTS_DIR);
        std::fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
        std::fs::create_dir_all(&lists).unwrap();
        std::os::unix::fs::symlink("/var/lib/dpkg/status", root.path().join(STATUS_FILE)).unwrap();
        let targets = Command::new("apt-get").args(["indextargets", "--format", "$(FILENAME)"]).output().unwrap();
        for file in String::from_utf8_lossy(&targets.stdout).lines().filter(|f| f.contains("_Packages")) {
            let file = Path::new(file);
            std::os::unix::fs::symlink(file, lists.join(file.file_name().unwrap())).unwrap();
        }
        for release in
            std::fs::read_dir("/var/lib/apt/lists").unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with("Release"))
        {
            std::os::unix::fs::symlink(release.path(), lists.join(release.file_name())).unwrap();
        }
        let status_option = format!("Dir::State::status={}", root.path().join(STATUS_FILE).display());
        let lists_option = format!("Dir::State::Lists={}", root.path().join(LISTS_DIR).display());
        let output = Command::new("apt-get").args(["-s", "-o", &status_option, "-o", &lists_option, "dist-upgrade"]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        // "Inst openssl [3.0.19-1~deb12u2] (3.0.20-1~deb12u1 Debian:12.14/oldstable [amd64])": an upgrade.
        let mut expected: Vec<(String, String)> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("Inst ")?;
                let (name, rest) = rest.split_once(" [")?;
                let (_, rest) = rest.split_once("] (")?;
                let version = rest.split_whitespace().next()?;
                Some((name.split(':').next().unwrap_or(name).to_string(), version.to_string()))
            })
            .collect();
        expected.sort();
        let report = scan(root.path(), &snapshot(approve_all()), Utc::now(), &ScanOptions::default()).unwrap();
        let mut missing: Vec<(String, String)> = report
            .patches
            .iter()
            .filter(|p| p.state == PatchState::Missing)
            .map(|p| (p.name.clone(), p.available_version.clone().unwrap_or_default()))
            .collect();
        missing.sort();
        assert_eq!(missing, expected);
        assert_eq!(report.installed_count + report.installed_other_count + report.missing_count, report.patches.len());
    }
}
