//! Parameter values: check and coerce what a caller gives against the declared specs.
//!
//! Text (from a command line) is parsed leniently: `42` for an Integer, `TRUE`
//! for a Boolean, `a, b` or `["a","b"]` for a StringList, JSON text for maps.
//! JSON (from an API body or a document's `default`) must already have the
//! declared type, except that a single string is accepted as a one-item list.
use std::collections::HashSet;

use regex::Regex;
use serde_json::{Map, Value};

use crate::interpolate::{has_references, kind, parse_bool, render_text, scalar_text};
use crate::model::{ParamType, ParameterSpec};

/// A value as given: text from a command line, or JSON from an API body.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamInput {
    Text(String),
    Json(Value),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {parameter}: {message}")]
pub struct ParamError {
    pub parameter: String,
    pub message: String,
}

impl ParamError {
    fn new(parameter: &str, message: impl Into<String>) -> Self {
        Self { parameter: parameter.to_string(), message: message.into() }
    }
}

/// Every declared parameter's value: the given one coerced, or the default.
///
/// A default holding a `{{ }}` reference is used as written (the engine
/// interpolates it); any other default is coerced as JSON. Every problem is
/// reported: unknown and repeated names first, then each parameter in
/// declaration order.
pub fn resolve_parameters(specs: &[ParameterSpec], given: &[(String, ParamInput)]) -> Result<Map<String, Value>, Vec<ParamError>> {
    let mut errors = check_given_names(specs, given);
    let mut values = Map::new();
    for spec in specs {
        match value_of(spec, given) {
            Ok(v) => {
                values.insert(spec.name.clone(), v);
            }
            Err(message) => errors.push(ParamError::new(&spec.name, message)),
        }
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

/// Errors for given names that are not declared or given more than once.
fn check_given_names(specs: &[ParameterSpec], given: &[(String, ParamInput)]) -> Vec<ParamError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut repeated = HashSet::new();
    for (name, _) in given {
        if !specs.iter().any(|s| &s.name == name) {
            errors.push(ParamError::new(name, unknown_parameter(name, specs)));
        } else if !seen.insert(name.as_str()) && repeated.insert(name.as_str()) {
            errors.push(ParamError::new(name, "given more than once"));
        }
    }
    errors
}

fn unknown_parameter(name: &str, specs: &[ParameterSpec]) -> String {
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        return "unknown parameter; the document declares none".into();
    }
    match closest_name(name, names.iter().copied()) {
        Some(near) => format!("unknown parameter (did you mean {near}?)"),
        None => format!("unknown parameter; the document declares {}", names.join(", ")),
    }
}

/// The value of one parameter: the first given one, else the default.
fn value_of(spec: &ParameterSpec, given: &[(String, ParamInput)]) -> Result<Value, String> {
    if let Some((_, input)) = given.iter().find(|(n, _)| n == &spec.name) {
        return coerce(spec, input);
    }
    match &spec.default {
        Some(d) if has_references(d) => Ok(d.clone()),
        Some(d) => coerce(spec, &ParamInput::Json(d.clone())).map_err(|e| format!("default value: {e}")),
        None => Err("is required".into()),
    }
}

/// The candidate closest to `word` (ignoring case), when one is close enough
/// to be a likely typo. Used for did-you-mean hints across the crate.
pub fn closest_name<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Converts `input` to the spec's type, then checks the spec's constraints.
pub fn coerce(spec: &ParameterSpec, input: &ParamInput) -> Result<Value, String> {
    let value = convert(&spec.ty, input)?;
    let problems = constraint_problems(spec, &value);
    if problems.is_empty() { Ok(value) } else { Err(problems.join("; ")) }
}

fn got(v: &Value) -> String {
    format!("got {}: {v}", kind(v))
}

fn convert(ty: &ParamType, input: &ParamInput) -> Result<Value, String> {
    match ty {
        ParamType::String | ParamType::AwsResource(_) => to_string(input),
        ParamType::StringList | ParamType::AwsResourceList(_) => to_string_list(input),
        ParamType::Integer => to_integer(input),
        ParamType::Boolean => to_boolean(input),
        ParamType::MapList => to_map_list(input),
        ParamType::StringMap => to_string_map(input),
    }
}

fn to_string(input: &ParamInput) -> Result<Value, String> {
    match input {
        ParamInput::Text(t) => Ok(Value::String(t.clone())),
        ParamInput::Json(Value::String(s)) => Ok(Value::String(s.clone())),
        ParamInput::Json(v) => Err(format!("expected a string, {}", got(v))),
    }
}

fn to_string_list(input: &ParamInput) -> Result<Value, String> {
    match input {
        ParamInput::Text(t) if t.trim_start().starts_with('[') => {
            let parsed = json_text(t, "list")?;
            json_string_list(&parsed)
        }
        ParamInput::Text(t) => comma_list(t),
        ParamInput::Json(Value::String(s)) => Ok(Value::Array(vec![Value::String(s.clone())])),
        ParamInput::Json(v) => json_string_list(v),
    }
}

/// `a, b` as `["a","b"]`; blank text is an empty list; an empty item is an error.
fn comma_list(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(format!("empty item in list \"{text}\""));
    }
    Ok(Value::Array(items.into_iter().map(|i| Value::String(i.into())).collect()))
}

fn json_string_list(v: &Value) -> Result<Value, String> {
    list_of(v, "strings", |item| item.is_string(), "a string")
}

/// `v` as a list whose every item passes `ok` (described as `item_kind`).
fn list_of(v: &Value, items: &str, ok: fn(&Value) -> bool, item_kind: &str) -> Result<Value, String> {
    let Value::Array(list) = v else {
        return Err(format!("expected a list of {items}, {}", got(v)));
    };
    match list.iter().position(|item| !ok(item)) {
        Some(i) => Err(format!("item {i}: expected {item_kind}, {}", got(&list[i]))),
        None => Ok(v.clone()),
    }
}

/// Parses JSON text given for a list or map parameter.
fn json_text(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("\"{text}\" is not a valid JSON {what}: {e}"))
}

fn to_integer(input: &ParamInput) -> Result<Value, String> {
    match input {
        ParamInput::Text(t) => t.trim().parse::<i64>().map(Value::from).map_err(|_| format!("\"{t}\" is not an integer")),
        ParamInput::Json(v @ Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        ParamInput::Json(v) => Err(format!("expected an integer, {}", got(v))),
    }
}

fn to_boolean(input: &ParamInput) -> Result<Value, String> {
    match input {
        ParamInput::Text(t) => parse_bool(t.trim()).map(Value::Bool).ok_or_else(|| format!("\"{t}\" is not a boolean (true or false)")),
        ParamInput::Json(Value::Bool(b)) => Ok(Value::Bool(*b)),
        ParamInput::Json(v) => Err(format!("expected a boolean, {}", got(v))),
    }
}

fn to_map_list(input: &ParamInput) -> Result<Value, String> {
    let v = json_input(input, "list")?;
    list_of(&v, "maps", |item| item.is_object(), "a map")
}

fn to_string_map(input: &ParamInput) -> Result<Value, String> {
    match json_input(input, "map")? {
        v @ Value::Object(_) => Ok(v),
        v => Err(format!("expected a map, {}", got(&v))),
    }
}

/// The JSON of an input: parsed from text, or as given.
fn json_input(input: &ParamInput, what: &str) -> Result<Value, String> {
    match input {
        ParamInput::Text(t) => json_text(t, what),
        ParamInput::Json(v) => Ok(v.clone()),
    }
}

fn is_list(ty: &ParamType) -> bool {
    matches!(ty, ParamType::StringList | ParamType::AwsResourceList(_) | ParamType::MapList)
}

/// Every constraint the value breaks: allowedValues, allowedPattern,
/// minItems/maxItems (lists), minChars/maxChars (strings). For lists, the
/// value and pattern constraints apply to each item.
fn constraint_problems(spec: &ParameterSpec, value: &Value) -> Vec<String> {
    let items: Vec<&Value> = match value {
        Value::Array(list) if is_list(&spec.ty) => list.iter().collect(),
        other => vec![other],
    };
    let mut problems = Vec::new();
    if is_list(&spec.ty) {
        problems.extend(count_problem(items.len(), spec));
    }
    for item in &items {
        problems.extend(allowed_value_problem(item, spec));
        problems.extend(length_problem(item, spec));
    }
    match pattern(spec) {
        Ok(Some(re)) => problems.extend(items.iter().filter_map(|item| pattern_problem(item, &re))),
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    problems
}

fn count_problem(count: usize, spec: &ParameterSpec) -> Option<String> {
    let count = count as u64;
    let plural = |n: u64| if n == 1 { "item" } else { "items" };
    match (spec.min_items, spec.max_items) {
        (Some(min), _) if count < min => Some(format!("{count} {}, fewer than the minimum of {min}", plural(count))),
        (_, Some(max)) if count > max => Some(format!("{count} {}, more than the maximum of {max}", plural(count))),
        _ => None,
    }
}

fn allowed_value_problem(item: &Value, spec: &ParameterSpec) -> Option<String> {
    let allowed = spec.allowed_values.as_ref()?;
    let text = render_text(item);
    if allowed.iter().any(|a| render_text(a) == text) {
        return None;
    }
    let list: Vec<String> = allowed.iter().map(render_text).collect();
    Some(format!("{item} is not one of the allowed values: {}", list.join(", ")))
}

fn length_problem(item: &Value, spec: &ParameterSpec) -> Option<String> {
    let Value::String(s) = item else { return None };
    let chars = s.chars().count() as u64;
    match (spec.min_chars, spec.max_chars) {
        (Some(min), _) if chars < min => Some(format!("{item} is shorter than the minimum of {min} characters")),
        (_, Some(max)) if chars > max => Some(format!("{item} is longer than the maximum of {max} characters")),
        _ => None,
    }
}

/// The compiled `allowedPattern`, if any; a pattern that does not compile is an error.
fn pattern(spec: &ParameterSpec) -> Result<Option<Regex>, String> {
    spec.allowed_pattern.as_deref().map(compile_pattern).transpose()
}

/// `pattern` compiled as an `allowedPattern`, or a one-line error:
/// `invalid regular expression "<pattern>": <reason>`.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regular expression \"{pattern}\": {}", regex_error_reason(&e)))
}

/// The gist of a regex error on one line. A parse error's text spans several
/// lines (the pattern, a caret under the problem, then `error: <reason>`);
/// its last non-empty line, without the `error: ` prefix, is the reason.
fn regex_error_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().map(str::trim).rfind(|line| !line.is_empty()).unwrap_or_default();
    let reason = last.strip_prefix("error: ").unwrap_or(last).trim();
    if reason.is_empty() { "not a valid pattern".into() } else { reason.into() }
}

/// `allowedPattern` applies to text values (strings, numbers, booleans) and
/// searches anywhere in the text: anchor it with `^...$` to match the whole.
fn pattern_problem(item: &Value, re: &Regex) -> Option<String> {
    let text = scalar_text(item)?;
    if re.is_match(&text) {
        return None;
    }
    Some(format!("{item} does not match the allowed pattern {}", re.as_str()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(t: &str) -> ParamInput {
        ParamInput::Text(t.into())
    }

    fn js(v: Value) -> ParamInput {
        ParamInput::Json(v)
    }

    fn spec(ty: ParamType) -> ParameterSpec {
        ParameterSpec::new("P", ty)
    }

    fn c(ty: ParamType, input: ParamInput) -> Result<Value, String> {
        coerce(&spec(ty), &input)
    }

    fn instance_list() -> ParamType {
        ParamType::AwsResourceList("AWS::EC2::Instance::Id".into())
    }

    #[test]
    fn string_and_resource_types() {
        assert_eq!(c(ParamType::String, text(" a b ")), Ok(json!(" a b ")));
        assert_eq!(c(ParamType::String, text("42")), Ok(json!("42")));
        assert_eq!(c(ParamType::String, js(json!("x"))), Ok(json!("x")));
        assert_eq!(c(ParamType::String, js(json!(42))), Err("expected a string, got a number: 42".into()));
        assert_eq!(c(ParamType::String, js(json!(true))), Err("expected a string, got a boolean: true".into()));
        let id = ParamType::AwsResource("AWS::EC2::Instance::Id".into());
        assert_eq!(c(id.clone(), text("i-1")), Ok(json!("i-1")));
        assert_eq!(c(id, js(json!(["i-1"]))), Err("expected a string, got a list: [\"i-1\"]".into()));
    }

    #[test]
    fn string_list_from_text() {
        assert_eq!(c(ParamType::StringList, text("a, b ,c")), Ok(json!(["a", "b", "c"])));
        assert_eq!(c(ParamType::StringList, text("single")), Ok(json!(["single"])));
        assert_eq!(c(ParamType::StringList, text(r#" ["a","b, c"]"#)), Ok(json!(["a", "b, c"])));
        assert_eq!(c(ParamType::StringList, text("")), Ok(json!([])));
        assert_eq!(c(instance_list(), text("i-1,i-2")), Ok(json!(["i-1", "i-2"])));
        assert_eq!(c(ParamType::StringList, text("a,,b")), Err("empty item in list \"a,,b\"".into()));
        let err = c(ParamType::StringList, text("[a")).unwrap_err();
        assert!(err.starts_with("\"[a\" is not a valid JSON list: "), "{err}");
        assert_eq!(c(ParamType::StringList, text("[1]")), Err("item 0: expected a string, got a number: 1".into()));
    }

    #[test]
    fn string_list_from_json() {
        assert_eq!(c(ParamType::StringList, js(json!(["a", "b"]))), Ok(json!(["a", "b"])));
        assert_eq!(c(ParamType::StringList, js(json!("a,b"))), Ok(json!(["a,b"])));
        assert_eq!(c(instance_list(), js(json!("i-1"))), Ok(json!(["i-1"])));
        assert_eq!(c(ParamType::StringList, js(json!(["a", 3]))), Err("item 1: expected a string, got a number: 3".into()));
        assert_eq!(c(ParamType::StringList, js(json!({"a": 1}))), Err("expected a list of strings, got a map: {\"a\":1}".into()));
    }

    #[test]
    fn integer() {
        assert_eq!(c(ParamType::Integer, text("42")), Ok(json!(42)));
        assert_eq!(c(ParamType::Integer, text(" -7 ")), Ok(json!(-7)));
        assert_eq!(c(ParamType::Integer, js(json!(42))), Ok(json!(42)));
        assert_eq!(c(ParamType::Integer, text("4.5")), Err("\"4.5\" is not an integer".into()));
        assert_eq!(c(ParamType::Integer, text("abc")), Err("\"abc\" is not an integer".into()));
        assert_eq!(c(ParamType::Integer, js(json!(4.5))), Err("expected an integer, got a number: 4.5".into()));
        assert_eq!(c(ParamType::Integer, js(json!("42"))), Err("expected an integer, got a string: \"42\"".into()));
    }

    #[test]
    fn boolean() {
        assert_eq!(c(ParamType::Boolean, text("true")), Ok(json!(true)));
        assert_eq!(c(ParamType::Boolean, text("FALSE")), Ok(json!(false)));
        assert_eq!(c(ParamType::Boolean, text("True ")), Ok(json!(true)));
        assert_eq!(c(ParamType::Boolean, js(json!(false))), Ok(json!(false)));
        assert_eq!(c(ParamType::Boolean, text("yes")), Err("\"yes\" is not a boolean (true or false)".into()));
        assert_eq!(c(ParamType::Boolean, js(json!("true"))), Err("expected a boolean, got a string: \"true\"".into()));
    }

    #[test]
    fn map_list() {
        assert_eq!(c(ParamType::MapList, text(r#"[{"a":"1"},{"b":2}]"#)), Ok(json!([{"a": "1"}, {"b": 2}])));
        assert_eq!(c(ParamType::MapList, js(json!([{"a": 1}]))), Ok(json!([{"a": 1}])));
        assert_eq!(c(ParamType::MapList, js(json!([{"a": 1}, "x"]))), Err("item 1: expected a map, got a string: \"x\"".into()));
        assert_eq!(c(ParamType::MapList, text(r#"{"a":1}"#)), Err("expected a list of maps, got a map: {\"a\":1}".into()));
        let err = c(ParamType::MapList, text("a=1")).unwrap_err();
        assert!(err.starts_with("\"a=1\" is not a valid JSON list: "), "{err}");
    }

    #[test]
    fn string_map() {
        assert_eq!(c(ParamType::StringMap, text(r#"{"k":"v","l":["x"]}"#)), Ok(json!({"k": "v", "l": ["x"]})));
        assert_eq!(c(ParamType::StringMap, js(json!({"k": "v"}))), Ok(json!({"k": "v"})));
        assert_eq!(c(ParamType::StringMap, js(json!(["k"]))), Err("expected a map, got a list: [\"k\"]".into()));
        let err = c(ParamType::StringMap, text("k=v")).unwrap_err();
        assert!(err.starts_with("\"k=v\" is not a valid JSON map: "), "{err}");
    }

    #[test]
    fn allowed_values() {
        let mut s = spec(ParamType::String);
        s.allowed_values = Some(vec![json!("a"), json!("b")]);
        assert_eq!(coerce(&s, &text("a")), Ok(json!("a")));
        assert_eq!(coerce(&s, &text("c")), Err("\"c\" is not one of the allowed values: a, b".into()));
        s.ty = ParamType::StringList;
        assert_eq!(coerce(&s, &text("b,a")), Ok(json!(["b", "a"])));
        assert_eq!(
            coerce(&s, &text("a,c,d")),
            Err("\"c\" is not one of the allowed values: a, b; \"d\" is not one of the allowed values: a, b".into())
        );
        let mut n = spec(ParamType::Integer);
        n.allowed_values = Some(vec![json!(1), json!("2")]);
        assert_eq!(coerce(&n, &text("2")), Ok(json!(2)));
        assert_eq!(coerce(&n, &text("3")), Err("3 is not one of the allowed values: 1, 2".into()));
    }

    #[test]
    fn allowed_pattern() {
        let mut s = spec(ParamType::String);
        s.allowed_pattern = Some("^i-[0-9a-f]+$".into());
        assert_eq!(coerce(&s, &text("i-0abc")), Ok(json!("i-0abc")));
        assert_eq!(coerce(&s, &text("x")), Err("\"x\" does not match the allowed pattern ^i-[0-9a-f]+$".into()));
        s.ty = instance_list();
        assert_eq!(coerce(&s, &text("i-1,i-2")), Ok(json!(["i-1", "i-2"])));
        assert_eq!(coerce(&s, &text("i-1,bad")), Err("\"bad\" does not match the allowed pattern ^i-[0-9a-f]+$".into()));
        s.allowed_pattern = Some("(".into());
        assert_eq!(coerce(&s, &text("i-1")), Err("invalid regular expression \"(\": unclosed group".into()));
        let mut unanchored = spec(ParamType::String);
        unanchored.allowed_pattern = Some("[0-9]".into());
        assert_eq!(coerce(&unanchored, &text("ab1")), Ok(json!("ab1")));
        assert!(coerce(&unanchored, &text("ab")).is_err());
    }

    #[test]
    fn invalid_patterns_are_reported_on_one_line() {
        assert!(compile_pattern("^[a-z]+$").is_ok());
        assert_eq!(
            compile_pattern("^[a-z0-9.-{3,63}$").unwrap_err(),
            "invalid regular expression \"^[a-z0-9.-{3,63}$\": unclosed character class"
        );
        assert_eq!(
            compile_pattern("a{2,1}").unwrap_err(),
            "invalid regular expression \"a{2,1}\": invalid repetition count range, the start must be <= the end"
        );
        let mut s = spec(ParamType::StringList);
        s.allowed_pattern = Some("[".into());
        let err = coerce(&s, &text("a,b")).unwrap_err();
        assert!(!err.contains('\n'), "{err}");
        assert_eq!(err, "invalid regular expression \"[\": unclosed character class");
    }

    #[test]
    fn item_counts() {
        let mut s = spec(ParamType::StringList);
        s.min_items = Some(2);
        s.max_items = Some(3);
        assert_eq!(coerce(&s, &text("a,b")), Ok(json!(["a", "b"])));
        assert_eq!(coerce(&s, &text("a,b,c")), Ok(json!(["a", "b", "c"])));
        assert_eq!(coerce(&s, &text("a")), Err("1 item, fewer than the minimum of 2".into()));
        assert_eq!(coerce(&s, &text("a,b,c,d")), Err("4 items, more than the maximum of 3".into()));
        s.ty = ParamType::MapList;
        assert_eq!(coerce(&s, &js(json!([]))), Err("0 items, fewer than the minimum of 2".into()));
    }

    #[test]
    fn char_counts() {
        let mut s = spec(ParamType::String);
        s.min_chars = Some(2);
        s.max_chars = Some(3);
        assert_eq!(coerce(&s, &text("ab")), Ok(json!("ab")));
        assert_eq!(coerce(&s, &text("ééé")), Ok(json!("ééé")));
        assert_eq!(coerce(&s, &text("a")), Err("\"a\" is shorter than the minimum of 2 characters".into()));
        assert_eq!(coerce(&s, &text("abcd")), Err("\"abcd\" is longer than the maximum of 3 characters".into()));
        s.ty = ParamType::StringList;
        assert_eq!(coerce(&s, &text("ab,a")), Err("\"a\" is shorter than the minimum of 2 characters".into()));
    }

    #[test]
    fn all_constraint_problems_are_reported() {
        let mut s = spec(ParamType::String);
        s.allowed_values = Some(vec![json!("abc")]);
        s.allowed_pattern = Some("^a".into());
        s.max_chars = Some(2);
        assert_eq!(
            coerce(&s, &text("xyz")),
            Err("\"xyz\" is not one of the allowed values: abc; \"xyz\" is longer than the maximum of 2 characters; \
                 \"xyz\" does not match the allowed pattern ^a"
                .into())
        );
    }

    fn specs() -> Vec<ParameterSpec> {
        let mut ids = ParameterSpec::new("InstanceIds", ParamType::StringList);
        ids.default = Some(json!([]));
        let mut count = ParameterSpec::new("Count", ParamType::Integer);
        count.default = Some(json!(3));
        let mut target = ParameterSpec::new("Target", ParamType::String);
        target.default = Some(json!("{{ TARGET_ID }}"));
        let name = ParameterSpec::new("Name", ParamType::String);
        vec![ids, count, target, name]
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, ParamInput)> {
        pairs.iter().map(|(n, v)| (n.to_string(), text(v))).collect()
    }

    fn resolve_errors(specs: &[ParameterSpec], pairs: &[(&str, &str)]) -> Vec<String> {
        let errs = resolve_parameters(specs, &given(pairs)).unwrap_err();
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn resolves_given_and_defaults_in_declaration_order() {
        let values = resolve_parameters(&specs(), &given(&[("Name", "web"), ("Count", "5")])).unwrap();
        assert_eq!(Value::Object(values.clone()), json!({"InstanceIds": [], "Count": 5, "Target": "{{ TARGET_ID }}", "Name": "web"}));
        let keys: Vec<&str> = values.keys().map(String::as_str).collect();
        assert_eq!(keys, ["InstanceIds", "Count", "Target", "Name"]);
    }

    #[test]
    fn required_unknown_and_repeated() {
        assert_eq!(resolve_errors(&specs(), &[]), ["parameter Name: is required"]);
        assert_eq!(
            resolve_errors(&specs(), &[("Name", "a"), ("instanceids", "i-1"), ("Zzz", "1"), ("Name", "b"), ("Name", "c")]),
            [
                "parameter instanceids: unknown parameter (did you mean InstanceIds?)",
                "parameter Zzz: unknown parameter; the document declares InstanceIds, Count, Target, Name",
                "parameter Name: given more than once",
            ]
        );
        assert_eq!(resolve_errors(&[], &[("X", "1")]), ["parameter X: unknown parameter; the document declares none"]);
    }

    #[test]
    fn all_errors_are_collected() {
        assert_eq!(
            resolve_errors(&specs(), &[("Count", "x"), ("Extra", "1")]),
            [
                "parameter Extra: unknown parameter; the document declares InstanceIds, Count, Target, Name",
                "parameter Count: \"x\" is not an integer",
                "parameter Name: is required",
            ]
        );
    }

    #[test]
    fn defaults_are_coerced_as_json() {
        let mut bad = ParameterSpec::new("Count", ParamType::Integer);
        bad.default = Some(json!("5"));
        assert_eq!(resolve_errors(&[bad], &[]), ["parameter Count: default value: expected an integer, got a string: \"5\""]);
        let mut allowed = ParameterSpec::new("Mode", ParamType::String);
        allowed.default = Some(json!("c"));
        allowed.allowed_values = Some(vec![json!("a")]);
        assert_eq!(resolve_errors(&[allowed], &[]), ["parameter Mode: default value: \"c\" is not one of the allowed values: a"]);
        let mut single = ParameterSpec::new("Ids", ParamType::StringList);
        single.default = Some(json!("i-1"));
        assert_eq!(resolve_parameters(&[single], &[]).unwrap()["Ids"], json!(["i-1"]));
    }

    #[test]
    fn closest_name_needs_a_near_match() {
        assert_eq!(closest_name("NumericGreatr", ["NumericGreater", "NumericLesser"]), Some("NumericGreater"));
        assert_eq!(closest_name("name", ["Name", "Game"]), Some("Name"));
        assert_eq!(closest_name("Foo", ["Not", "And"]), None);
        assert_eq!(closest_name("x", []), None);
    }
}
