//! Fuzzes the Distributor manifest reader. Any input must give a manifest or
//! a list of problems, never a panic; a manifest that parses must print and
//! parse back to itself.
#![no_main]

use bosun_package::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Manifest::parse(text) {
        Ok(manifest) => assert_eq!(Manifest::parse(&manifest.to_json()).as_ref(), Ok(&manifest)),
        Err(problems) => assert!(!problems.is_empty(), "a refusal names at least one problem"),
    }
});
