//! Fuzzes schedule expressions: any text, with and without a zone and an offset, must
//! parse or fail with a message, and a parsed schedule's next fires must move forward.
#![no_main]

use bosun_schedule::Schedule;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let after: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    for (zone, offset) in [(None, 0), (Some("Europe/Berlin"), 0), (Some("America/New_York"), 2)] {
        match Schedule::new(text, zone, offset) {
            Err(e) => {
                let _ = e.to_string();
            }
            Ok(schedule) => {
                let mut last = after;
                for fire in schedule.upcoming(after, after).take(5) {
                    assert!(fire > last, "{text}: {fire} does not follow {last}");
                    last = fire;
                }
            }
        }
    }
});
