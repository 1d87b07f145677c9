//! `aws:configurePackage`: installs, updates or uninstalls a Distributor package
//! on the node. It asks the control plane for the version (relative URLs; the
//! host adds the node's credential), picks the archive for the node's platform,
//! downloads it in pieces while hashing (`fetch.rs`; a wrong sha256 is refused
//! before anything is unpacked), unpacks it under the install root and runs its
//! scripts through `exec` (`scripts.rs`), and keeps a record of what it put
//! there with every file's hash (`record.rs`). A run that finds the same version
//! with every file intact does nothing; a file removed or changed by hand makes
//! it unpack and install that version again.

mod fetch;
mod record;
mod scripts;

use std::path::{Path, PathBuf};

use bosun_package::archive::{INSTALL_SCRIPT, UNINSTALL_SCRIPT, UPDATE_SCRIPT};
use bosun_package::{ArchiveLimits, NodePlatform};
use bosun_plugin_sdk::{Host, PluginError};
use serde::{Deserialize, Serialize};

use record::Record;

/// Where packages go when the step names no install root.
pub const DEFAULT_ROOT: &str = "/var/lib/bosun/packages";
/// What one archive may unpack to on a node.
const LIMITS: ArchiveLimits = ArchiveLimits { max_entries: 10_000, max_unpacked_bytes: 2 << 30 };

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PackageAction {
    Install,
    Uninstall,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum InstallationType {
    #[default]
    #[serde(rename = "Uninstall and reinstall")]
    UninstallAndReinstall,
    #[serde(rename = "In-place update")]
    InPlaceUpdate,
}

/// The inputs, as AWS's `aws:configurePackage` names them (and `installRoot`, Bosun's).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    pub name: String,
    pub action: PackageAction,
    #[serde(default)]
    pub installation_type: InstallationType,
    /// Empty or absent: the latest version.
    #[serde(default)]
    pub version: Option<String>,
    /// `{"SSM_name": "value"}`, as an object or as JSON text: environment variables of the scripts.
    #[serde(default)]
    pub additional_arguments: Option<serde_json::Value>,
    #[serde(default)]
    pub install_root: Option<String>,
}

/// What became of the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Installed,
    AlreadyInstalled,
    /// The installed version had files removed or changed: it was installed again.
    Repaired,
    Updated,
    Uninstalled,
    NotInstalled,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub name: String,
    pub version: String,
    pub outcome: Outcome,
    /// The installed files found removed or changed, relative to the version's directory.
    pub drift: Vec<String>,
    /// `platform version architecture` of the archive used.
    pub platform: String,
}

/// The package's directories on the node.
pub(crate) struct Layout {
    pub root: PathBuf,
    pub name: String,
}

impl Layout {
    pub fn package_dir(&self) -> PathBuf {
        self.root.join(&self.name)
    }
    pub fn version_dir(&self, version: &str) -> PathBuf {
        self.package_dir().join(version)
    }
    pub fn downloads(&self) -> PathBuf {
        self.root.join(".downloads")
    }
}

pub fn configure(input: Input, host: &Host) -> Result<Output, PluginError> {
    bosun_package::check_package_name(&input.name).map_err(PluginError::invalid_input)?;
    let version = input.version.clone().filter(|v| !v.trim().is_empty());
    if let Some(v) = &version {
        bosun_package::check_version_name(v).map_err(PluginError::invalid_input)?;
    }
    let root = input.install_root.clone().unwrap_or_else(|| DEFAULT_ROOT.to_string());
    if !root.starts_with('/') || root.split('/').any(|part| part == ".." || part == ".") {
        return Err(PluginError::invalid_input(format!("installRoot {root:?} must be an absolute path without '.' or '..'")));
    }
    let environment = scripts::environment(input.additional_arguments.as_ref())?;
    let layout = Layout { root: PathBuf::from(root), name: input.name.clone() };
    for dir in [layout.package_dir(), layout.downloads()] {
        std::fs::create_dir_all(&dir).map_err(|e| bosun_plugin_sdk::fs::io_error("create", &dir.display().to_string(), &e))?;
    }
    let installed = record::read(&layout)?;
    match input.action {
        PackageAction::Install => install(host, &layout, version.as_deref(), input.installation_type, installed, &environment),
        PackageAction::Uninstall => uninstall(host, &layout, version.as_deref(), installed, &environment),
    }
}

/// A version fetched and unpacked into its directory, not yet installed.
struct Unpacked {
    version: String,
    record: Record,
    platform: String,
}

/// Fetches `version` (the latest when none), checks it, and unpacks it into its directory.
fn fetch_and_unpack(host: &Host, layout: &Layout, version: Option<&str>) -> Result<Unpacked, PluginError> {
    let package = fetch::package(host, &layout.name, version)?;
    let node = NodePlatform {
        platform: package.node.platform.clone(),
        version: package.node.version.clone(),
        architecture: package.node.architecture.clone(),
    };
    let manifest = bosun_package::Manifest::parse(&package.manifest.to_string())
        .map_err(|p| PluginError::failed(format!("the control plane sent a manifest that is not valid: {}", p[0])))?;
    let selected =
        bosun_package::platform::select(&manifest, &node).map_err(|m| PluginError::failed(format!("package {}: {m}", layout.name)))?;
    let archive = fetch::archive(host, layout, &package.version, &selected.file, &selected.sha256)?;
    let dir = layout.version_dir(&package.version);
    remove_dir(&dir)?;
    std::fs::create_dir_all(&dir).map_err(|e| PluginError::failed(format!("cannot create {}: {e}", dir.display())))?;
    let opened = std::fs::File::open(&archive).map_err(|e| PluginError::failed(format!("cannot open {}: {e}", archive.display())))?;
    let unpacked = bosun_package::archive::unpack(opened, &dir, LIMITS);
    let _ = std::fs::remove_file(&archive);
    let files =
        unpacked.map_err(|m| PluginError::failed(format!("the archive {} of {} {}: {m}", selected.file, layout.name, package.version)))?;
    let platform = format!("{} {} {}", selected.platform, selected.platform_version, selected.architecture);
    let record =
        Record { name: layout.name.clone(), version: package.version.clone(), file: selected.file, sha256: selected.sha256, files };
    Ok(Unpacked { version: package.version, record, platform })
}

fn remove_dir(dir: &Path) -> Result<(), PluginError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PluginError::failed(format!("cannot remove {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

fn install(
    host: &Host,
    layout: &Layout,
    version: Option<&str>,
    installation_type: InstallationType,
    installed: Option<Record>,
    environment: &[(String, String)],
) -> Result<Output, PluginError> {
    let wanted = match version {
        Some(v) => v.to_string(),
        None => fetch::package(host, &layout.name, None)?.version,
    };
    let output = |unpacked: &Unpacked, outcome: Outcome, drift: Vec<String>| Output {
        name: layout.name.clone(),
        version: unpacked.version.clone(),
        outcome,
        drift,
        platform: unpacked.platform.clone(),
    };
    match installed {
        Some(current) if current.version == wanted => {
            let drift = record::drift(&layout.version_dir(&current.version), &current);
            if drift.is_empty() {
                host.info(&format!("{} {} is installed and every file is as installed", layout.name, current.version));
                return Ok(Output {
                    name: layout.name.clone(),
                    version: current.version,
                    outcome: Outcome::AlreadyInstalled,
                    drift,
                    platform: String::new(),
                });
            }
            host.warn(&format!(
                "{} {}: {} file(s) removed or changed by hand; installing again",
                layout.name,
                current.version,
                drift.len()
            ));
            record::remove(layout)?;
            let unpacked = fetch_and_unpack(host, layout, Some(&wanted))?;
            scripts::run(host, &layout.version_dir(&unpacked.version), INSTALL_SCRIPT, environment)?;
            record::write(layout, &unpacked.record)?;
            Ok(output(&unpacked, Outcome::Repaired, drift))
        }
        Some(current) => {
            // The new version is fetched and checked before the installed one is touched.
            let unpacked = fetch_and_unpack(host, layout, Some(&wanted))?;
            let new_dir = layout.version_dir(&unpacked.version);
            let old_dir = layout.version_dir(&current.version);
            record::remove(layout)?;
            match installation_type {
                InstallationType::UninstallAndReinstall => {
                    uninstall_version(host, layout, &current, environment)?;
                    scripts::run(host, &new_dir, INSTALL_SCRIPT, environment)?;
                }
                InstallationType::InPlaceUpdate => {
                    let has_update = unpacked.record.files.iter().any(|f| f.path == UPDATE_SCRIPT);
                    scripts::run(host, &new_dir, if has_update { UPDATE_SCRIPT } else { INSTALL_SCRIPT }, environment)?;
                    remove_dir(&old_dir)?;
                }
            }
            record::write(layout, &unpacked.record)?;
            host.info(&format!("{} {} replaced {}", layout.name, unpacked.version, current.version));
            Ok(output(&unpacked, Outcome::Updated, Vec::new()))
        }
        None => {
            let unpacked = fetch_and_unpack(host, layout, Some(&wanted))?;
            scripts::run(host, &layout.version_dir(&unpacked.version), INSTALL_SCRIPT, environment)?;
            record::write(layout, &unpacked.record)?;
            Ok(output(&unpacked, Outcome::Installed, Vec::new()))
        }
    }
}

/// Runs the uninstall script of an installed version (unpacked again first when
/// its files drifted) and removes its directory.
fn uninstall_version(host: &Host, layout: &Layout, current: &Record, environment: &[(String, String)]) -> Result<(), PluginError> {
    let dir = layout.version_dir(&current.version);
    if !record::drift(&dir, current).is_empty() {
        host.warn(&format!(
            "{} {}: files changed since it was installed; unpacking it again to uninstall it",
            layout.name, current.version
        ));
        fetch_and_unpack(host, layout, Some(&current.version))?;
    }
    scripts::run(host, &dir, UNINSTALL_SCRIPT, environment)?;
    remove_dir(&dir)
}

fn uninstall(
    host: &Host,
    layout: &Layout,
    version: Option<&str>,
    installed: Option<Record>,
    environment: &[(String, String)],
) -> Result<Output, PluginError> {
    let Some(current) = installed else {
        host.info(&format!("{} is not installed", layout.name));
        return Ok(Output {
            name: layout.name.clone(),
            version: version.unwrap_or_default().to_string(),
            outcome: Outcome::NotInstalled,
            drift: Vec::new(),
            platform: String::new(),
        });
    };
    if let Some(v) = version.filter(|v| *v != current.version) {
        return Err(PluginError::failed(format!("{} {} is installed, not {v}: nothing was uninstalled", layout.name, current.version)));
    }
    uninstall_version(host, layout, &current, environment)?;
    record::remove(layout)?;
    Ok(Output {
        name: layout.name.clone(),
        version: current.version,
        outcome: Outcome::Uninstalled,
        drift: Vec::new(),
        platform: String::new(),
    })
}

bosun_plugin_sdk::export_action!("aws:configurePackage" => configure);

#[cfg(test)]
mod tests;
