//! Property tests of the scan's readers: any bytes given as a dpkg status
//! database or an apt Packages list, and any JSON given as a baseline, give a
//! value or an error and never a panic; generated status databases and lists
//! read back to the packages written; a baseline that parses prints and parses
//! back to itself.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use serde_json::Value;

use crate::BaselineSpec;
use crate::{apt, dpkg};

/// One package as a status database or a list writes it.
#[derive(Debug, Clone)]
struct Written {
    name: String,
    version: String,
    arch: String,
    state: &'static str,
}

fn written() -> impl Strategy<Value = Written> {
    (
        "[a-z0-9][a-z0-9+.-]{1,12}",
        "([0-9]:)?[0-9][a-z0-9.+~]{0,6}(-[a-z0-9.+~]{1,4})?",
        prop::sample::select(vec!["amd64", "arm64", "all"]),
        prop::sample::select(vec!["installed", "config-files", "triggers-pending", "half-installed", "not-installed"]),
    )
        .prop_map(|(name, version, arch, state)| Written { name, version, arch: arch.to_string(), state })
}

/// A stanza with the fields in a generated order, a multi-line description and CRLF or LF line ends.
fn render(packages: &[(Written, bool, bool)]) -> String {
    let mut text = String::new();
    for (p, description_first, crlf) in packages {
        let end = if *crlf { "\r\n" } else { "\n" };
        let description = format!("Description: a tool{end} with a long description{end} .{end}");
        text.push_str(&format!("Package: {}{end}", p.name));
        if *description_first {
            text.push_str(&description);
        }
        text.push_str(&format!("Status: install ok {}{end}Priority: optional{end}Section: utils{end}", p.state));
        text.push_str(&format!("Architecture: {}{end}Version: {}{end}", p.arch, p.version));
        if !description_first {
            text.push_str(&description);
        }
        text.push_str(end);
    }
    text
}

/// Arbitrary JSON, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["DEBIAN", "UBUNTU", "PRIORITY", "SECTION", "CRITICAL", "BLOCK", "Required", "*"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid baseline with one field (top level, or inside the first rule) replaced by arbitrary JSON.
fn baseline() -> impl Strategy<Value = Value> {
    let fields = vec![
        "Name",
        "OperatingSystem",
        "Description",
        "GlobalFilters",
        "ApprovalRules",
        "ApprovedPatches",
        "ApprovedPatchesComplianceLevel",
        "ApprovedPatchesEnableNonSecurity",
        "RejectedPatches",
        "RejectedPatchesAction",
        "Sources",
        "BaselineId",
        "Unknown",
    ];
    let rule_fields = vec!["PatchFilterGroup", "ComplianceLevel", "ApproveAfterDays", "ApproveUntilDate", "EnableNonSecurity"];
    (prop::sample::select(fields), prop::sample::select(rule_fields), any::<bool>(), json()).prop_map(
        |(field, rule_field, in_rule, value)| {
            let mut base = serde_json::json!({
                "Name": "web-servers", "OperatingSystem": "UBUNTU",
                "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["Required"]}]},
                    "ComplianceLevel": "HIGH", "ApproveAfterDays": 7}]},
                "RejectedPatches": ["telnet*"],
            });
            if in_rule {
                base["ApprovalRules"]["PatchRules"][0][rule_field] = value;
            } else {
                base[field] = value;
            }
            base
        },
    )
}

proptest! {
    #[test]
    fn any_bytes_as_a_status_database_or_a_list_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(installed) = dpkg::read_status(bytes.as_slice(), "status") {
            prop_assert!(installed.iter().all(|p| !p.name.is_empty() && !p.version.is_empty()));
        }
        let wanted: HashSet<&str> = ["a", "bash", "libc6"].into_iter().collect();
        let mut found = HashMap::new();
        let _ = apt::read_packages(bytes.as_slice(), "Packages", 0, &wanted, &mut found);
        prop_assert!(found.keys().all(|name| wanted.contains(name.as_str())));
    }

    #[test]
    fn deb822_like_text_never_panics(lines in prop::collection::vec("(Package|Status|Version| |\\t|#|)[:A-Za-z0-9 .~+-]{0,20}", 0..40)) {
        let text = lines.join("\n");
        let _ = dpkg::read_status(text.as_bytes(), "status");
        let mut found = HashMap::new();
        let _ = apt::read_packages(text.as_bytes(), "Packages", 0, &HashSet::from(["a"]), &mut found);
    }

    #[test]
    fn a_generated_status_database_reads_back(packages in prop::collection::vec((written(), any::<bool>(), any::<bool>()), 0..20)) {
        let installed = dpkg::read_status(render(&packages).as_bytes(), "status").unwrap();
        let expected: Vec<(String, String, String)> = packages
            .iter()
            .filter(|(p, _, _)| matches!(p.state, "installed" | "triggers-pending"))
            .map(|(p, _, _)| (p.name.clone(), p.version.clone(), p.arch.clone()))
            .collect();
        let read: Vec<(String, String, String)> = installed.into_iter().map(|p| (p.name, p.version, p.arch)).collect();
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn a_generated_list_reads_back_the_packages_asked_for(packages in prop::collection::vec((written(), any::<bool>(), any::<bool>()), 0..20)) {
        let wanted: HashSet<&str> = packages.iter().step_by(2).map(|(p, _, _)| p.name.as_str()).collect();
        let mut found = HashMap::new();
        apt::read_packages(render(&packages).as_bytes(), "Packages", 3, &wanted, &mut found).unwrap();
        for (p, _, _) in &packages {
            let versions = found.get(&p.name).map(|list| list.iter().map(|a| (a.version.as_str(), a.archive)).collect::<Vec<_>>());
            if wanted.contains(p.name.as_str()) {
                prop_assert!(versions.is_some_and(|v| v.contains(&(p.version.as_str(), 3))), "{} {} missing", p.name, p.version);
            } else {
                prop_assert!(versions.is_none(), "{} was not asked for", p.name);
            }
        }
    }

    #[test]
    fn any_baseline_json_parses_or_is_refused_and_prints_back(value in baseline()) {
        if let Ok(spec) = BaselineSpec::from_value(&value) {
            let printed = spec.to_value();
            prop_assert_eq!(BaselineSpec::from_value(&printed).map(|again| again.to_value()), Ok(printed));
        }
    }

    #[test]
    fn any_text_as_a_baseline_never_panics(text in "\\PC{0,200}") {
        let _ = BaselineSpec::from_json(&text);
    }
}
