//! Fuzzes the event-pattern parser and matcher: the input is split at its first
//! newline into a pattern and an event. Any input must give a match result or an
//! error, never a panic, and the rule index must agree with the pattern alone.
#![no_main]

use bosun_events::{Pattern, RuleSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, event) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(pattern) = Pattern::parse(pattern) else { return };
    let Ok(event) = serde_json::from_str::<serde_json::Value>(event) else { return };
    let direct = pattern.matches(&event);
    let mut rules = RuleSet::new();
    rules.insert((), pattern);
    assert_eq!(!rules.matches(&event).is_empty(), direct, "the index and the pattern disagree");
});
