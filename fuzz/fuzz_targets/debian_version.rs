//! Fuzzes Debian version comparison: the input is split at its newlines into
//! three versions. Any input must compare without a panic, and the order must
//! be total: reflexive, antisymmetric, and transitive on the three.
#![no_main]

use std::cmp::Ordering;

use bosun_debversion::compare;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (a, b, c) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    assert_eq!(compare(a, a), Ordering::Equal);
    assert_eq!(compare(a, b), compare(b, a).reverse(), "{a:?} {b:?}");
    if compare(a, b) != Ordering::Greater && compare(b, c) != Ordering::Greater {
        assert_ne!(compare(a, c), Ordering::Greater, "{a:?} <= {b:?} <= {c:?}");
    }
});
