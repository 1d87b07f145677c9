//! Debian package versions in dpkg's order: `[epoch:]upstream[-revision]`,
//! compared epoch first (as a number), then the upstream version, then the
//! revision, each by Debian policy's rule: alternate runs of non-digits
//! (compared character by character, `~` before the end of the string, the end
//! before letters, letters before everything else) and runs of digits
//! (compared as numbers). Pure and dependency-free, so the patch plugin
//! (wasm32-wasip2) and the control plane share it.

use std::cmp::Ordering;

/// Compares two versions as `dpkg --compare-versions` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a);
    let (epoch_b, rest_b) = split_epoch(b);
    epoch_a.cmp(&epoch_b).then_with(|| {
        let (up_a, rev_a) = rest_a.rsplit_once('-').unwrap_or((rest_a, ""));
        let (up_b, rev_b) = rest_b.rsplit_once('-').unwrap_or((rest_b, ""));
        compare_parts(up_a, up_b).then_with(|| compare_parts(rev_a, rev_b))
    })
}

/// A version that sorts by [`compare`], for `max`, `sort` and maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a>(pub &'a str);

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.0, other.0)
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The epoch (0 when absent; an epoch too large for u64 counts as the largest)
/// and the rest of the version.
fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => (epoch.parse().unwrap_or(u64::MAX), rest),
        _ => (0, version),
    }
}

/// The weight of a character in the non-digit runs: `~` first, the end of the
/// string next, then letters, then everything else.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate runs of non-digits (by weight) and digits (by value).
fn compare_parts(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_difference == Ordering::Equal {
                first_difference = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    /// (a, b, a compared with b), covering epochs, `~`, revisions, digit runs and letters.
    const TABLE: &[(&str, &str, Ordering)] = &[
        ("1.0", "1.0", Ordering::Equal),
        ("3.0.15-1~deb12u1", "3.0", Ordering::Greater),
        ("2.9", "3.0", Ordering::Less),
        ("1.0~rc1", "1.0", Ordering::Less),
        ("1.0~rc1", "1.0~rc2", Ordering::Less),
        ("1.0~~", "1.0~", Ordering::Less),
        ("1.0~", "1.0", Ordering::Less),
        ("1.0", "1.0-0", Ordering::Equal),
        ("1:1.0", "9.9", Ordering::Greater),
        ("1:1.0", "1:1.0", Ordering::Equal),
        ("2:0.1", "1:9.9", Ordering::Greater),
        ("0:1.0", "1.0", Ordering::Equal),
        ("1.10", "1.9", Ordering::Greater),
        ("1.0a", "1.0", Ordering::Greater),
        ("1.0+b1", "1.0a", Ordering::Greater),
        ("1.0.", "1.0a", Ordering::Greater),
        ("2.36-9+deb12u7", "2.36-9+deb12u10", Ordering::Less),
        ("1.2-3", "1.2-10", Ordering::Less),
        ("1.2-3.1", "1.2-3", Ordering::Greater),
        ("1.2-3~bpo1", "1.2-3", Ordering::Less),
        ("1.2-a-3", "1.2-a-2", Ordering::Greater),
        ("007", "7", Ordering::Equal),
        ("1.0-1ubuntu0.22.04.1", "1.0-1", Ordering::Greater),
        ("5.15.0-91.101", "5.15.0-100.110", Ordering::Less),
        ("1.0+dfsg", "1.0", Ordering::Greater),
        ("1.0+dfsg", "1.0-1", Ordering::Greater),
        ("99999999999999999999999", "1", Ordering::Greater),
    ];

    #[test]
    fn versions_order_as_the_table_says_both_ways() {
        for &(a, b, expected) in TABLE {
            assert_eq!(compare(a, b), expected, "{a} vs {b}");
            assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
        }
        let mut sorted = vec![Version("1.0"), Version("1:0.1"), Version("1.0~rc1"), Version("1.0-1")];
        sorted.sort();
        assert_eq!(sorted, vec![Version("1.0~rc1"), Version("1.0"), Version("1.0-1"), Version("1:0.1")]);
    }

    /// Checks the table against dpkg itself, when this machine has it.
    #[test]
    fn the_table_agrees_with_dpkg() {
        if std::process::Command::new("dpkg").arg("--version").output().is_err() {
            eprintln!("skipped: dpkg is not installed here");
            return;
        }
        for &(a, b, expected) in TABLE {
            for (op, holds) in [("lt", Ordering::Less), ("eq", Ordering::Equal), ("gt", Ordering::Greater)] {
                let status = std::process::Command::new("dpkg").args(["--compare-versions", a, op, b]).status().unwrap();
                assert_eq!(status.success(), expected == holds, "dpkg --compare-versions {a} {op} {b}");
            }
        }
    }
}
