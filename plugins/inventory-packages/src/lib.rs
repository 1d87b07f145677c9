//! The packages collector: `AWS:Application`, one entry per installed package,
//! read from the dpkg status database (`/var/lib/dpkg/status`, through a
//! read-only preopen) and from the rpm database through `rpm -qa` (a granted
//! program: the rpm database is a SQLite or Berkeley DB file that only rpm
//! reads reliably). A node with neither is an error naming both.

use bosun_plugin_sdk::{ExecRequest, Host, InventoryItem, Level, PluginError};
use serde::Deserialize;

pub const TYPE_NAME: &str = "AWS:Application";
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
pub const RPM: &str = "/usr/bin/rpm";
/// What `rpm -qa` prints for each package: tab-separated fields, one package a line.
pub const RPM_FORMAT: &str =
    "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{EPOCHNUM}\\t%{ARCH}\\t%{INSTALLTIME}\\t%{VENDOR}\\t%{URL}\\t%{SUMMARY}\\n";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {}

pub fn collect(_input: Input, host: &Host) -> Result<Vec<InventoryItem>, PluginError> {
    let mut item = InventoryItem::now(TYPE_NAME, "1.1");
    let mut found = Vec::new();
    match std::fs::read_to_string(DPKG_STATUS) {
        Ok(text) => {
            item.content.extend(parse_dpkg_status(&text));
            found.push("dpkg");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bosun_plugin_sdk::fs::io_error("read", DPKG_STATUS, &e)),
    }
    let rpm = host.exec(&ExecRequest::new(RPM).args(["-qa", "--queryformat", RPM_FORMAT]));
    match rpm {
        Ok(out) if out.exit_code == 0 => {
            item.content.extend(parse_rpm(&String::from_utf8_lossy(&out.stdout)));
            found.push("rpm");
        }
        Ok(out) => host.log(
            Level::Warn,
            "rpm -qa failed",
            &[("exit_code", &out.exit_code.to_string()), ("stderr", &String::from_utf8_lossy(&out.stderr))],
        ),
        // No rpm on this node, or not granted: the dpkg database may be the node's.
        Err(e) => host.log(Level::Debug, "rpm not run", &[("reason", &e.to_string())]),
    }
    if found.is_empty() {
        return Err(PluginError::failed(format!(
            "no package database: {DPKG_STATUS} is absent or not granted (fs:ro:/var/lib/dpkg), and {RPM} could not be run"
        )));
    }
    host.log(Level::Info, "packages collected", &[("count", &item.content.len().to_string()), ("from", &found.join(","))]);
    Ok(vec![item])
}

/// The installed packages of a dpkg status file: paragraphs whose Status ends
/// in `installed`, with the fields AWS:Application names.
pub fn parse_dpkg_status(text: &str) -> Vec<Vec<(String, String)>> {
    let mut entries = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut fields: Vec<(&str, String)> = Vec::new();
        for line in paragraph.lines() {
            if line.starts_with([' ', '\t']) {
                continue; // a continuation line (long descriptions, conffiles)
            }
            if let Some((key, value)) = line.split_once(':') {
                fields.push((key, value.trim().to_string()));
            }
        }
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        let installed = get("Status").is_some_and(|s| s.split_whitespace().last() == Some("installed"));
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else { continue };
        if !installed {
            continue;
        }
        let mut entry = vec![("Name".to_string(), name), ("Version".to_string(), version), ("PackageId".to_string(), "dpkg".to_string())];
        for (from, to) in [
            ("Architecture", "Architecture"),
            ("Maintainer", "Publisher"),
            ("Section", "ApplicationType"),
            ("Homepage", "URL"),
            ("Description", "Summary"),
        ] {
            if let Some(value) = get(from).filter(|v| !v.is_empty()) {
                entry.push((to.to_string(), value));
            }
        }
        entries.push(entry);
    }
    entries
}

/// The packages `rpm -qa --queryformat RPM_FORMAT` printed.
pub fn parse_rpm(text: &str) -> Vec<Vec<(String, String)>> {
    text.lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split('\t').collect();
            let [name, version, epoch, arch, installed, vendor, url, summary] = parts[..] else { return None };
            let mut entry = vec![("Name".to_string(), name.to_string())];
            let version = if epoch.is_empty() || epoch == "0" { version.to_string() } else { format!("{epoch}:{version}") };
            entry.push(("Version".into(), version));
            entry.push(("PackageId".into(), "rpm".into()));
            for (key, value) in [("Architecture", arch), ("Publisher", vendor), ("URL", url), ("Summary", summary)] {
                if !value.is_empty() && value != "(none)" {
                    entry.push((key.to_string(), value.to_string()));
                }
            }
            if let Ok(seconds) = installed.parse::<u64>() {
                entry.push(("InstalledTime".into(), bosun_plugin_sdk::rfc3339_utc(seconds)));
            }
            Some(entry)
        })
        .collect()
}

bosun_plugin_sdk::export_inventory!(collect);

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(entry: &'a [(String, String)], key: &str) -> Option<&'a str> {
        entry.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn dpkg_paragraphs_become_entries_and_removed_packages_are_left_out() {
        let text = "Package: openssl\nStatus: install ok installed\nPriority: optional\nSection: utils\nArchitecture: amd64\nMaintainer: Debian OpenSSL Team <x@y>\nVersion: 3.0.15-1~deb12u1\nDescription: Secure Sockets Layer toolkit\n cryptographic utility\n .\n more\nHomepage: https://www.openssl.org/\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9\n";
        let entries = parse_dpkg_status(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(field(&entries[0], "Name"), Some("openssl"));
        assert_eq!(field(&entries[0], "Version"), Some("3.0.15-1~deb12u1"));
        assert_eq!(field(&entries[0], "Summary"), Some("Secure Sockets Layer toolkit"));
        assert_eq!(field(&entries[0], "URL"), Some("https://www.openssl.org/"));
        assert_eq!(field(&entries[0], "ApplicationType"), Some("utils"));
        assert_eq!(field(&entries[1], "Name"), Some("libc6"));
        assert_eq!(field(&entries[1], "Architecture"), None);
    }

    #[test]
    fn rpm_lines_become_entries_with_epoch_and_time() {
        let text = "bash\t5.1.8-9.el9\t0\tx86_64\t1700000000\tRed Hat, Inc.\thttps://www.gnu.org/software/bash\tThe GNU Bourne Again shell\nopenssl\t3.0.7-27.el9\t1\tx86_64\t1700000001\t(none)\t\tUtilities\nbroken line\n";
        let entries = parse_rpm(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(field(&entries[0], "Version"), Some("5.1.8-9.el9"));
        assert_eq!(field(&entries[0], "InstalledTime"), Some("2023-11-14T22:13:20Z"));
        assert_eq!(field(&entries[1], "Version"), Some("1:3.0.7-27.el9"));
        assert_eq!(field(&entries[1], "Publisher"), None);
    }

    #[test]
    fn the_manifest_is_an_inventory_manifest() {
        let manifest = bosun_plugin_manifest::Manifest::from_json(include_str!("../bosun-plugin.json")).unwrap();
        assert_eq!(manifest.kind, bosun_plugin_manifest::PluginKind::Inventory);
        assert!(manifest.capabilities.contains(&"fs:ro:/var/lib/dpkg".to_string()));
    }
}
