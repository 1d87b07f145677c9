//! Fuzzes what a plugin file or an operator hands the plugin host: component
//! bytes (the manifest section reader), manifest JSON, and grant strings. Any
//! input must give a value or an error, never a panic.
#![no_main]

use bosun_plugin_manifest::{Grant, Manifest, extract};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = extract(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(manifest) = Manifest::from_json(text) {
            // A manifest that parses must print and parse back to itself.
            assert_eq!(Manifest::from_json(&manifest.to_json()).as_ref(), Ok(&manifest));
        }
        for line in text.lines() {
            if let Ok(grant) = Grant::parse(line) {
                // A grant prints in the syntax it was parsed from.
                assert_eq!(Grant::parse(&grant.to_string()).as_ref(), Ok(&grant), "{line:?} printed as {grant}");
            }
        }
    }
});
