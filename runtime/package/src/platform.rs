//! Platforms and architectures as Distributor names them, the node's own
//! (from the OS name and machine the agent reports), and the choice of the
//! archive that fits a node: the exact platform version before its major
//! version before `_any`, and the exact architecture before `_any`.

use serde::{Deserialize, Serialize};

use crate::cut;
use crate::manifest::Manifest;

/// The Linux platforms a manifest may name, as Distributor spells them.
pub const PLATFORMS: &[&str] = &[
    "_any",
    "almalinux",
    "amazon",
    "centos",
    "debian",
    "opensuse",
    "opensuseleap",
    "oracle",
    "raspbian",
    "redhat",
    "rocky",
    "suse",
    "ubuntu",
];
/// Platforms Distributor knows that Bosun's agent does not run on.
const NOT_LINUX: &[&str] = &["windows", "darwin", "macos"];
/// The architectures a manifest may name.
pub const ARCHITECTURES: &[&str] = &["_any", "x86_64", "arm64", "386", "i386", "arm"];

pub(crate) fn check_platform(key: &str) -> Result<(), String> {
    if PLATFORMS.contains(&key) {
        return Ok(());
    }
    if NOT_LINUX.contains(&key) {
        return Err(format!("{key} packages cannot be installed: Bosun nodes run Linux"));
    }
    Err(format!("unknown platform; use one of {}", PLATFORMS.join(", ")))
}

pub(crate) fn check_platform_version(version: &str) -> Result<(), String> {
    let fine = version == "_any"
        || (!version.is_empty()
            && version.len() <= 32
            && version.starts_with(|c: char| c.is_ascii_alphanumeric())
            && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
    if fine { Ok(()) } else { Err("a platform version is \"_any\" or up to 32 letters, digits, '.', '-' and '_'".into()) }
}

pub(crate) fn check_architecture(architecture: &str) -> Result<(), String> {
    if ARCHITECTURES.contains(&architecture) {
        Ok(())
    } else {
        Err(format!("unknown architecture; use one of {}", ARCHITECTURES.join(", ")))
    }
}

/// A node as Distributor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePlatform {
    /// A key of [`PLATFORMS`], or the OS name in lowercase when none fits.
    pub platform: String,
    /// The OS version (`VERSION_ID`), e.g. `24.04`.
    pub version: String,
    /// A key of [`ARCHITECTURES`], or the machine name when none fits.
    pub architecture: String,
}

impl NodePlatform {
    /// The node whose os-release NAME, VERSION_ID and `uname -m` are given.
    pub fn from_os(os_name: &str, os_version: &str, machine: &str) -> NodePlatform {
        let name = os_name.to_ascii_lowercase();
        let known = [
            ("opensuse leap", "opensuseleap"),
            ("opensuse", "opensuse"),
            ("ubuntu", "ubuntu"),
            ("raspbian", "raspbian"),
            ("debian", "debian"),
            ("amazon", "amazon"),
            ("centos", "centos"),
            ("red hat", "redhat"),
            ("rocky", "rocky"),
            ("alma", "almalinux"),
            ("oracle", "oracle"),
            ("sles", "suse"),
            ("suse", "suse"),
        ];
        let platform = known.iter().find(|(part, _)| name.contains(part)).map_or(name.clone(), |(_, key)| key.to_string());
        let architecture = match machine {
            "x86_64" | "amd64" => "x86_64",
            "aarch64" | "arm64" => "arm64",
            "i386" | "i486" | "i586" | "i686" => "386",
            m if m.starts_with("arm") => "arm",
            other => other,
        };
        NodePlatform { platform, version: os_version.to_string(), architecture: architecture.to_string() }
    }
}

/// The archive chosen for a node, and the keys that chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selected {
    pub file: String,
    pub sha256: String,
    pub platform: String,
    pub platform_version: String,
    pub architecture: String,
}

/// The archive of `manifest` for `node`, or why there is none.
pub fn select(manifest: &Manifest, node: &NodePlatform) -> Result<Selected, String> {
    let major = node.version.split('.').next().unwrap_or_default();
    let versions = [node.version.as_str(), major, "_any"];
    let mut architectures = vec![node.architecture.as_str()];
    if node.architecture == "386" {
        architectures.push("i386");
    }
    architectures.push("_any");
    for platform in [node.platform.as_str(), "_any"] {
        let Some(by_version) = manifest.packages.0.get(platform) else { continue };
        for version in versions.iter().filter(|v| !v.is_empty()) {
            let Some(by_architecture) = by_version.0.get(*version) else { continue };
            for architecture in &architectures {
                if let Some(target) = by_architecture.0.get(*architecture) {
                    let sha256 = manifest.sha256_of(&target.file).ok_or_else(|| format!("{} is not listed in files", cut(&target.file)))?;
                    return Ok(Selected {
                        file: target.file.clone(),
                        sha256: sha256.to_string(),
                        platform: platform.to_string(),
                        platform_version: version.to_string(),
                        architecture: architecture.to_string(),
                    });
                }
            }
        }
    }
    Err(format!(
        "version {} has no archive for {} {} on {}; it has: {}",
        manifest.version,
        node.platform,
        node.version,
        node.architecture,
        offered(manifest).join(", ")
    ))
}

/// Every platform/version/architecture a manifest offers, for messages.
pub fn offered(manifest: &Manifest) -> Vec<String> {
    let mut all = Vec::new();
    for (platform, versions) in &manifest.packages.0 {
        for (version, architectures) in &versions.0 {
            for architecture in architectures.0.keys() {
                all.push(format!("{platform} {version} {architecture}"));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn manifest() -> Manifest {
        let file = |name: &str| format!(r#""{name}":{{"checksums":{{"sha256":"{SHA}"}}}}"#);
        let text = format!(
            r#"{{"schemaVersion":"2.0","version":"2.1","packages":{{
                "ubuntu":{{"24.04":{{"x86_64":{{"file":"u2404.zip"}}}},"22":{{"_any":{{"file":"u22.zip"}}}},"_any":{{"arm64":{{"file":"uarm.zip"}}}}}},
                "_any":{{"_any":{{"386":{{"file":"any386.zip"}}}}}}}},
              "files":{{{},{},{},{}}}}}"#,
            file("u2404.zip"),
            file("u22.zip"),
            file("uarm.zip"),
            file("any386.zip")
        );
        Manifest::parse(&text).unwrap()
    }

    #[test]
    fn nodes_are_named_as_distributor_names_them() {
        assert_eq!(NodePlatform::from_os("Ubuntu", "24.04", "x86_64").platform, "ubuntu");
        assert_eq!(
            NodePlatform::from_os("Debian GNU/Linux", "12", "aarch64"),
            NodePlatform { platform: "debian".into(), version: "12".into(), architecture: "arm64".into() }
        );
        assert_eq!(NodePlatform::from_os("Red Hat Enterprise Linux", "9.4", "x86_64").platform, "redhat");
        assert_eq!(NodePlatform::from_os("openSUSE Leap", "15.5", "i686").platform, "opensuseleap");
        assert_eq!(NodePlatform::from_os("Amazon Linux", "2023", "i686").architecture, "386");
        assert_eq!(NodePlatform::from_os("Plan 9", "4", "mips").platform, "plan 9");
    }

    #[test]
    fn the_most_specific_archive_wins() {
        let m = manifest();
        let pick = |name: &str, version: &str, machine: &str| select(&m, &NodePlatform::from_os(name, version, machine)).map(|s| s.file);
        assert_eq!(pick("Ubuntu", "24.04", "x86_64").unwrap(), "u2404.zip");
        assert_eq!(pick("Ubuntu", "22.04", "x86_64").unwrap(), "u22.zip", "the major version");
        assert_eq!(pick("Ubuntu", "20.04", "aarch64").unwrap(), "uarm.zip", "_any version");
        assert_eq!(pick("Debian GNU/Linux", "12", "i686").unwrap(), "any386.zip", "_any platform");
        let none = pick("Ubuntu", "20.04", "x86_64").unwrap_err();
        assert!(none.contains("no archive for ubuntu 20.04 on x86_64") && none.contains("ubuntu 24.04 x86_64"), "{none}");
    }
}
