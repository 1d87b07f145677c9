//! Many rules matched at once. Each rule that requires a field to equal one of some
//! strings, or to start with one of some prefixes, is filed under those values; an
//! event looks up its own values of the filed fields and checks only the rules found
//! there (and the rules that could not be filed). The work per event grows with the
//! event and the number of rules it nearly matches, not with the number of rules.

use std::collections::HashMap;

use serde_json::Value;

use crate::leaf::{Literal, Matcher};
use crate::pattern::{Node, Pattern, for_each_leaf};

/// A set of rules, each a pattern with a caller's key.
#[derive(Debug, Clone)]
pub struct RuleSet<K> {
    rules: Vec<(K, Pattern)>,
    /// Filed rules, by the field path they are filed under.
    paths: Vec<(Vec<String>, PathIndex)>,
    /// Rules checked against every event.
    unfiled: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
struct PathIndex {
    exact: HashMap<String, Vec<usize>>,
    prefixes: HashMap<String, Vec<usize>>,
    /// The lengths (in bytes) of the prefixes filed, shortest first.
    prefix_lengths: Vec<usize>,
}

/// Where a rule can be filed: a field path that must hold one of these strings or prefixes.
struct Anchor {
    path: Vec<String>,
    exact: Vec<String>,
    prefixes: Vec<String>,
}

/// The best field of a pattern to file it under: one every match needs (not inside
/// `$or`) whose matchers are all exact strings or prefixes; exact-only fields first.
fn anchor(pattern: &Pattern) -> Option<Anchor> {
    let mut found: Option<Anchor> = None;
    collect_anchor(pattern, &mut Vec::new(), &mut found);
    found
}

fn collect_anchor(pattern: &Pattern, path: &mut Vec<String>, found: &mut Option<Anchor>) {
    for (key, node) in &pattern.fields {
        path.push(key.clone());
        match node {
            Node::Nested(inner) => collect_anchor(inner, path, found),
            Node::Leaf(matchers) => {
                let mut candidate = Anchor { path: path.clone(), exact: Vec::new(), prefixes: Vec::new() };
                let fileable = matchers.iter().all(|m| match m {
                    Matcher::Exact(Literal::String(s)) => {
                        candidate.exact.push(s.clone());
                        true
                    }
                    Matcher::Prefix(p) if !p.is_empty() => {
                        candidate.prefixes.push(p.clone());
                        true
                    }
                    _ => false,
                });
                let better = found.as_ref().is_none_or(|f| !f.prefixes.is_empty() && candidate.prefixes.is_empty());
                if fileable && better {
                    *found = Some(candidate);
                }
            }
        }
        path.pop();
    }
}

/// Calls `f` with each leaf string found at `path` in `value` (lists followed).
fn strings_at<'a>(value: &'a Value, path: &[String], f: &mut impl FnMut(&'a str)) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| strings_at(v, path, f)),
        Value::Object(object) => {
            if let Some((first, rest)) = path.split_first()
                && let Some(inner) = object.get(first)
            {
                strings_at(inner, rest, f);
            }
        }
        leaf if path.is_empty() => {
            for_each_leaf(leaf, &mut |v| {
                if let Some(s) = v.as_str() {
                    f(s);
                }
                false
            });
        }
        _ => {}
    }
}

impl<K> Default for RuleSet<K> {
    fn default() -> Self {
        Self { rules: Vec::new(), paths: Vec::new(), unfiled: Vec::new() }
    }
}

impl<K> RuleSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Adds a rule.
    pub fn insert(&mut self, key: K, pattern: Pattern) {
        let at = self.rules.len();
        match anchor(&pattern) {
            None => self.unfiled.push(at),
            Some(anchor) => {
                let index = match self.paths.iter().position(|(p, _)| *p == anchor.path) {
                    Some(i) => &mut self.paths[i].1,
                    None => {
                        self.paths.push((anchor.path.clone(), PathIndex::default()));
                        &mut self.paths.last_mut().unwrap_or_else(|| unreachable!("just pushed")).1
                    }
                };
                for value in anchor.exact {
                    index.exact.entry(value).or_default().push(at);
                }
                for prefix in anchor.prefixes {
                    if !index.prefix_lengths.contains(&prefix.len()) {
                        index.prefix_lengths.push(prefix.len());
                        index.prefix_lengths.sort_unstable();
                    }
                    index.prefixes.entry(prefix).or_default().push(at);
                }
            }
        }
        self.rules.push((key, pattern));
    }

    /// The keys of the rules an event matches, in the order they were added.
    pub fn matches(&self, event: &Value) -> Vec<&K> {
        let mut candidates: Vec<usize> = self.unfiled.clone();
        for (path, index) in &self.paths {
            strings_at(event, path, &mut |s| {
                if let Some(rules) = index.exact.get(s) {
                    candidates.extend_from_slice(rules);
                }
                for &length in index.prefix_lengths.iter().take_while(|&&l| l <= s.len()) {
                    if let Some(rules) = s.get(..length).and_then(|p| index.prefixes.get(p)) {
                        candidates.extend_from_slice(rules);
                    }
                }
            });
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates.into_iter().filter(|&i| self.rules[i].1.matches(event)).map(|i| &self.rules[i].0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(patterns: &[Value]) -> RuleSet<usize> {
        let mut set = RuleSet::new();
        for (i, p) in patterns.iter().enumerate() {
            set.insert(i, Pattern::from_value(p).unwrap());
        }
        set
    }

    #[test]
    fn the_index_finds_what_checking_every_rule_finds() {
        let patterns = [
            json!({"source": ["a", "b"]}),
            json!({"source": [{"prefix": "app."}], "detail": {"state": ["on"]}}),
            json!({"detail": {"state": ["on"], "count": [{"numeric": [">", 3]}]}}),
            json!({"detail": {"tags": [{"prefix": "env-"}]}}),
            json!({"$or": [{"source": ["a"]}, {"detail": {"state": ["off"]}}]}),
            json!({"detail": {"missing": [{"exists": false}]}}),
            json!({"source": [{"prefix": ""}]}),
            json!({"detail": {"items": {"name": ["x"]}}}),
        ];
        let events = [
            json!({"source": "a", "detail": {"state": "on", "count": 4}}),
            json!({"source": "app.web", "detail": {"state": "on", "tags": ["x", "env-prod"]}}),
            json!({"source": "b", "detail": {"state": "off", "missing": 1}}),
            json!({"source": "c", "detail": {"items": [{"name": "y"}, {"name": "x"}]}}),
            json!({"source": ["app.", "a"], "detail": []}),
            json!("not an object"),
        ];
        let rules = set(&patterns);
        for event in &events {
            let slow: Vec<usize> = (0..patterns.len()).filter(|&i| Pattern::from_value(&patterns[i]).unwrap().matches(event)).collect();
            let fast: Vec<usize> = rules.matches(event).into_iter().copied().collect();
            assert_eq!(fast, slow, "{event}");
        }
    }

    #[test]
    fn exact_fields_are_preferred_to_prefixes() {
        let p = Pattern::from_value(&json!({"source": [{"prefix": "a"}], "detail": {"state": ["on"]}})).unwrap();
        let a = anchor(&p).unwrap();
        assert_eq!(a.path, vec!["detail".to_string(), "state".to_string()]);
    }
}
