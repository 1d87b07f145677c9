//! A whole event pattern: fields ANDed, each either a nested pattern or a list of
//! matchers (ORed), and `$or` groups of alternative patterns. Parsing checks
//! everything and names the bad part by its path; matching follows the event's
//! fields, trying every element of a list.

use serde_json::{Map, Value};

use crate::leaf::{Matcher, parse_matcher};

/// The most wildcard stars one pattern may hold in all: each star makes matching a
/// value slower, so a pattern cannot make matching arbitrarily slow.
pub const MAX_WILDCARD_STARS: usize = 64;

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub(crate) fields: Vec<(String, Node)>,
    /// Each group matches when one of its alternatives does.
    pub(crate) any_of: Vec<Vec<Pattern>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Leaf(Vec<Matcher>),
    Nested(Pattern),
}

/// What is wrong with a pattern, and where (`detail.state[1].prefix`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("at {path}: ") })]
pub struct PatternError {
    pub path: String,
    pub message: String,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl Pattern {
    /// Parses a pattern from its JSON text.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| PatternError { path: String::new(), message: format!("the pattern is not JSON: {e}") })?;
        Self::from_value(&value)
    }

    /// Parses a pattern from JSON.
    pub fn from_value(value: &Value) -> Result<Self, PatternError> {
        let pattern = parse_object(value, "")?;
        let stars = pattern.stars();
        if stars > MAX_WILDCARD_STARS {
            return Err(PatternError {
                path: String::new(),
                message: format!(
                    "the pattern's wildcards hold {stars} `*` in all, more than the limit of {MAX_WILDCARD_STARS} (each makes matching slower)"
                ),
            });
        }
        Ok(pattern)
    }

    fn stars(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|(_, node)| match node {
                Node::Leaf(matchers) => matchers.iter().map(Matcher::stars).sum(),
                Node::Nested(p) => p.stars(),
            })
            .sum();
        fields + self.any_of.iter().flatten().map(Pattern::stars).sum::<usize>()
    }

    /// Whether an event (or any JSON object) matches.
    pub fn matches(&self, event: &Value) -> bool {
        self.matches_object(event.as_object())
    }

    pub(crate) fn matches_object(&self, object: Option<&Map<String, Value>>) -> bool {
        self.fields.iter().all(|(key, node)| node_matches(node, object.and_then(|o| o.get(key))))
            && self.any_of.iter().all(|group| group.iter().any(|p| p.matches_object(object)))
    }
}

fn node_matches(node: &Node, value: Option<&Value>) -> bool {
    match node {
        Node::Leaf(matchers) => leaf_matches(matchers, value),
        Node::Nested(pattern) => {
            let mut objects = Vec::new();
            if let Some(value) = value {
                objects_in(value, &mut objects);
            }
            if objects.is_empty() { pattern.matches_object(None) } else { objects.iter().any(|o| pattern.matches_object(Some(o))) }
        }
    }
}

/// The objects a value holds: itself, or the elements of a list (lists flattened).
fn objects_in<'a>(value: &'a Value, into: &mut Vec<&'a Map<String, Value>>) {
    match value {
        Value::Object(o) => into.push(o),
        Value::Array(items) => items.iter().for_each(|v| objects_in(v, into)),
        _ => {}
    }
}

/// Calls `f` on each leaf value (anything but an object or a list) a value holds.
pub(crate) fn for_each_leaf<'a>(value: &'a Value, f: &mut impl FnMut(&'a Value) -> bool) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => items.iter().any(|v| for_each_leaf(v, f)),
        leaf => f(leaf),
    }
}

fn leaf_matches(matchers: &[Matcher], value: Option<&Value>) -> bool {
    let has_leaf = || value.is_some_and(|v| for_each_leaf(v, &mut |_| true));
    matchers.iter().any(|matcher| match matcher {
        Matcher::Exists(wanted) => has_leaf() == *wanted,
        matcher => value.is_some_and(|v| for_each_leaf(v, &mut |leaf| matcher.matches(leaf))),
    })
}

fn parse_object(value: &Value, path: &str) -> Result<Pattern, PatternError> {
    let here = |message: String| PatternError { path: path.to_string(), message };
    let object = value.as_object().ok_or_else(|| here("a pattern is a JSON object of field names".into()))?;
    if object.is_empty() {
        return Err(here("an empty object matches nothing: name at least one field".into()));
    }
    let mut pattern = Pattern { fields: Vec::new(), any_of: Vec::new() };
    for (key, value) in object {
        let path = join(path, key);
        if key == "$or" {
            pattern.any_of.push(parse_or(value, &path)?);
            continue;
        }
        let node = match value {
            Value::Object(_) => Node::Nested(parse_object(value, &path)?),
            Value::Array(items) if items.is_empty() => {
                return Err(PatternError { path, message: "an empty list matches nothing: list at least one value".into() });
            }
            Value::Array(items) => Node::Leaf(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        parse_matcher(item).map_err(|(below, message)| PatternError { path: format!("{path}[{i}]{below}"), message })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            scalar => {
                return Err(PatternError { path, message: format!("a field's values are a list: write [{scalar}]") });
            }
        };
        pattern.fields.push((key.clone(), node));
    }
    Ok(pattern)
}

fn parse_or(value: &Value, path: &str) -> Result<Vec<Pattern>, PatternError> {
    let items = value
        .as_array()
        .filter(|items| items.len() >= 2)
        .ok_or_else(|| PatternError { path: path.to_string(), message: "$or takes a list of at least two patterns".into() })?;
    items.iter().enumerate().map(|(i, item)| parse_object(item, &format!("{path}[{i}]"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(pattern: Value) -> PatternError {
        Pattern::from_value(&pattern).unwrap_err()
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(error(json!({"detail": {"state": [{"prefx": "a"}]}})).path, "detail.state[0].prefx");
        assert_eq!(error(json!({"source": "a"})).path, "source");
        assert_eq!(error(json!({"a": ["x", {"anything-but": {"prefix": 3}}]})).path, "a[1].anything-but.prefix");
        assert_eq!(error(json!({"a": [{"numeric": [">", 1, "<", "b"]}]})).path, "a[0].numeric[3]");
        assert_eq!(error(json!({"$or": [{"a": ["x"]}, {"b": {}}]})).path, "$or[1].b");
        assert_eq!(error(json!({"$or": [{"a": ["x"]}]})).path, "$or");
        assert_eq!(error(json!({"a": [{"wildcard": "a**"}]})).path, "a[0].wildcard");
        assert_eq!(error(json!({"a": [{"prefix": "x", "suffix": "y"}]})).path, "a[0].suffix");
        assert_eq!(error(json!([1])).path, "");
        let shown = error(json!({"a": []})).to_string();
        assert!(shown.starts_with("at a: "), "{shown}");
    }

    #[test]
    fn wildcards_have_a_budget() {
        let many = "*a".repeat(MAX_WILDCARD_STARS + 1);
        let message = error(json!({"a": [{"wildcard": many}]})).message;
        assert!(message.contains("limit of 64"), "{message}");
        let split: Vec<Value> = (0..=MAX_WILDCARD_STARS).map(|i| json!({"wildcard": format!("x{i}*")})).collect();
        assert!(error(json!({"a": split})).message.contains("limit"));
        let within = "*a".repeat(MAX_WILDCARD_STARS);
        assert!(Pattern::from_value(&json!({"a": [{"wildcard": within}]})).is_ok());
    }

    #[test]
    fn a_hostile_wildcard_matches_in_linear_time() {
        let pattern = Pattern::from_value(&json!({"a": [{"wildcard": "*a".repeat(MAX_WILDCARD_STARS) + "b"}]})).unwrap();
        let text = "a".repeat(100_000);
        assert!(!pattern.matches(&json!({"a": text})));
    }
}
