//! Patch baselines in AWS's JSON shape (`CreatePatchBaseline`'s fields:
//! `OperatingSystem`, `GlobalFilters`, `ApprovalRules.PatchRules[]` with
//! `PatchFilterGroup.PatchFilters`, `ApproveAfterDays`/`ApproveUntilDate`,
//! `ComplianceLevel`, `EnableNonSecurity`, `ApprovedPatches`,
//! `RejectedPatches`, `RejectedPatchesAction`), parsed with the field path of
//! every error and checked against the limits AWS sets.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest baseline document accepted, in bytes.
pub const MAX_BASELINE_BYTES: usize = 64 * 1024;
const MAX_RULES: usize = 10;
const MAX_FILTERS: usize = 4;
const MAX_FILTER_VALUES: usize = 20;
const MAX_PATCH_LIST: usize = 50;
const MAX_VALUE_LEN: usize = 100;
const MAX_DESCRIPTION: usize = 1024;
const MAX_APPROVE_AFTER_DAYS: u32 = 360;

/// The operating systems Bosun patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperatingSystem {
    Debian,
    Ubuntu,
}

impl OperatingSystem {
    pub const ALL: [OperatingSystem; 2] = [OperatingSystem::Debian, OperatingSystem::Ubuntu];

    /// The name AWS uses: `DEBIAN`, `UBUNTU`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatingSystem::Debian => "DEBIAN",
            OperatingSystem::Ubuntu => "UBUNTU",
        }
    }

    /// Parses `DEBIAN`/`UBUNTU` (any case).
    pub fn parse(text: &str) -> Result<OperatingSystem, String> {
        match text.to_ascii_uppercase().as_str() {
            "DEBIAN" => Ok(OperatingSystem::Debian),
            "UBUNTU" => Ok(OperatingSystem::Ubuntu),
            _ => Err(format!("operating system \"{text}\" is not supported: DEBIAN or UBUNTU")),
        }
    }

    /// The operating system of a node, from its os-release `NAME`.
    pub fn of_platform(name: &str) -> Option<OperatingSystem> {
        let name = name.to_ascii_lowercase();
        if name.contains("ubuntu") {
            Some(OperatingSystem::Ubuntu)
        } else if name.contains("debian") {
            Some(OperatingSystem::Debian)
        } else {
            None
        }
    }

    /// The `PRODUCT` of a node: `Debian12`, `Ubuntu22.04`.
    pub fn product(self, version_id: &str) -> String {
        match self {
            OperatingSystem::Debian => format!("Debian{version_id}"),
            OperatingSystem::Ubuntu => format!("Ubuntu{version_id}"),
        }
    }

    /// The predefined default baseline's id.
    pub fn predefined_baseline(self) -> &'static str {
        match self {
            OperatingSystem::Debian => "Bosun-DefaultPatchBaseline-Debian",
            OperatingSystem::Ubuntu => "Bosun-DefaultPatchBaseline-Ubuntu",
        }
    }
}

/// SSM's compliance levels, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceLevel {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    #[default]
    Unspecified,
}

impl ComplianceLevel {
    pub const ALL: [ComplianceLevel; 6] = [
        ComplianceLevel::Critical,
        ComplianceLevel::High,
        ComplianceLevel::Medium,
        ComplianceLevel::Low,
        ComplianceLevel::Informational,
        ComplianceLevel::Unspecified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceLevel::Critical => "CRITICAL",
            ComplianceLevel::High => "HIGH",
            ComplianceLevel::Medium => "MEDIUM",
            ComplianceLevel::Low => "LOW",
            ComplianceLevel::Informational => "INFORMATIONAL",
            ComplianceLevel::Unspecified => "UNSPECIFIED",
        }
    }
}

/// What happens to a package in `RejectedPatches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectedPatchesAction {
    /// Installed only as another package's dependency; installed, it is InstalledOther.
    #[default]
    AllowAsDependency,
    /// Never installed; installed anyway, it is InstalledRejected (non-compliant).
    Block,
}

/// The keys a Debian or Ubuntu filter takes (`CLASSIFICATION` is Bosun's:
/// `Security` for updates from a security archive, `Other` for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterKey {
    Product,
    Section,
    Priority,
    Classification,
}

/// Debian's priorities, as `PRIORITY` filters name them.
pub const PRIORITIES: [&str; 5] = ["Required", "Important", "Standard", "Optional", "Extra"];
/// The values of a `CLASSIFICATION` filter.
pub const CLASSIFICATIONS: [&str; 2] = ["Security", "Other"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PatchFilter {
    pub key: FilterKey,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PatchFilterGroup {
    #[serde(default)]
    pub patch_filters: Vec<PatchFilter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PatchRule {
    pub patch_filter_group: PatchFilterGroup,
    #[serde(default)]
    pub compliance_level: ComplianceLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_after_days: Option<u32>,
    /// `YYYY-MM-DD`: patches released on or before this day are approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_until_date: Option<String>,
    #[serde(default)]
    pub enable_non_security: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ApprovalRules {
    #[serde(default)]
    pub patch_rules: Vec<PatchRule>,
}

/// A baseline as an operator writes it (and as `aws ssm get-patch-baseline`
/// prints it: the fields Bosun keeps itself are accepted and ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BaselineSpec {
    pub name: String,
    #[serde(default = "default_os")]
    pub operating_system: OperatingSystem,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub global_filters: PatchFilterGroup,
    #[serde(default)]
    pub approval_rules: ApprovalRules,
    #[serde(default)]
    pub approved_patches: Vec<String>,
    #[serde(default)]
    pub approved_patches_compliance_level: ComplianceLevel,
    #[serde(default)]
    pub approved_patches_enable_non_security: bool,
    #[serde(default)]
    pub rejected_patches: Vec<String>,
    #[serde(default)]
    pub rejected_patches_action: RejectedPatchesAction,
    /// AWS's alternative repositories: refused when not empty.
    #[serde(default, skip_serializing)]
    sources: Vec<Value>,
    #[serde(default, skip_serializing, rename = "BaselineId")]
    _baseline_id: Option<Value>,
    #[serde(default, skip_serializing, rename = "PatchGroups")]
    _patch_groups: Option<Value>,
    #[serde(default, skip_serializing, rename = "CreatedDate")]
    _created_date: Option<Value>,
    #[serde(default, skip_serializing, rename = "ModifiedDate")]
    _modified_date: Option<Value>,
    #[serde(default, skip_serializing, rename = "ClientToken")]
    _client_token: Option<Value>,
    #[serde(default, skip_serializing, rename = "Tags")]
    _tags: Option<Value>,
    #[serde(default, skip_serializing, rename = "AvailableSecurityUpdatesComplianceStatus")]
    _available_security_updates: Option<Value>,
}

fn default_os() -> OperatingSystem {
    OperatingSystem::Debian
}

impl BaselineSpec {
    /// A baseline with no rules and no lists.
    pub fn new(name: impl Into<String>, operating_system: OperatingSystem) -> BaselineSpec {
        BaselineSpec {
            name: name.into(),
            operating_system,
            description: None,
            global_filters: PatchFilterGroup::default(),
            approval_rules: ApprovalRules::default(),
            approved_patches: Vec::new(),
            approved_patches_compliance_level: ComplianceLevel::Unspecified,
            approved_patches_enable_non_security: false,
            rejected_patches: Vec::new(),
            rejected_patches_action: RejectedPatchesAction::AllowAsDependency,
            sources: Vec::new(),
            _baseline_id: None,
            _patch_groups: None,
            _created_date: None,
            _modified_date: None,
            _client_token: None,
            _tags: None,
            _available_security_updates: None,
        }
    }

    /// Parses and checks a baseline; an error names the field (`ApprovalRules.PatchRules[0].ApproveAfterDays`).
    pub fn from_json(text: &str) -> Result<BaselineSpec, String> {
        if text.len() > MAX_BASELINE_BYTES {
            return Err(format!("the baseline is {} bytes; the most accepted is {MAX_BASELINE_BYTES}", text.len()));
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let spec: BaselineSpec = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Parses and checks a baseline given as a JSON value.
    pub fn from_value(value: &Value) -> Result<BaselineSpec, String> {
        BaselineSpec::from_json(&value.to_string())
    }

    /// The baseline as JSON, in AWS's field names.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Checks the limits and values; an error names the field.
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
            return Err(format!("Description: longer than {MAX_DESCRIPTION} characters"));
        }
        if !self.sources.is_empty() {
            return Err("Sources: alternative patch repositories are not supported; configure the node's apt sources instead".into());
        }
        check_filters("GlobalFilters.PatchFilters", &self.global_filters.patch_filters)?;
        if self.approval_rules.patch_rules.len() > MAX_RULES {
            return Err(format!("ApprovalRules.PatchRules: {} rules; the most is {MAX_RULES}", self.approval_rules.patch_rules.len()));
        }
        for (i, rule) in self.approval_rules.patch_rules.iter().enumerate() {
            let at = format!("ApprovalRules.PatchRules[{i}]");
            check_filters(&format!("{at}.PatchFilterGroup.PatchFilters"), &rule.patch_filter_group.patch_filters)?;
            match (&rule.approve_after_days, &rule.approve_until_date) {
                (Some(_), Some(_)) => return Err(format!("{at}: ApproveAfterDays and ApproveUntilDate exclude each other")),
                (Some(days), None) if *days > MAX_APPROVE_AFTER_DAYS => {
                    return Err(format!("{at}.ApproveAfterDays: {days} is above the most allowed, {MAX_APPROVE_AFTER_DAYS}"));
                }
                (None, Some(date)) => {
                    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                        .map_err(|e| format!("{at}.ApproveUntilDate: \"{date}\" is not a YYYY-MM-DD date ({e})"))?;
                }
                _ => {}
            }
        }
        for (field, list) in [("ApprovedPatches", &self.approved_patches), ("RejectedPatches", &self.rejected_patches)] {
            if list.len() > MAX_PATCH_LIST {
                return Err(format!("{field}: {} entries; the most is {MAX_PATCH_LIST}", list.len()));
            }
            for (i, entry) in list.iter().enumerate() {
                crate::names::PackageSpec::parse(entry).map_err(|e| format!("{field}[{i}]: {e}"))?;
            }
        }
        Ok(())
    }
}

/// A baseline name: 3 to 128 of `a-zA-Z0-9_.-`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (3..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok { Ok(()) } else { Err(format!("Name: \"{}\" is not 3 to 128 of a-z, A-Z, 0-9, _, . and -", clip(name))) }
}

fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

fn check_filters(at: &str, filters: &[PatchFilter]) -> Result<(), String> {
    if filters.len() > MAX_FILTERS {
        return Err(format!("{at}: {} filters; the most is {MAX_FILTERS}", filters.len()));
    }
    for (i, filter) in filters.iter().enumerate() {
        if filters[..i].iter().any(|f| f.key == filter.key) {
            return Err(format!("{at}[{i}].Key: {:?} appears twice", filter.key));
        }
        if filter.values.is_empty() || filter.values.len() > MAX_FILTER_VALUES {
            return Err(format!("{at}[{i}].Values: 1 to {MAX_FILTER_VALUES} values, not {}", filter.values.len()));
        }
        for (j, value) in filter.values.iter().enumerate() {
            if value.is_empty() || value.len() > MAX_VALUE_LEN || value.chars().any(char::is_control) {
                return Err(format!("{at}[{i}].Values[{j}]: 1 to {MAX_VALUE_LEN} printable characters"));
            }
            let allowed: &[&str] = match filter.key {
                FilterKey::Priority => &PRIORITIES,
                FilterKey::Classification => &CLASSIFICATIONS,
                FilterKey::Product | FilterKey::Section => &[],
            };
            if !allowed.is_empty() && value != "*" && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                return Err(format!("{at}[{i}].Values[{j}]: \"{}\" is not one of {}, *", clip(value), allowed.join(", ")));
            }
        }
    }
    Ok(())
}

/// The predefined baseline of an operating system: AWS's defaults for Debian
/// and Ubuntu, which approve security updates of every priority at once.
pub fn predefined(os: OperatingSystem) -> BaselineSpec {
    let mut spec = BaselineSpec::new(os.predefined_baseline(), os);
    spec.description = Some(format!(
        "Default baseline for {}: approves every security update (any priority) as soon as it is available.",
        match os {
            OperatingSystem::Debian => "Debian",
            OperatingSystem::Ubuntu => "Ubuntu",
        }
    ));
    spec.approval_rules.patch_rules.push(PatchRule {
        patch_filter_group: PatchFilterGroup {
            patch_filters: vec![PatchFilter { key: FilterKey::Priority, values: PRIORITIES.iter().map(|p| p.to_string()).collect() }],
        },
        compliance_level: ComplianceLevel::Unspecified,
        approve_after_days: Some(0),
        approve_until_date: None,
        enable_non_security: false,
    });
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_BASELINE: &str = r#"{
        "Name": "web-servers",
        "OperatingSystem": "UBUNTU",
        "Description": "Ubuntu web servers",
        "GlobalFilters": {"PatchFilters": [{"Key": "PRODUCT", "Values": ["Ubuntu22.04"]}]},
        "ApprovalRules": {"PatchRules": [
            {"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Required", "Important"]},
                                                   {"Key": "SECTION", "Values": ["libs", "net"]}]},
             "ComplianceLevel": "CRITICAL", "ApproveAfterDays": 7, "EnableNonSecurity": true}
        ]},
        "ApprovedPatches": ["openssl", "libc6=2.35-0ubuntu3.8"],
        "ApprovedPatchesComplianceLevel": "HIGH",
        "ApprovedPatchesEnableNonSecurity": false,
        "RejectedPatches": ["telnet*"],
        "RejectedPatchesAction": "BLOCK",
        "Tags": [{"Key": "team", "Value": "web"}],
        "ClientToken": "abc"
    }"#;

    #[test]
    fn an_aws_baseline_loads() {
        let spec = BaselineSpec::from_json(AWS_BASELINE).unwrap();
        assert_eq!(spec.operating_system, OperatingSystem::Ubuntu);
        let rule = &spec.approval_rules.patch_rules[0];
        assert_eq!(rule.approve_after_days, Some(7));
        assert_eq!(rule.compliance_level, ComplianceLevel::Critical);
        assert_eq!(rule.patch_filter_group.patch_filters[1].key, FilterKey::Section);
        assert_eq!(spec.rejected_patches_action, RejectedPatchesAction::Block);
        let back = spec.to_value();
        assert!(back.get("Tags").is_none() && back.get("ClientToken").is_none());
        assert_eq!(BaselineSpec::from_value(&back).unwrap().to_value(), back);
    }

    #[test]
    fn bad_baselines_name_the_field() {
        let mut base: Value = serde_json::from_str(AWS_BASELINE).unwrap();
        base.as_object_mut().unwrap().remove("Tags");
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|v| v["Name"] = "x".into()), "Name:"),
            (Box::new(|v| v["Name"] = "a b c".into()), "Name:"),
            (Box::new(|v| v["OperatingSystem"] = "WINDOWS".into()), "OperatingSystem"),
            (Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = 361.into()), "PatchRules[0].ApproveAfterDays"),
            (Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["ApproveAfterDays"] = (-1).into()), "PatchRules[0].ApproveAfterDays"),
            (Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["ApproveUntilDate"] = "2024-01-01".into()), "exclude each other"),
            (
                Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"][0]["Key"] = "MSRC_SEVERITY".into()),
                "PatchFilters[0].Key",
            ),
            (
                Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"][0]["Values"][0] = "Urgent".into()),
                "PatchFilters[0].Values[0]",
            ),
            (
                Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"][1]["Values"] = Value::Array(vec![])),
                "Values",
            ),
            (Box::new(|v| v["ApprovalRules"]["PatchRules"][0]["ComplianceLevel"] = "SEVERE".into()), "ComplianceLevel"),
            (Box::new(|v| v["RejectedPatchesAction"] = "DENY".into()), "RejectedPatchesAction"),
            (Box::new(|v| v["RejectedPatches"] = serde_json::json!(["bad name!"])), "RejectedPatches[0]"),
            (Box::new(|v| v["ApprovedPatches"] = Value::Array((0..51).map(|i| format!("p{i}").into()).collect())), "ApprovedPatches: 51"),
            (Box::new(|v| v["Surprise"] = true.into()), "Surprise"),
            (Box::new(|v| v["Sources"] = serde_json::json!([{"Name": "x"}])), "Sources"),
            (
                Box::new(|v| v["ApprovalRules"]["PatchRules"] = Value::Array(vec![v["ApprovalRules"]["PatchRules"][0].clone(); 11])),
                "11 rules",
            ),
        ];
        for (change, expected) in cases {
            let mut v = base.clone();
            change(&mut v);
            let e = BaselineSpec::from_value(&v).unwrap_err();
            assert!(e.contains(expected), "expected {expected:?} in {e}");
        }
        assert!(BaselineSpec::from_json("{").unwrap_err().contains("EOF"));
        assert!(BaselineSpec::from_json(&" ".repeat(MAX_BASELINE_BYTES + 1)).unwrap_err().contains("bytes"));
    }

    #[test]
    fn predefined_baselines_are_valid() {
        for os in OperatingSystem::ALL {
            let spec = predefined(os);
            spec.check().unwrap();
            assert_eq!(spec.name, os.predefined_baseline());
        }
        assert_eq!(OperatingSystem::of_platform("Debian GNU/Linux"), Some(OperatingSystem::Debian));
        assert_eq!(OperatingSystem::of_platform("Ubuntu"), Some(OperatingSystem::Ubuntu));
        assert_eq!(OperatingSystem::of_platform("Fedora Linux"), None);
    }
}
