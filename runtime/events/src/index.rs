//! Many rules matched at once. Each rule that requires a field to equal one of some
//! strings, or to start with one of some prefixes, is filed under those values; an
//! event looks up its own values of the filed fields and checks only the rules found
//! there (and the rules that could not be filed). The work per event grows with the
//! event and the number of rules it nearly matches, not with the number of rules.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::leaf::{Literal, Matcher};
use crate::pattern::{Node, Pattern, for_each_leaf};

/// A set of rules, each a pattern with a caller's key.
#[derive(Debug, Clone)]
pub struct RuleSet<K> {
    rules: Vec<(K, Pattern)>,
    /// Built at the first match after a change.
    index: OnceLock<Index>,
}

#[derive(Debug, Clone, Default)]
struct Index {
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
#[derive(Debug, Clone)]
struct Anchor {
    path: Vec<String>,
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl Anchor {
    fn keys(&self) -> impl Iterator<Item = (&[String], bool, &str)> {
        let exact = self.exact.iter().map(|v| (self.path.as_slice(), true, v.as_str()));
        exact.chain(self.prefixes.iter().map(|p| (self.path.as_slice(), false, p.as_str())))
    }
}

/// The fields of a pattern it can be filed under: those every match needs (not
/// inside `$or`) whose matchers are all exact strings or non-empty prefixes.
fn anchors(pattern: &Pattern) -> Vec<Anchor> {
    let mut found = Vec::new();
    collect_anchors(pattern, &mut Vec::new(), &mut found);
    found
}

fn collect_anchors(pattern: &Pattern, path: &mut Vec<String>, found: &mut Vec<Anchor>) {
    for (key, node) in &pattern.fields {
        path.push(key.clone());
        match node {
            Node::Nested(inner) => collect_anchors(inner, path, found),
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
                if fileable {
                    found.push(candidate);
                }
            }
        }
        path.pop();
    }
}

impl Index {
    /// Files each rule under its rarest field: the one whose values the fewest rules
    /// share, so that a value common to many rules (`"Env": ["prod"]`) does not make
    /// every event with it a candidate for all of them.
    fn build(patterns: &[&Pattern]) -> Self {
        let all: Vec<Vec<Anchor>> = patterns.iter().map(|p| anchors(p)).collect();
        let mut sharing: HashMap<(&[String], bool, &str), usize> = HashMap::new();
        for key in all.iter().flatten().flat_map(Anchor::keys) {
            *sharing.entry(key).or_default() += 1;
        }
        let mut index = Index::default();
        for (at, anchors) in all.iter().enumerate() {
            let cost = |a: &Anchor| (a.keys().map(|k| sharing[&k]).sum::<usize>(), !a.prefixes.is_empty());
            match anchors.iter().min_by_key(|a| cost(a)) {
                None => index.unfiled.push(at),
                Some(anchor) => index.file(at, anchor),
            }
        }
        index
    }

    fn file(&mut self, at: usize, anchor: &Anchor) {
        let index = match self.paths.iter().position(|(p, _)| *p == anchor.path) {
            Some(i) => &mut self.paths[i].1,
            None => {
                self.paths.push((anchor.path.clone(), PathIndex::default()));
                &mut self.paths.last_mut().unwrap_or_else(|| unreachable!("just pushed")).1
            }
        };
        for value in &anchor.exact {
            index.exact.entry(value.clone()).or_default().push(at);
        }
        for prefix in &anchor.prefixes {
            if !index.prefix_lengths.contains(&prefix.len()) {
                index.prefix_lengths.push(prefix.len());
                index.prefix_lengths.sort_unstable();
            }
            index.prefixes.entry(prefix.clone()).or_default().push(at);
        }
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
        Self { rules: Vec::new(), index: OnceLock::new() }
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
        self.rules.push((key, pattern));
        self.index = OnceLock::new();
    }

    /// The keys of the rules an event matches, in the order they were added.
    pub fn matches(&self, event: &Value) -> Vec<&K> {
        let index = self.index.get_or_init(|| Index::build(&self.rules.iter().map(|(_, p)| p).collect::<Vec<_>>()));
        let mut candidates: Vec<usize> = index.unfiled.clone();
        for (path, filed) in &index.paths {
            strings_at(event, path, &mut |s| {
                if let Some(rules) = filed.exact.get(s) {
                    candidates.extend_from_slice(rules);
                }
                for &length in filed.prefix_lengths.iter().take_while(|&&l| l <= s.len()) {
                    if let Some(rules) = s.get(..length).and_then(|p| filed.prefixes.get(p)) {
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
    fn rules_are_filed_under_their_rarest_field() {
        // Every rule shares "Env": "prod"; each has its own instance prefix.
        let patterns: Vec<Value> =
            (0..50).map(|i| json!({"detail": {"tags": {"Env": ["prod"]}, "instance": [{"prefix": format!("i-{i:03}")}]}})).collect();
        let refs: Vec<Pattern> = patterns.iter().map(|p| Pattern::from_value(p).unwrap()).collect();
        let index = Index::build(&refs.iter().collect::<Vec<_>>());
        assert!(index.unfiled.is_empty());
        let (path, filed) = &index.paths[0];
        assert_eq!((index.paths.len(), path.join(".")), (1, "detail.instance".to_string()));
        assert_eq!(filed.prefixes.len(), 50);
        // With no shared value, an exact field wins over a prefix.
        let p = Pattern::from_value(&json!({"source": [{"prefix": "a"}], "detail": {"state": ["on"]}})).unwrap();
        let index = Index::build(&[&p]);
        assert_eq!(index.paths[0].0.join("."), "detail.state");
    }
}
