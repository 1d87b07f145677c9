//! Fuzzes the patch baseline reader (AWS's baseline JSON). Any input must give
//! a baseline or an error, never a panic; a baseline that parses must print
//! and parse back to the same baseline (the fields AWS prints and Bosun
//! ignores, such as `BaselineId`, are not printed).
#![no_main]

use bosun_patching::BaselineSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(baseline) = BaselineSpec::from_json(text) {
        let printed = baseline.to_value();
        assert_eq!(BaselineSpec::from_value(&printed).map(|again| again.to_value()), Ok(printed));
    }
});
