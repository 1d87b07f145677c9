//! Property tests of the version order: any text compares without a panic,
//! the order is total (reflexive, antisymmetric, transitive on generated
//! triples), and well-formed versions order as `dpkg --compare-versions` says
//! when this machine has dpkg.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::compare;

/// Versions as Debian writes them: an optional epoch, an upstream version starting with a digit, an optional revision.
fn debian_version() -> impl Strategy<Value = String> {
    "([0-9]{1,2}:)?[0-9][A-Za-z0-9.+~]{0,6}(-[A-Za-z0-9.+~]{1,5})?"
}

/// Versions built from the characters that matter to the order, often sharing prefixes.
fn close_version() -> impl Strategy<Value = String> {
    "(1:)?[0-9]{1,2}(\\.[0-9]{1,2}|~|\\+|a|~rc[0-9])*(-[0-9](~|\\+b[0-9]|\\.[0-9])*)?"
}

/// dpkg's answer about `a` and `b`, when dpkg is installed.
fn dpkg_order(a: &str, b: &str) -> Option<Ordering> {
    let holds = |op: &str| std::process::Command::new("dpkg").args(["--compare-versions", a, op, b]).status().ok().map(|s| s.success());
    match (holds("lt")?, holds("gt")?) {
        (true, _) => Some(Ordering::Less),
        (_, true) => Some(Ordering::Greater),
        _ => Some(Ordering::Equal),
    }
}

proptest! {
    #[test]
    fn any_text_compares_and_equals_itself(a in any::<String>(), b in "\\PC{0,12}") {
        prop_assert_eq!(compare(&a, &a), Ordering::Equal);
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
    }

    #[test]
    fn the_order_is_total(a in close_version(), b in close_version(), c in close_version()) {
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse(), "{} {}", a, b);
        let mut sorted = [a.as_str(), b.as_str(), c.as_str()];
        sorted.sort_by(|x, y| compare(x, y));
        prop_assert_ne!(compare(sorted[0], sorted[1]), Ordering::Greater);
        prop_assert_ne!(compare(sorted[1], sorted[2]), Ordering::Greater);
        prop_assert_ne!(compare(sorted[0], sorted[2]), Ordering::Greater, "not transitive: {:?}", sorted);
        if compare(sorted[0], sorted[1]) == Ordering::Equal && compare(sorted[1], sorted[2]) == Ordering::Equal {
            prop_assert_eq!(compare(sorted[0], sorted[2]), Ordering::Equal);
        }
    }
}

proptest! {
    // Two dpkg processes a case: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn well_formed_versions_order_as_dpkg_does(a in debian_version(), b in close_version()) {
        // Without dpkg (not a Debian machine), the property holds vacuously.
        if let Some(expected) = dpkg_order(&a, &b) {
            prop_assert_eq!(compare(&a, &b), expected, "{} vs {}", a, b);
        }
    }
}
