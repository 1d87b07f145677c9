//! The services collector: `AWS:Service`, one entry per systemd service unit
//! file found in the vendor directory (`/usr/lib/systemd/system`) and the
//! administrator's (`/etc/systemd/system`, which wins for a name in both).
//! StartType is `Masked` (a link to /dev/null), `Enabled` (linked from a
//! `*.wants` or `*.requires` directory of /etc/systemd/system), `Static` (no
//! [Install] section) or `Disabled`; Status is `Running` when systemd keeps an
//! invocation record of it in /run/systemd/units, else `Stopped`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bosun_plugin_sdk::{Host, InventoryItem, PluginError};
use serde::Deserialize;

pub const VENDOR_UNITS: &str = "/usr/lib/systemd/system";
pub const ADMIN_UNITS: &str = "/etc/systemd/system";
pub const RUNNING: &str = "/run/systemd/units";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {}

/// One service unit as read from its file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unit {
    pub description: String,
    pub service_type: String,
    pub installable: bool,
    pub masked: bool,
    pub requires: String,
}

pub fn collect(_input: Input, _host: &Host) -> Result<Vec<InventoryItem>, PluginError> {
    let dirs = Dirs { vendor: VENDOR_UNITS, admin: ADMIN_UNITS, running: RUNNING };
    Ok(vec![InventoryItem::now("AWS:Service", "1.0").entry_list(services(&dirs)?)])
}

/// Where units are read from.
pub struct Dirs<'a> {
    pub vendor: &'a str,
    pub admin: &'a str,
    pub running: &'a str,
}

/// The entries of every service unit in `dirs`.
pub fn services(dirs: &Dirs) -> Result<Vec<Vec<(String, String)>>, PluginError> {
    let mut units: BTreeMap<String, Unit> = BTreeMap::new();
    let mut enabled = BTreeSet::new();
    let mut seen_any = false;
    for dir in [dirs.vendor, dirs.admin] {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(bosun_plugin_sdk::fs::io_error("list", dir, &e)),
        };
        seen_any = true;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if (name.ends_with(".wants") || name.ends_with(".requires")) && dir == dirs.admin {
                if let Ok(links) = std::fs::read_dir(&path) {
                    enabled.extend(links.flatten().map(|l| l.file_name().to_string_lossy().into_owned()));
                }
                continue;
            }
            if !name.ends_with(".service") || name.contains('@') {
                continue;
            }
            units.insert(name, read_unit(&path));
        }
    }
    if !seen_any {
        return Err(PluginError::failed(format!(
            "no systemd unit directory: {} and {} are absent or not granted",
            dirs.vendor, dirs.admin
        )));
    }
    Ok(units
        .into_iter()
        .map(|(name, unit)| {
            let start = if unit.masked {
                "Masked"
            } else if enabled.contains(&name) {
                "Enabled"
            } else if !unit.installable {
                "Static"
            } else {
                "Disabled"
            };
            let running = Path::new(dirs.running).join(format!("invocation:{name}")).symlink_metadata().is_ok();
            let mut entry = vec![
                ("Name".to_string(), name.trim_end_matches(".service").to_string()),
                ("DisplayName".to_string(), unit.description),
                ("ServiceType".to_string(), if unit.service_type.is_empty() { "simple".into() } else { unit.service_type }),
                ("StartType".to_string(), start.to_string()),
                ("Status".to_string(), if running { "Running" } else { "Stopped" }.to_string()),
            ];
            if !unit.requires.is_empty() {
                entry.push(("ServicesDependedOn".to_string(), unit.requires));
            }
            entry
        })
        .collect())
}

/// Reads a unit file; a link to /dev/null (or an unreadable link) is a masked unit.
fn read_unit(path: &Path) -> Unit {
    if let Ok(target) = std::fs::read_link(path)
        && target == Path::new("/dev/null")
    {
        return Unit { masked: true, ..Unit::default() };
    }
    std::fs::read_to_string(path).map(|text| parse_unit(&text)).unwrap_or_default()
}

/// The fields of a unit file this collector reports.
pub fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::default();
    let mut section = "";
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            section = line;
            unit.installable |= section == "[Install]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        match (section, key.trim()) {
            ("[Unit]", "Description") => unit.description = value.trim().to_string(),
            ("[Unit]", "Requires") => unit.requires = value.trim().to_string(),
            ("[Service]", "Type") => unit.service_type = value.trim().to_string(),
            _ => {}
        }
    }
    unit
}

bosun_plugin_sdk::export_inventory!(collect);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_read_with_their_start_type_and_status() {
        let root = tempfile::tempdir().unwrap();
        let (vendor, admin, running) = (root.path().join("lib"), root.path().join("etc"), root.path().join("run"));
        for dir in [&vendor, &admin, &running, &admin.join("multi-user.target.wants")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(
            vendor.join("ssh.service"),
            "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nType=notify\n[Install]\nWantedBy=multi-user.target\n",
        )
        .unwrap();
        std::fs::write(vendor.join("fstrim.service"), "[Unit]\nDescription=Discard unused blocks\n[Service]\nType=oneshot\n").unwrap();
        std::fs::write(vendor.join("cron.service"), "[Unit]\nDescription=cron\n[Install]\nWantedBy=multi-user.target\n").unwrap();
        std::fs::write(vendor.join("getty@.service"), "[Unit]\nDescription=template\n").unwrap();
        std::os::unix::fs::symlink("/dev/null", admin.join("cups.service")).unwrap();
        std::os::unix::fs::symlink(vendor.join("ssh.service"), admin.join("multi-user.target.wants/ssh.service")).unwrap();
        std::os::unix::fs::symlink("x", running.join("invocation:ssh.service")).unwrap();
        let dirs = Dirs { vendor: vendor.to_str().unwrap(), admin: admin.to_str().unwrap(), running: running.to_str().unwrap() };
        let entries = services(&dirs).unwrap();
        let row = |name: &str| entries.iter().find(|e| e[0].1 == name).unwrap_or_else(|| panic!("{name}: {entries:?}")).clone();
        assert_eq!(entries.len(), 4, "{entries:?}");
        let ssh = row("ssh");
        assert_eq!(ssh[1].1, "OpenBSD Secure Shell server");
        assert_eq!((ssh[2].1.as_str(), ssh[3].1.as_str(), ssh[4].1.as_str()), ("notify", "Enabled", "Running"));
        assert_eq!((row("fstrim")[3].1.as_str(), row("fstrim")[4].1.as_str()), ("Static", "Stopped"));
        assert_eq!(row("cron")[3].1, "Disabled");
        assert_eq!(row("cups")[3].1, "Masked");
    }

    #[test]
    fn no_unit_directory_is_an_error_naming_them() {
        let dirs = Dirs { vendor: "/nonexistent/a", admin: "/nonexistent/b", running: "/nonexistent/c" };
        let e = services(&dirs).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/a and /nonexistent/b"), "{e}");
    }
}
