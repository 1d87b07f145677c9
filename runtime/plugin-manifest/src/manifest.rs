//! The manifest: a plugin's name, version, ABI, the actions it implements with
//! their input schemas, the capabilities it asks for, and its default limits.
//! Authors write it as `bosun-plugin.json`; it travels inside the component.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grant::{Grant, GrantError};

/// The WIT package version this crate describes.
pub const ABI_VERSION: &str = "0.1.0";
/// The ABI major a host speaks: for 0.x, the minor number is the major one.
pub const ABI_MAJOR: &str = "0.1";
/// Every ABI major this host loads.
pub const SUPPORTED_ABI: &[&str] = &[ABI_MAJOR];

const MAX_MEMORY_MIB: u32 = 4096;
const MAX_TIMEOUT_SECONDS: u32 = 24 * 3600;
const MAX_OUTPUT_KIB: u32 = 64 * 1024;
const MAX_ACTIONS: usize = 256;
const MAX_CAPABILITIES: usize = 256;
const MAX_TEXT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Manifest {
    /// `read-file`, or with an owner: `acme/backup`.
    pub name: String,
    /// Semantic version: MAJOR.MINOR.PATCH with an optional -prerelease.
    pub version: String,
    /// The ABI the plugin was built for, e.g. `0.1`.
    pub abi: String,
    #[serde(default)]
    pub kind: PluginKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    /// Capabilities the plugin asks for, in the grant syntax.
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Exports the `action` interface.
    #[default]
    Action,
    /// Exports the `collector` interface.
    Inventory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct ActionSpec {
    /// `aws:createImage`, `bosun:readFile`, `plugin:acme/backup`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A JSON Schema the step's inputs must satisfy; none accepts any object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// True when running the action twice has the effect of running it once.
    #[serde(default)]
    pub idempotent: bool,
}

/// Limits on every call. The operator may lower or raise them at install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, default)]
pub struct Limits {
    pub memory_mib: u32,
    pub timeout_seconds: u32,
    /// The largest outputs JSON a call may return, in KiB.
    pub output_kib: u32,
    /// Optional instruction budget (wasmtime fuel); none for no budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_mib: 64, timeout_seconds: 60, output_kib: 1024, fuel: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not valid JSON: {0}")]
    Json(String),
    #[error("manifest field `{field}`: {reason}")]
    Field { field: String, reason: String },
    #[error(
        "the plugin was built for ABI bosun:plugin@{plugin}, which this host does not speak (it speaks {}); rebuild the plugin against a supported SDK",
        .host.join(", ")
    )]
    UnsupportedAbi { plugin: String, host: Vec<String> },
    #[error("manifest capability {0}")]
    Capability(#[from] GrantError),
}

fn field(field: impl Into<String>, reason: impl Into<String>) -> ManifestError {
    ManifestError::Field { field: field.into(), reason: reason.into() }
}

/// `0.1.3` and `0.1` give `0.1`; `1.2.0` gives `1`.
pub fn abi_major(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse::<u32>().ok()?;
    let minor = parts.next().map(str::parse::<u32>);
    match (major, minor) {
        (0, Some(Ok(minor))) => Some(format!("0.{minor}")),
        (0, _) => None,
        (major, None | Some(Ok(_))) => Some(major.to_string()),
        (_, Some(Err(_))) => None,
    }
}

impl Manifest {
    /// Parses and checks a manifest, reporting the first problem.
    pub fn from_json(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?;
        manifest.check()?;
        Ok(manifest)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a manifest always serialises")
    }

    /// The capabilities asked for, parsed.
    pub fn requested(&self) -> Result<Vec<Grant>, ManifestError> {
        self.capabilities.iter().map(|c| Grant::parse(c).map_err(ManifestError::from)).collect()
    }

    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    pub fn check(&self) -> Result<(), ManifestError> {
        check_plugin_name(&self.name)?;
        check_version(&self.version)?;
        let major = abi_major(&self.abi).ok_or_else(|| field("abi", format!("\"{}\" is not a version such as 0.1", self.abi)))?;
        if !SUPPORTED_ABI.contains(&major.as_str()) {
            return Err(ManifestError::UnsupportedAbi {
                plugin: self.abi.clone(),
                host: SUPPORTED_ABI.iter().map(|s| s.to_string()).collect(),
            });
        }
        if self.description.len() > MAX_TEXT {
            return Err(field("description", "longer than 4096 bytes"));
        }
        match self.kind {
            PluginKind::Action if self.actions.is_empty() => {
                return Err(field("actions", "an action plugin must implement at least one action"));
            }
            PluginKind::Inventory if !self.actions.is_empty() => {
                return Err(field("actions", "an inventory plugin implements no actions"));
            }
            _ => {}
        }
        if self.actions.len() > MAX_ACTIONS {
            return Err(field("actions", "more than 256 actions"));
        }
        for (i, action) in self.actions.iter().enumerate() {
            let at = format!("actions[{i}]");
            check_action_name(&action.name).map_err(|r| field(format!("{at}.name"), r))?;
            if self.actions[..i].iter().any(|a| a.name == action.name) {
                return Err(field(format!("{at}.name"), format!("\"{}\" is listed twice", action.name)));
            }
            if action.description.len() > MAX_TEXT {
                return Err(field(format!("{at}.description"), "longer than 4096 bytes"));
            }
            if let Some(schema) = &action.input_schema
                && !schema.is_object()
                && !schema.is_boolean()
            {
                return Err(field(format!("{at}.input_schema"), "a JSON Schema is an object or a boolean"));
            }
        }
        if self.capabilities.len() > MAX_CAPABILITIES {
            return Err(field("capabilities", "more than 256 capabilities"));
        }
        self.requested()?;
        self.limits.check()
    }
}

impl Limits {
    pub fn check(&self) -> Result<(), ManifestError> {
        if !(1..=MAX_MEMORY_MIB).contains(&self.memory_mib) {
            return Err(field("limits.memory_mib", format!("must be between 1 and {MAX_MEMORY_MIB}")));
        }
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&self.timeout_seconds) {
            return Err(field("limits.timeout_seconds", format!("must be between 1 and {MAX_TIMEOUT_SECONDS}")));
        }
        if !(1..=MAX_OUTPUT_KIB).contains(&self.output_kib) {
            return Err(field("limits.output_kib", format!("must be between 1 and {MAX_OUTPUT_KIB}")));
        }
        if self.fuel == Some(0) {
            return Err(field("limits.fuel", "must be positive when set"));
        }
        Ok(())
    }
}

fn is_word(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 64
        && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Checks a plugin name: lowercase letters, digits and -, optionally OWNER/NAME.
pub fn check_plugin_name(name: &str) -> Result<(), ManifestError> {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 2 || !parts.iter().all(|p| is_word(p)) {
        return Err(field("name", format!("\"{name}\" is not a plugin name: lowercase letters, digits and -, optionally OWNER/NAME")));
    }
    Ok(())
}

fn check_version(version: &str) -> Result<(), ManifestError> {
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let core_ok = numbers.len() == 3 && numbers.iter().all(|n| !n.is_empty() && n.len() <= 9 && n.chars().all(|c| c.is_ascii_digit()));
    let pre_ok = pre.is_none_or(|p| !p.is_empty() && p.len() <= 64 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    if core_ok && pre_ok { Ok(()) } else { Err(field("version", format!("\"{version}\" is not a version such as 1.4.0"))) }
}

fn check_action_name(name: &str) -> Result<(), String> {
    let Some((namespace, rest)) = name.split_once(':') else {
        return Err(format!("\"{name}\" needs a namespace: aws:, bosun: or plugin:"));
    };
    let ok = match namespace {
        "aws" | "bosun" => {
            !rest.is_empty()
                && rest.len() <= 64
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
                && rest.starts_with(|c: char| c.is_ascii_lowercase())
        }
        "plugin" => check_plugin_name(rest).is_ok(),
        _ => return Err(format!("\"{name}\": unknown namespace \"{namespace}\"; expected aws:, bosun: or plugin:")),
    };
    if ok { Ok(()) } else { Err(format!("\"{name}\" is not a valid action name")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "name": "read-file",
            "version": "0.1.0",
            "abi": "0.1",
            "actions": [{"name": "bosun:readFile", "input_schema": {"type": "object"}}],
            "capabilities": ["fs:ro:/var/lib/dpkg"],
        })
    }

    fn with(change: impl FnOnce(&mut serde_json::Value)) -> Result<Manifest, ManifestError> {
        let mut value = base();
        change(&mut value);
        Manifest::from_json(&value.to_string())
    }

    #[test]
    fn a_good_manifest_round_trips() {
        let m = with(|_| {}).unwrap();
        assert_eq!(m.limits, Limits::default());
        assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn abi_majors() {
        assert_eq!(abi_major("0.1").as_deref(), Some("0.1"));
        assert_eq!(abi_major("0.1.7").as_deref(), Some("0.1"));
        assert_eq!(abi_major("1.2.0").as_deref(), Some("1"));
        assert_eq!(abi_major("x"), None);
        assert_eq!(abi_major("0"), None);
    }

    #[test]
    fn an_unknown_abi_says_which() {
        let e = with(|v| v["abi"] = "1.0".into()).unwrap_err().to_string();
        assert!(e.contains("bosun:plugin@1.0") && e.contains("speaks 0.1"), "{e}");
    }

    #[test]
    fn each_bad_field_is_named() {
        type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|v| v["name"] = "Bad Name".into()), "`name`"),
            (Box::new(|v| v["version"] = "1.0".into()), "`version`"),
            (Box::new(|v| v["actions"] = serde_json::json!([])), "`actions`"),
            (Box::new(|v| v["actions"][0]["name"] = "readFile".into()), "`actions[0].name`"),
            (Box::new(|v| v["actions"][0]["name"] = "evil:x".into()), "unknown namespace"),
            (Box::new(|v| v["actions"][0]["input_schema"] = 3.into()), "`actions[0].input_schema`"),
            (Box::new(|v| v["capabilities"] = serde_json::json!(["fs:ro:rel"])), "must be absolute"),
            (Box::new(|v| v["limits"] = serde_json::json!({"memory_mib": 0})), "`limits.memory_mib`"),
            (Box::new(|v| v["surprise"] = 1.into()), "unknown field"),
            (Box::new(|v| v["kind"] = "inventory".into()), "implements no actions"),
        ];
        for (change, expected) in cases {
            let e = with(change).unwrap_err().to_string();
            assert!(e.contains(expected), "{e} should contain {expected}");
        }
        let mut dup = base();
        dup["actions"] = serde_json::json!([{"name": "bosun:a"}, {"name": "bosun:a"}]);
        assert!(Manifest::from_json(&dup.to_string()).unwrap_err().to_string().contains("listed twice"));
    }

    #[test]
    fn owner_names_and_plugin_actions() {
        let m = with(|v| {
            v["name"] = "acme/backup".into();
            v["actions"] = serde_json::json!([{"name": "plugin:acme/backup"}, {"name": "aws:createImage"}]);
        })
        .unwrap();
        assert!(m.action("plugin:acme/backup").is_some());
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(matches!(Manifest::from_json("{"), Err(ManifestError::Json(_))));
    }
}
