//! Input transformers: what a rule target receives instead of the whole event. An
//! input paths map names values of the event (`"state": "$.detail.state"`), and a
//! template places them (`{"node": <node>, "state": "<state>"}`). `<aws.events.event>`
//! is the whole event. Inside a JSON string of the template a value is placed as text
//! (a string without its quotes, anything else as its JSON), escaped for JSON;
//! elsewhere a value is placed as JSON. A path that finds nothing gives null.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most entries an input paths map may have, as in EventBridge.
pub const MAX_INPUT_PATHS: usize = 100;

/// An input paths map and a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct InputTransformer {
    #[serde(default)]
    pub input_paths: BTreeMap<String, String>,
    pub input_template: String,
}

/// What is wrong with a transformer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("input path {name:?}: {path:?} is not a path like $.detail.state or $.resources[0]")]
    BadPath { name: String, path: String },
    #[error("input path name {0:?} is not 1 to 64 letters, digits, '_', '-' or '.'")]
    BadName(String),
    #[error("an input paths map holds at most {MAX_INPUT_PATHS} entries")]
    TooMany,
    #[error("the template uses <{0}>, which the input paths map does not define")]
    Undefined(String),
}

/// One step of a path: a field, or an index in a list.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Field(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            steps.push(Step::Index(after[..end].parse().ok()?));
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

fn lookup<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Field(name) => v.get(name),
        Step::Index(i) => v.get(i),
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A placeholder of a template: its byte range (angle brackets included), its name,
/// and whether it stands inside a JSON string of the template.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    in_string: bool,
}

/// The placeholders a template uses, found while following its JSON strings (quotes
/// not escaped by a backslash open and close them).
fn placeholders(template: &str) -> Vec<Placeholder<'_>> {
    let mut found = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = template.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '<' => {
                let rest = &template[at + 1..];
                if let Some(close) = rest.find('>')
                    && valid_name(&rest[..close])
                {
                    found.push(Placeholder { start: at, end: at + close + 2, name: &rest[..close], in_string });
                    // Skip past the placeholder: its name holds no quotes.
                    for _ in 0..close + 1 {
                        chars.next();
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The whole event's placeholder.
const WHOLE_EVENT: &str = "aws.events.event";

impl InputTransformer {
    /// Checks the paths and that the template uses only names it defines.
    pub fn validate(&self) -> Result<(), TransformError> {
        if self.input_paths.len() > MAX_INPUT_PATHS {
            return Err(TransformError::TooMany);
        }
        for (name, path) in &self.input_paths {
            if !valid_name(name) {
                return Err(TransformError::BadName(name.clone()));
            }
            if parse_path(path).is_none() {
                return Err(TransformError::BadPath { name: name.clone(), path: path.clone() });
            }
        }
        for Placeholder { name, .. } in placeholders(&self.input_template) {
            if name != WHOLE_EVENT && !self.input_paths.contains_key(name) {
                return Err(TransformError::Undefined(name.to_string()));
            }
        }
        Ok(())
    }

    /// The text a target receives for an event. Call [`Self::validate`] first.
    pub fn apply(&self, event: &Value) -> String {
        let template = &self.input_template;
        let mut out = String::with_capacity(template.len());
        let mut copied = 0;
        for Placeholder { start, end, name, in_string } in placeholders(template) {
            out.push_str(&template[copied..start]);
            let value = if name == WHOLE_EVENT {
                Some(event)
            } else {
                self.input_paths.get(name).and_then(|p| parse_path(p)).and_then(|steps| lookup(event, &steps))
            };
            let json = value.map_or_else(|| "null".to_string(), Value::to_string);
            if in_string {
                // Inside a string: a string's characters (escaped), or another value's JSON text, escaped.
                let text = match value {
                    Some(Value::String(s)) => s.clone(),
                    _ => json,
                };
                let escaped = Value::String(text).to_string();
                out.push_str(&escaped[1..escaped.len() - 1]);
            } else {
                out.push_str(&json);
            }
            copied = end;
        }
        out.push_str(&template[copied..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn transformer(paths: &[(&str, &str)], template: &str) -> InputTransformer {
        InputTransformer {
            input_paths: paths.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            input_template: template.into(),
        }
    }

    #[test]
    fn places_values_by_path() {
        let event = json!({"source": "app", "resources": ["r1", "r2"], "detail": {"state": "on \"x\"", "n": 3, "o": {"a": 1}}});
        let t = transformer(
            &[("s", "$.detail.state"), ("n", "$.detail.n"), ("r", "$.resources[1]"), ("o", "$.detail.o"), ("m", "$.nope")],
            r#"{"state": "<s>", "n": <n>, "r": "<r>", "o": <o>, "m": <m>, "raw": <s>, "text": "node <r> has \"<n>\" and <o>"}"#,
        );
        t.validate().unwrap();
        let out: Value = serde_json::from_str(&t.apply(&event)).unwrap();
        let text = r#"node r2 has "3" and {"a":1}"#;
        assert_eq!(out, json!({"state": "on \"x\"", "n": 3, "r": "r2", "o": {"a": 1}, "m": null, "raw": "on \"x\"", "text": text}));
        let whole = transformer(&[], "<aws.events.event>");
        assert_eq!(serde_json::from_str::<Value>(&whole.apply(&event)).unwrap(), event);
        assert_eq!(transformer(&[], "a < b > c").apply(&event), "a < b > c");
    }

    #[test]
    fn bad_transformers_are_refused() {
        assert!(matches!(transformer(&[("a", "detail")], "").validate(), Err(TransformError::BadPath { .. })));
        assert!(matches!(transformer(&[("a", "$.a[x]")], "").validate(), Err(TransformError::BadPath { .. })));
        assert!(matches!(transformer(&[("a", "$..a")], "").validate(), Err(TransformError::BadPath { .. })));
        assert_eq!(transformer(&[], "<who>").validate(), Err(TransformError::Undefined("who".into())));
        assert_eq!(transformer(&[("a b", "$.a")], "").validate(), Err(TransformError::BadName("a b".into())));
        let many: Vec<(String, String)> = (0..=MAX_INPUT_PATHS).map(|i| (format!("p{i}"), "$.a".to_string())).collect();
        let t = InputTransformer { input_paths: many.into_iter().collect(), input_template: String::new() };
        assert_eq!(t.validate(), Err(TransformError::TooMany));
    }
}
