//! The pattern language's conformance table (`conformance.jsonl`): one row per line,
//! a pattern with an event and whether it matches, or a pattern with the path its
//! error must name. Every matching row is also checked through a rule index.

use bosun_events::{Pattern, RuleSet};
use serde_json::Value;

const TABLE: &str = include_str!("conformance.jsonl");

#[test]
fn the_conformance_table_holds() {
    let mut rows = 0;
    let mut failures = Vec::new();
    for (line, text) in TABLE.lines().enumerate().filter(|(_, t)| !t.trim().is_empty()) {
        let row: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("line {}: {e}", line + 1));
        let why = row["why"].as_str().unwrap_or_default();
        rows += 1;
        let parsed = Pattern::from_value(&row["pattern"]);
        match (&parsed, row.get("error").and_then(Value::as_str)) {
            (Err(e), Some(path)) if e.path == path => {}
            (Err(e), Some(path)) => failures.push(format!("line {}: {why}: error at {:?}, expected at {path:?} ({e})", line + 1, e.path)),
            (Ok(_), Some(path)) => failures.push(format!("line {}: {why}: parsed, expected an error at {path:?}", line + 1)),
            (Err(e), None) => failures.push(format!("line {}: {why}: {e}", line + 1)),
            (Ok(pattern), None) => {
                let expected = row["matches"].as_bool().unwrap_or_else(|| panic!("line {}: no `matches`", line + 1));
                let event = &row["event"];
                let mut rules = RuleSet::new();
                rules.insert((), pattern.clone());
                let (direct, indexed) = (pattern.matches(event), !rules.matches(event).is_empty());
                if direct != expected || indexed != expected {
                    failures.push(format!("line {}: {why}: matched {direct} (indexed {indexed}), expected {expected}", line + 1));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {rows} rows fail:\n{}", failures.len(), failures.join("\n"));
    assert!(rows >= 100, "the table has {rows} rows");
}
