//! `{{ ... }}` references: find them, and replace them with values.
//!
//! Typing rules of [`interpolate`]:
//! - a string that is exactly one reference (spaces around allowed) becomes the
//!   resolved value with its type (a list stays a list, a number a number);
//! - a reference inside a longer string is rendered as text by [`render_text`];
//! - in a list, an item that is exactly one reference resolving to a list is
//!   spliced in (`["{{ Ids }}"]` gives a flat list, as SSM does);
//! - map keys are interpolated as text.
use serde_json::{Map, Value};

/// What a `{{ ... }}` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `{{ Name }}`: a parameter, or a pseudo-parameter such as `TARGET_ID`.
    Param(String),
    /// `{{ Step.Output }}`.
    StepOutput { step: String, output: String },
    /// `{{ automation:EXECUTION_ID }}`.
    Automation(String),
    /// `{{ global:DATE_TIME }}` and the rest.
    Global(String),
    /// `{{ ssm:/path }}`, `{{ ssm:/path:3 }}`, `{{ ssm-secure:/path }}`.
    Ssm { name: String, secure: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InterpolateError {
    pub reference: String,
    pub message: String,
}

/// Answers references during interpolation.
pub trait Resolver {
    fn resolve(&self, reference: &Reference) -> Result<Value, InterpolateError>;
}

/// The variables `{{ global:NAME }}` may name.
pub const GLOBALS: [&str; 6] = ["ACCOUNT_ID", "REGION", "DATE", "DATE_TIME", "AWS_PARTITION", "URL_SUFFIX"];
/// The variables `{{ automation:NAME }}` may name.
pub const AUTOMATION_VARIABLES: [&str; 1] = ["EXECUTION_ID"];

/// One `{{ ... }}` found in a text: its byte range (`end` past the `}}`) and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub reference: Result<Reference, String>,
}

/// Every reference in a string, with the byte offset of its `{{`.
pub fn references(text: &str) -> Vec<(usize, Result<Reference, String>)> {
    scan(text).into_iter().map(|f| (f.start, f.reference)).collect()
}

/// Every reference in a string with its byte range. An unterminated `{{` is
/// reported as an error reaching to the end of the text, and ends the scan.
pub fn scan(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(rel) = text[from..].find("{{") {
        let start = from + rel;
        let inner = start + 2;
        let Some(len) = text[inner..].find("}}") else {
            let snippet = &text[start..];
            found.push(Found { start, end: text.len(), reference: Err(format!("unterminated reference \"{snippet}\"")) });
            break;
        };
        let end = inner + len + 2;
        found.push(Found { start, end, reference: parse_reference(&text[inner..inner + len]) });
        from = end;
    }
    found
}

/// Whether any string in `value` (keys included) holds a `{{`.
pub fn has_references(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{"),
        Value::Array(items) => items.iter().any(has_references),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains("{{") || has_references(v)),
        _ => false,
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parameter Store names: letters, digits and `_ . - /`, plus `:` before a version or label.
fn is_ssm_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/:".contains(c))
}

/// Parses what is between `{{` and `}}`.
fn parse_reference(inner: &str) -> Result<Reference, String> {
    let content = inner.trim();
    let invalid = |why: &str| format!("invalid reference \"{{{{{inner}}}}}\": {why}");
    if content.is_empty() {
        return Err(invalid("empty"));
    }
    if let Some((prefix, rest)) = content.split_once(':') {
        return parse_prefixed(prefix, rest).map_err(|why| invalid(&why));
    }
    if let Some((step, output)) = content.split_once('.') {
        let output_ok = output.split('.').all(is_name);
        if is_name(step) && output_ok {
            return Ok(Reference::StepOutput { step: step.into(), output: output.into() });
        }
        return Err(invalid("expected Step.Output, with letters, digits, _ and - in each name"));
    }
    if is_name(content) {
        return Ok(Reference::Param(content.into()));
    }
    Err(invalid("a name may contain only letters, digits, _ and -"))
}

fn parse_prefixed(prefix: &str, rest: &str) -> Result<Reference, String> {
    let one_of = |what: &str, known: &[&str]| {
        if known.contains(&rest) {
            Ok(rest.to_string())
        } else {
            Err(format!("unknown {what} variable \"{rest}\"; expected one of {}", known.join(", ")))
        }
    };
    match prefix {
        "ssm" | "ssm-secure" if is_ssm_name(rest) => Ok(Reference::Ssm { name: rest.into(), secure: prefix == "ssm-secure" }),
        "ssm" | "ssm-secure" => Err("a Parameter Store name may contain only letters, digits and _ . - / :".into()),
        "global" => one_of("global", &GLOBALS).map(Reference::Global),
        "automation" => one_of("automation", &AUTOMATION_VARIABLES).map(Reference::Automation),
        _ => Err(format!("unknown prefix \"{prefix}:\"; expected ssm:, ssm-secure:, global: or automation:")),
    }
}

/// A string as it is, a number or boolean as its text; `None` for lists, maps and null.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(render_text(v)),
        _ => None,
    }
}

/// `true` or `false` in any case, as SSM accepts them in text.
pub fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A boolean, or a string that [`parse_bool`] accepts.
pub fn loose_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

/// What kind of JSON value `v` is, for messages: `a string`, `a number`, `a list`...
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A value as text: strings as they are, everything else as compact JSON
/// (`42`, `true`, `["a","b"]`, `null`).
pub fn render_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Replaces every reference in `value` (recursively through lists and maps).
///
/// Errors carry the reference as written (`{{ Name }}`) in `reference`,
/// whatever the resolver put there.
pub fn interpolate(value: &Value, resolver: &dyn Resolver) -> Result<Value, InterpolateError> {
    match value {
        Value::String(s) => interpolate_str(s, resolver),
        Value::Array(items) => interpolate_list(items, resolver),
        Value::Object(map) => interpolate_map(map, resolver),
        other => Ok(other.clone()),
    }
}

fn interpolate_list(items: &[Value], resolver: &dyn Resolver) -> Result<Value, InterpolateError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => match interpolate_str(s, resolver)? {
                Value::Array(spliced) if whole_reference(s).is_some() => out.extend(spliced),
                v => out.push(v),
            },
            other => out.push(interpolate(other, resolver)?),
        }
    }
    Ok(Value::Array(out))
}

fn interpolate_map(map: &Map<String, Value>, resolver: &dyn Resolver) -> Result<Value, InterpolateError> {
    let mut out = Map::with_capacity(map.len());
    for (key, v) in map {
        out.insert(interpolate_text(key, resolver)?, interpolate(v, resolver)?);
    }
    Ok(Value::Object(out))
}

/// The only reference of a string that is exactly one reference (spaces around allowed).
fn whole_reference(s: &str) -> Option<Found> {
    let trimmed = s.trim();
    let offset = s.len() - s.trim_start().len();
    match scan(trimmed).as_slice() {
        [f] if f.start == 0 && f.end == trimmed.len() => {
            Some(Found { start: f.start + offset, end: f.end + offset, reference: f.reference.clone() })
        }
        _ => None,
    }
}

fn interpolate_str(s: &str, resolver: &dyn Resolver) -> Result<Value, InterpolateError> {
    match whole_reference(s) {
        Some(found) => resolve(s, &found, resolver),
        None => interpolate_text(s, resolver).map(Value::String),
    }
}

/// Interpolates `s` as text: each reference rendered with [`render_text`].
pub fn interpolate_text(s: &str, resolver: &dyn Resolver) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for found in scan(s) {
        out.push_str(&s[last..found.start]);
        out.push_str(&render_text(&resolve(s, &found, resolver)?));
        last = found.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

fn resolve(s: &str, found: &Found, resolver: &dyn Resolver) -> Result<Value, InterpolateError> {
    let written = &s[found.start..found.end];
    let with_text = |message: String| InterpolateError { reference: written.to_string(), message };
    let reference = found.reference.as_ref().map_err(|m| with_text(m.clone()))?;
    resolver.resolve(reference).map_err(|e| with_text(e.message))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refs(text: &str) -> Vec<(usize, Result<Reference, String>)> {
        references(text)
    }

    fn param(n: &str) -> Result<Reference, String> {
        Ok(Reference::Param(n.into()))
    }

    #[test]
    fn finds_params_with_offsets_and_spaces() {
        assert_eq!(refs("{{Name}}"), vec![(0, param("Name"))]);
        assert_eq!(refs("a {{ Name }} b {{  Other_1-x\t}}"), vec![(2, param("Name")), (15, param("Other_1-x"))]);
        assert_eq!(refs("é{{ X }}"), vec![(2, param("X"))]);
        assert_eq!(refs("no refs { here } {x}"), vec![]);
        assert_eq!(refs("closing }} alone"), vec![]);
    }

    #[test]
    fn step_outputs() {
        assert_eq!(
            refs("{{ describe.InstanceId }}"),
            vec![(0, Ok(Reference::StepOutput { step: "describe".into(), output: "InstanceId".into() }))]
        );
        assert_eq!(
            refs("{{ s.Payload.Nested }}"),
            vec![(0, Ok(Reference::StepOutput { step: "s".into(), output: "Payload.Nested".into() }))]
        );
        assert_eq!(
            refs("{{ s. }}")[0].1,
            Err("invalid reference \"{{ s. }}\": expected Step.Output, with letters, digits, _ and - in each name".into())
        );
        assert!(refs("{{ .x }}")[0].1.is_err());
        assert!(refs("{{ a..b }}")[0].1.is_err());
    }

    #[test]
    fn automation_and_global() {
        assert_eq!(refs("{{ automation:EXECUTION_ID }}")[0].1, Ok(Reference::Automation("EXECUTION_ID".into())));
        for g in GLOBALS {
            assert_eq!(refs(&format!("{{{{global:{g}}}}}"))[0].1, Ok(Reference::Global(g.into())));
        }
        assert_eq!(
            refs("{{ global:TIME }}")[0].1,
            Err("invalid reference \"{{ global:TIME }}\": unknown global variable \"TIME\"; expected one of ACCOUNT_ID, REGION, DATE, DATE_TIME, AWS_PARTITION, URL_SUFFIX".into())
        );
        assert_eq!(
            refs("{{automation:ID}}")[0].1,
            Err("invalid reference \"{{automation:ID}}\": unknown automation variable \"ID\"; expected one of EXECUTION_ID".into())
        );
    }

    #[test]
    fn parameter_store() {
        let ssm = |name: &str, secure| Ok(Reference::Ssm { name: name.into(), secure });
        assert_eq!(refs("{{ ssm:/a/b }}")[0].1, ssm("/a/b", false));
        assert_eq!(refs("{{ ssm:/a/b:3 }}")[0].1, ssm("/a/b:3", false));
        assert_eq!(refs("{{ssm:/a/b:label}}")[0].1, ssm("/a/b:label", false));
        assert_eq!(refs("{{ ssm:name.x_y-z }}")[0].1, ssm("name.x_y-z", false));
        assert_eq!(refs("{{ ssm-secure:/db/password }}")[0].1, ssm("/db/password", true));
        assert_eq!(
            refs("{{ ssm: }}")[0].1,
            Err("invalid reference \"{{ ssm: }}\": a Parameter Store name may contain only letters, digits and _ . - / :".into())
        );
        assert!(refs("{{ ssm:/a b }}")[0].1.is_err());
    }

    #[test]
    fn malformed_references() {
        assert_eq!(refs("{{ }}"), vec![(0, Err("invalid reference \"{{ }}\": empty".into()))]);
        assert_eq!(refs("{{ a b }}")[0].1, Err("invalid reference \"{{ a b }}\": a name may contain only letters, digits, _ and -".into()));
        assert_eq!(
            refs("{{ env:HOME }}")[0].1,
            Err("invalid reference \"{{ env:HOME }}\": unknown prefix \"env:\"; expected ssm:, ssm-secure:, global: or automation:".into())
        );
        assert_eq!(refs("x {{ a }} {{ b"), vec![(2, param("a")), (10, Err("unterminated reference \"{{ b\"".into()))]);
        assert!(refs("{{ a {{ b }}")[0].1.is_err());
    }

    struct Values;

    impl Resolver for Values {
        fn resolve(&self, reference: &Reference) -> Result<Value, InterpolateError> {
            let v = match reference {
                Reference::Param(n) if n == "Ids" => json!(["i-1", "i-2"]),
                Reference::Param(n) if n == "Count" => json!(3),
                Reference::Param(n) if n == "Flag" => json!(true),
                Reference::Param(n) if n == "Map" => json!({"k": "v"}),
                Reference::Param(n) if n == "Name" => json!("web"),
                Reference::StepOutput { step, output } => json!(format!("{step}/{output}")),
                Reference::Global(g) => json!(format!("global {g}")),
                Reference::Automation(_) => json!("exec-1"),
                Reference::Ssm { name, secure } => json!(format!("{name}:{secure}")),
                Reference::Param(n) => {
                    return Err(InterpolateError { reference: String::new(), message: format!("unknown parameter {n}") });
                }
            };
            Ok(v)
        }
    }

    fn interp(v: Value) -> Result<Value, InterpolateError> {
        interpolate(&v, &Values)
    }

    #[test]
    fn whole_reference_keeps_the_type() {
        assert_eq!(interp(json!("{{ Count }}")), Ok(json!(3)));
        assert_eq!(interp(json!(" {{Flag}} ")), Ok(json!(true)));
        assert_eq!(interp(json!("{{ Ids }}")), Ok(json!(["i-1", "i-2"])));
        assert_eq!(interp(json!("{{ Map }}")), Ok(json!({"k": "v"})));
        assert_eq!(interp(json!("{{ Name }}")), Ok(json!("web")));
        assert_eq!(interp(json!("{{ step.Out }}")), Ok(json!("step/Out")));
        assert_eq!(interp(json!("{{ global:REGION }}")), Ok(json!("global REGION")));
        assert_eq!(interp(json!("{{ automation:EXECUTION_ID }}")), Ok(json!("exec-1")));
        assert_eq!(interp(json!("{{ ssm-secure:/p }}")), Ok(json!("/p:true")));
    }

    #[test]
    fn references_in_text_are_rendered() {
        assert_eq!(
            interp(json!("n={{ Count }} f={{Flag}} ids={{ Ids }} m={{ Map }} name={{ Name }}")),
            Ok(json!("n=3 f=true ids=[\"i-1\",\"i-2\"] m={\"k\":\"v\"} name=web"))
        );
        assert_eq!(interp(json!("{{ Count }}{{ Count }}")), Ok(json!("33")));
        assert_eq!(interp(json!("plain { text }")), Ok(json!("plain { text }")));
        assert_eq!(interp(json!(5)), Ok(json!(5)));
        assert_eq!(interp(json!(null)), Ok(json!(null)));
    }

    #[test]
    fn lists_are_flattened() {
        assert_eq!(interp(json!(["{{ Ids }}"])), Ok(json!(["i-1", "i-2"])));
        assert_eq!(interp(json!(["i-0", " {{ Ids }}", "{{ Count }}"])), Ok(json!(["i-0", "i-1", "i-2", 3])));
        assert_eq!(interp(json!(["x {{ Ids }}"])), Ok(json!(["x [\"i-1\",\"i-2\"]"])));
        assert_eq!(interp(json!([["{{ Ids }}"]])), Ok(json!([["i-1", "i-2"]])));
        assert_eq!(interp(json!(["{{ Map }}"])), Ok(json!([{"k": "v"}])));
    }

    #[test]
    fn maps_keys_and_values() {
        assert_eq!(
            interp(json!({"tag:{{ Name }}": "{{ Count }}", "Ids": ["{{ Ids }}"], "n": {"deep": "{{ Flag }}"}})),
            Ok(json!({"tag:web": 3, "Ids": ["i-1", "i-2"], "n": {"deep": true}}))
        );
        assert_eq!(interp(json!({"{{ Ids }}": 1})), Ok(json!({"[\"i-1\",\"i-2\"]": 1})));
    }

    #[test]
    fn errors_carry_the_reference_text() {
        assert_eq!(
            interp(json!({"a": ["x", "pre {{ Missing }} post"]})),
            Err(InterpolateError { reference: "{{ Missing }}".into(), message: "unknown parameter Missing".into() })
        );
        assert_eq!(
            interp(json!("{{ a b }}")),
            Err(InterpolateError {
                reference: "{{ a b }}".into(),
                message: "invalid reference \"{{ a b }}\": a name may contain only letters, digits, _ and -".into()
            })
        );
        assert_eq!(
            interp(json!({"k {{ x": 1})),
            Err(InterpolateError { reference: "{{ x".into(), message: "unterminated reference \"{{ x\"".into() })
        );
    }

    #[test]
    fn has_references_looks_everywhere() {
        assert!(has_references(&json!("{{ x }}")));
        assert!(has_references(&json!([1, {"a": "{{x}}"}])));
        assert!(has_references(&json!({"{{x}}": 1})));
        assert!(!has_references(&json!(["a", {"b": 1}])));
    }
}
