//! dpkg's status database (`var/lib/dpkg/status`): the packages installed,
//! with version, architecture, section and priority.

use std::io::BufRead;

use crate::stanza::{Stanza, StanzaError, StanzaReader};

/// The largest status database read.
pub const MAX_STATUS_BYTES: u64 = 256 << 20;
/// The most installed packages one scan handles.
pub const MAX_INSTALLED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    pub name: String,
    pub arch: String,
    pub version: String,
    pub section: String,
    pub priority: String,
}

const FIELDS: &[&str] = &["Package", "Status", "Version", "Architecture", "Section", "Priority"];

/// The installed packages of a status database. A package counts as installed
/// when its state is `installed` or waits only for triggers.
pub fn read_status(reader: impl BufRead, file: &str) -> Result<Vec<InstalledPackage>, StanzaError> {
    let mut reader = StanzaReader::new(reader, file, MAX_STATUS_BYTES);
    let mut stanza = Stanza::default();
    let mut installed = Vec::new();
    while reader.next_stanza(FIELDS, &mut stanza, &mut |_, _| true)? {
        let state = stanza.get("Status").and_then(|s| s.split_whitespace().nth(2)).unwrap_or("");
        if !matches!(state, "installed" | "triggers-pending" | "triggers-awaited") {
            continue;
        }
        let (Some(name), Some(version)) = (stanza.get("Package"), stanza.get("Version")) else { continue };
        if installed.len() == MAX_INSTALLED {
            return Err(StanzaError { file: file.into(), line: 0, message: format!("more than {MAX_INSTALLED} installed packages") });
        }
        installed.push(InstalledPackage {
            name: name.to_string(),
            arch: stanza.get("Architecture").unwrap_or("all").to_string(),
            version: version.to_string(),
            section: stanza.get("Section").unwrap_or("").to_string(),
            priority: stanza.get("Priority").unwrap_or("").to_string(),
        });
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_installed_packages_count() {
        let text = "Package: bash\nStatus: install ok installed\nPriority: required\nSection: shells\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n\
                    Package: old\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                    Package: pending\nStatus: install ok triggers-pending\nArchitecture: all\nVersion: 2\n";
        let installed = read_status(text.as_bytes(), "status").unwrap();
        let names: Vec<&str> = installed.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "pending"]);
        assert_eq!(installed[0].priority, "required");
        assert_eq!(installed[1].arch, "all");
    }

    #[test]
    fn a_bad_line_is_an_error_with_its_place() {
        let e = read_status("Package: bash\nStatus: install ok installed\ngarbage\n".as_bytes(), "/var/lib/dpkg/status").unwrap_err();
        assert_eq!(e.to_string(), "/var/lib/dpkg/status:3: \"garbage\" is not a \"Field: value\" line");
    }

    /// The machine's own database, when it has one, reads whole.
    #[test]
    fn this_machines_status_reads() {
        let Ok(file) = std::fs::File::open("/var/lib/dpkg/status") else {
            eprintln!("skipped: no dpkg status database here");
            return;
        };
        let installed = read_status(std::io::BufReader::new(file), "/var/lib/dpkg/status").unwrap();
        assert!(installed.iter().any(|p| p.name == "dpkg"));
    }
}
