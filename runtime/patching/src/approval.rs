//! A baseline's verdict on one available version of a package: rejected,
//! approved (by the approved list or by the first rule that matches, with that
//! rule's compliance level), or not approved. Rules see the version's
//! product, section, priority, classification and release date.

use chrono::{DateTime, NaiveDate, Utc};

use crate::baseline::{BaselineSpec, ComplianceLevel, FilterKey, PatchFilter};
use crate::names::{any_matches, wildcard};

/// What the rules know of a version.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub arch: &'a str,
    pub version: &'a str,
    pub section: &'a str,
    pub priority: &'a str,
    /// True when the version comes from a security archive.
    pub security: bool,
    /// When it was released, as well as is known.
    pub released: Option<DateTime<Utc>>,
}

/// The baseline's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Rejected,
    Approved(ComplianceLevel),
    NotApproved,
}

/// Applies `baseline` to `candidate` on a node of `product` at `now`.
pub fn judge(baseline: &BaselineSpec, product: &str, candidate: &Candidate<'_>, now: DateTime<Utc>) -> Verdict {
    if any_matches(&baseline.rejected_patches, candidate.name, candidate.arch, candidate.version) {
        return Verdict::Rejected;
    }
    if !filters_match(&baseline.global_filters.patch_filters, product, candidate) {
        return Verdict::NotApproved;
    }
    if any_matches(&baseline.approved_patches, candidate.name, candidate.arch, candidate.version)
        && (candidate.security || baseline.approved_patches_enable_non_security)
    {
        return Verdict::Approved(baseline.approved_patches_compliance_level);
    }
    for rule in &baseline.approval_rules.patch_rules {
        if !(candidate.security || rule.enable_non_security) || !filters_match(&rule.patch_filter_group.patch_filters, product, candidate) {
            continue;
        }
        let old_enough = match (rule.approve_after_days, &rule.approve_until_date) {
            (Some(days), _) if days > 0 => {
                candidate.released.is_some_and(|released| released + chrono::Duration::days(i64::from(days)) <= now)
            }
            (_, Some(until)) => {
                let until = NaiveDate::parse_from_str(until, "%Y-%m-%d").ok();
                match (candidate.released, until) {
                    (Some(released), Some(until)) => released.date_naive() <= until,
                    _ => false,
                }
            }
            _ => true,
        };
        if old_enough {
            return Verdict::Approved(rule.compliance_level);
        }
    }
    Verdict::NotApproved
}

/// True when every filter matches (an empty list matches everything).
fn filters_match(filters: &[PatchFilter], product: &str, c: &Candidate<'_>) -> bool {
    filters.iter().all(|filter| {
        let classification = if c.security { "Security" } else { "Other" };
        filter.values.iter().any(|value| match filter.key {
            FilterKey::Product => value == "*" || wildcard(value, product),
            FilterKey::Priority => value == "*" || value.eq_ignore_ascii_case(c.priority),
            FilterKey::Classification => value == "*" || value.eq_ignore_ascii_case(classification),
            FilterKey::Section => {
                let bare = c.section.rsplit_once('/').map_or(c.section, |(_, s)| s);
                wildcard(value, c.section) || wildcard(value, bare)
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{OperatingSystem, PatchFilterGroup, PatchRule, predefined};

    fn now() -> DateTime<Utc> {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    fn candidate(security: bool, released_days_ago: Option<i64>) -> Candidate<'static> {
        Candidate {
            name: "openssl",
            arch: "amd64",
            version: "3.0.20-1~deb12u1",
            section: "utils",
            priority: "optional",
            security,
            released: released_days_ago.map(|d| now() - chrono::Duration::days(d)),
        }
    }

    fn rule(filters: Vec<PatchFilter>) -> PatchRule {
        PatchRule {
            patch_filter_group: PatchFilterGroup { patch_filters: filters },
            compliance_level: ComplianceLevel::High,
            approve_after_days: None,
            approve_until_date: None,
            enable_non_security: false,
        }
    }

    fn with_rule(rule: PatchRule) -> BaselineSpec {
        let mut spec = BaselineSpec::new("custom", OperatingSystem::Debian);
        spec.approval_rules.patch_rules.push(rule);
        spec
    }

    #[test]
    fn the_default_baseline_approves_security_updates_only() {
        let spec = predefined(OperatingSystem::Debian);
        assert_eq!(judge(&spec, "Debian12", &candidate(true, None), now()), Verdict::Approved(ComplianceLevel::Unspecified));
        assert_eq!(judge(&spec, "Debian12", &candidate(false, None), now()), Verdict::NotApproved);
    }

    #[test]
    fn approve_after_days_waits_for_the_release_to_age() {
        let spec = with_rule(PatchRule { approve_after_days: Some(7), ..rule(vec![]) });
        assert_eq!(judge(&spec, "Debian12", &candidate(true, Some(8)), now()), Verdict::Approved(ComplianceLevel::High));
        assert_eq!(judge(&spec, "Debian12", &candidate(true, Some(7)), now()), Verdict::Approved(ComplianceLevel::High));
        assert_eq!(judge(&spec, "Debian12", &candidate(true, Some(6)), now()), Verdict::NotApproved);
        assert_eq!(judge(&spec, "Debian12", &candidate(true, None), now()), Verdict::NotApproved, "an unknown date is not old enough");
    }

    #[test]
    fn approve_until_date_takes_releases_up_to_that_day() {
        let spec = with_rule(PatchRule { approve_until_date: Some("2026-05-20".into()), ..rule(vec![]) });
        assert_eq!(judge(&spec, "Debian12", &candidate(true, Some(12)), now()), Verdict::Approved(ComplianceLevel::High));
        assert_eq!(judge(&spec, "Debian12", &candidate(true, Some(13)), now()), Verdict::Approved(ComplianceLevel::High));
        assert_eq!(judge(&spec, "Debian12", &candidate(true, Some(11)), now()), Verdict::NotApproved);
    }

    #[test]
    fn the_rejected_list_wins_over_everything() {
        let mut spec = with_rule(rule(vec![]));
        spec.approved_patches.push("openssl".into());
        assert!(matches!(judge(&spec, "Debian12", &candidate(true, None), now()), Verdict::Approved(_)));
        spec.rejected_patches.push("openssl=3.0.20-1~deb12u1".into());
        assert_eq!(judge(&spec, "Debian12", &candidate(true, None), now()), Verdict::Rejected);
        spec.rejected_patches = vec!["openssl=3.0.19-1".into()];
        assert!(matches!(judge(&spec, "Debian12", &candidate(true, None), now()), Verdict::Approved(_)), "another version is not rejected");
    }

    #[test]
    fn the_approved_list_needs_the_non_security_flag_for_other_updates() {
        let mut spec = BaselineSpec::new("custom", OperatingSystem::Debian);
        spec.approved_patches.push("openssl".into());
        spec.approved_patches_compliance_level = ComplianceLevel::Critical;
        assert_eq!(judge(&spec, "Debian12", &candidate(false, None), now()), Verdict::NotApproved);
        assert_eq!(judge(&spec, "Debian12", &candidate(true, None), now()), Verdict::Approved(ComplianceLevel::Critical));
        spec.approved_patches_enable_non_security = true;
        assert_eq!(judge(&spec, "Debian12", &candidate(false, None), now()), Verdict::Approved(ComplianceLevel::Critical));
    }

    #[test]
    fn priority_section_and_classification_filters() {
        let filter = |key, values: &[&str]| PatchFilter { key, values: values.iter().map(|v| v.to_string()).collect() };
        let by_priority = with_rule(rule(vec![filter(FilterKey::Priority, &["Required", "Important"])]));
        assert_eq!(judge(&by_priority, "Debian12", &candidate(true, None), now()), Verdict::NotApproved);
        let by_priority = with_rule(rule(vec![filter(FilterKey::Priority, &["Optional"])]));
        assert!(matches!(judge(&by_priority, "Debian12", &candidate(true, None), now()), Verdict::Approved(_)));

        let by_section = with_rule(rule(vec![filter(FilterKey::Section, &["net", "util*"])]));
        assert!(matches!(judge(&by_section, "Debian12", &candidate(true, None), now()), Verdict::Approved(_)));
        let by_section = with_rule(rule(vec![filter(FilterKey::Section, &["libs"])]));
        assert_eq!(judge(&by_section, "Debian12", &candidate(true, None), now()), Verdict::NotApproved);

        let other = with_rule(PatchRule { enable_non_security: true, ..rule(vec![filter(FilterKey::Classification, &["Other"])]) });
        assert!(matches!(judge(&other, "Debian12", &candidate(false, None), now()), Verdict::Approved(_)));
        assert_eq!(judge(&other, "Debian12", &candidate(true, None), now()), Verdict::NotApproved);

        let mut product = with_rule(rule(vec![]));
        product.global_filters.patch_filters.push(filter(FilterKey::Product, &["Debian11"]));
        assert_eq!(judge(&product, "Debian12", &candidate(true, None), now()), Verdict::NotApproved);
        assert!(matches!(judge(&product, "Debian11", &candidate(true, None), now()), Verdict::Approved(_)));
    }
}
