//! `aws:branch` choices: parse the `Choices` list and evaluate a condition.
//!
//! Parsing checks only the shape: at validation time `Variable` and the
//! operands are still `{{ ref }}` strings. Types are checked by
//! [`Condition::evaluate`], after interpolation.
use serde_json::{Map, Value};

use crate::interpolate::{loose_bool, scalar_text};
use crate::params::closest_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    EqualsIgnoreCase,
    StartsWith,
    EndsWith,
    Contains,
    NumericEquals,
    NumericGreater,
    NumericGreaterOrEquals,
    NumericLesser,
    NumericLesserOrEquals,
    BooleanEquals,
}

impl Operator {
    pub const ALL: [Operator; 11] = [
        Operator::StringEquals,
        Operator::EqualsIgnoreCase,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Contains,
        Operator::NumericEquals,
        Operator::NumericGreater,
        Operator::NumericGreaterOrEquals,
        Operator::NumericLesser,
        Operator::NumericLesserOrEquals,
        Operator::BooleanEquals,
    ];

    /// The name as written in documents.
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::EqualsIgnoreCase => "EqualsIgnoreCase",
            Operator::StartsWith => "StartsWith",
            Operator::EndsWith => "EndsWith",
            Operator::Contains => "Contains",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericGreater => "NumericGreater",
            Operator::NumericGreaterOrEquals => "NumericGreaterOrEquals",
            Operator::NumericLesser => "NumericLesser",
            Operator::NumericLesserOrEquals => "NumericLesserOrEquals",
            Operator::BooleanEquals => "BooleanEquals",
        }
    }

    pub fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare { variable: Value, op: Operator, operand: Value },
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

/// One entry of `Choices`: a condition and the step to go to when it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next_step: String,
}

/// `aws:branch` inputs: the choices in order and the `Default` step.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub choices: Vec<ChoiceRule>,
    pub default: Option<String>,
}

/// A problem in `Choices`; `path` is relative to the step's `inputs`, e.g. `Choices[0].Not`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceError {
    pub path: String,
    pub message: String,
}

const COMBINATORS: [&str; 3] = ["And", "Or", "Not"];
const VARIABLE: &str = "Variable";
const NEXT_STEP: &str = "NextStep";

/// Collects errors while parsing.
#[derive(Default)]
struct Errors(Vec<ChoiceError>);

impl Errors {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ChoiceError { path: path.to_string(), message: message.into() });
    }
}

/// Parses a step's `inputs` as `aws:branch` inputs, reporting every problem.
pub fn parse_branch(inputs: &Value) -> Result<Branch, Vec<ChoiceError>> {
    let mut errors = Errors::default();
    let Some(inputs) = inputs.as_object() else {
        errors.push("", "aws:branch inputs must be a map with Choices");
        return Err(errors.0);
    };
    let choices = parse_choices(inputs.get("Choices"), &mut errors);
    let default = match inputs.get("Default") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push("Default", "Default must be a step name");
            None
        }
    };
    if errors.0.is_empty() { Ok(Branch { choices, default }) } else { Err(errors.0) }
}

/// Parses an `aws:loop` `LoopCondition`: one condition in the choice syntax, without
/// `NextStep`. Error paths start with `LoopCondition`, relative to the step's `inputs`.
pub fn parse_loop_condition(value: &Value) -> Result<Condition, Vec<ChoiceError>> {
    let mut errors = Errors::default();
    let path = "LoopCondition";
    let condition = match value.as_object() {
        Some(map) if map.contains_key(NEXT_STEP) => {
            errors.push(path, "NextStep is not allowed in a LoopCondition");
            None
        }
        Some(map) => parse_condition_map(map, path, false, &mut errors),
        None => {
            errors.push(path, "LoopCondition must be a map with a Variable and an operator, or And, Or or Not");
            None
        }
    };
    match condition {
        Some(condition) if errors.0.is_empty() => Ok(condition),
        _ => Err(errors.0),
    }
}

fn parse_choices(choices: Option<&Value>, errors: &mut Errors) -> Vec<ChoiceRule> {
    let list = match choices {
        None => {
            errors.push("", "missing Choices");
            return Vec::new();
        }
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(_) => {
            errors.push("Choices", "Choices must be a non-empty list");
            return Vec::new();
        }
    };
    list.iter().enumerate().filter_map(|(i, choice)| parse_choice(choice, &format!("Choices[{i}]"), errors)).collect()
}

fn parse_choice(choice: &Value, path: &str, errors: &mut Errors) -> Option<ChoiceRule> {
    let Some(map) = choice.as_object() else {
        errors.push(path, "a choice must be a map with NextStep and a condition");
        return None;
    };
    let next_step = match map.get(NEXT_STEP) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(&format!("{path}.{NEXT_STEP}"), "NextStep must be a step name");
            None
        }
        None => {
            errors.push(path, "missing NextStep");
            None
        }
    };
    let condition = parse_condition_map(map, path, true, errors);
    Some(ChoiceRule { condition: condition?, next_step: next_step? })
}

fn parse_condition(value: &Value, path: &str, errors: &mut Errors) -> Option<Condition> {
    match value.as_object() {
        Some(map) => parse_condition_map(map, path, false, errors),
        None => {
            errors.push(path, "a condition must be a map");
            None
        }
    }
}

/// Parses one condition; `top` is true for a choice itself, where `NextStep` belongs.
fn parse_condition_map(map: &Map<String, Value>, path: &str, top: bool, errors: &mut Errors) -> Option<Condition> {
    let mut operators: Vec<&str> = Vec::new();
    let mut unknown = false;
    for key in map.keys().map(String::as_str) {
        if Operator::from_name(key).is_some() || COMBINATORS.contains(&key) {
            operators.push(key);
        } else if key == NEXT_STEP && !top {
            errors.push(path, "NextStep is only allowed at the top of a choice, not in a nested condition");
        } else if key != VARIABLE && key != NEXT_STEP {
            errors.push(path, unknown_operator(key, top));
            unknown = true;
        }
    }
    match operators.as_slice() {
        [] if unknown => None,
        [] => {
            errors.push(path, format!("missing operator; expected one of {}", known_keys(false).join(", ")));
            None
        }
        [key] => parse_operator(map, key, path, errors),
        _ => {
            errors.push(path, format!("more than one operator: {}", operators.join(", ")));
            None
        }
    }
}

fn parse_operator(map: &Map<String, Value>, key: &str, path: &str, errors: &mut Errors) -> Option<Condition> {
    let value = map.get(key)?;
    let inner = format!("{path}.{key}");
    if let Some(op) = Operator::from_name(key) {
        let Some(variable) = map.get(VARIABLE) else {
            errors.push(path, "missing Variable");
            return None;
        };
        return Some(Condition::Compare { variable: variable.clone(), op, operand: value.clone() });
    }
    if map.contains_key(VARIABLE) {
        errors.push(path, format!("Variable is not allowed with {key}"));
    }
    if key == "Not" {
        return parse_condition(value, &inner, errors).map(|c| Condition::Not(Box::new(c)));
    }
    let list = match value {
        Value::Array(list) if !list.is_empty() => list,
        _ => {
            errors.push(&inner, format!("{key} must be a non-empty list of conditions"));
            return None;
        }
    };
    let parsed: Vec<Option<Condition>> =
        list.iter().enumerate().map(|(i, c)| parse_condition(c, &format!("{inner}[{i}]"), errors)).collect();
    let conditions: Vec<Condition> = parsed.into_iter().collect::<Option<_>>()?;
    Some(if key == "And" { Condition::And(conditions) } else { Condition::Or(conditions) })
}

/// Every key a condition may hold: operators, combinators, `Variable` (and `NextStep` on top).
fn known_keys(top: bool) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Operator::ALL.iter().map(|op| op.name()).collect();
    keys.extend(COMBINATORS);
    keys.push(VARIABLE);
    if top {
        keys.push(NEXT_STEP);
    }
    keys
}

fn unknown_operator(key: &str, top: bool) -> String {
    let keys = known_keys(top);
    match closest_name(key, keys.iter().copied()) {
        Some(near) => format!("unknown operator \"{key}\" (did you mean {near}?)"),
        None => format!("unknown operator \"{key}\"; expected one of {}", known_keys(false).join(", ")),
    }
}

impl Condition {
    /// Evaluates with `variable` already interpolated. An operand of the wrong type is an error.
    pub fn evaluate(&self) -> Result<bool, String> {
        match self {
            Condition::Compare { variable, op, operand } => compare(*op, variable, operand),
            Condition::And(all) => {
                for c in all {
                    if !c.evaluate()? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(any) => {
                for c in any {
                    if c.evaluate()? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(c) => c.evaluate().map(|b| !b),
        }
    }
}

impl Branch {
    /// The step to go to: the first choice that holds, else `Default`, else `None`.
    pub fn decide(&self) -> Result<Option<&str>, String> {
        for (i, choice) in self.choices.iter().enumerate() {
            if choice.condition.evaluate().map_err(|e| format!("Choices[{i}]: {e}"))? {
                return Ok(Some(&choice.next_step));
            }
        }
        Ok(self.default.as_deref())
    }
}

/// Which side of a comparison a value is, for messages.
#[derive(Clone, Copy)]
enum Side {
    Variable,
    Operand,
}

impl Side {
    fn describe(self, op: Operator, v: &Value) -> String {
        let side = match self {
            Side::Variable => "Variable",
            Side::Operand => "operand",
        };
        format!("{}: {side} {v} is not", op.name())
    }
}

fn compare(op: Operator, variable: &Value, operand: &Value) -> Result<bool, String> {
    use Operator::*;
    match op {
        Contains if variable.is_array() => contains_item(variable, operand),
        StringEquals | EqualsIgnoreCase | StartsWith | EndsWith | Contains => {
            let v = text(op, Side::Variable, variable)?;
            let o = text(op, Side::Operand, operand)?;
            Ok(match op {
                StringEquals => v == o,
                EqualsIgnoreCase => v.to_lowercase() == o.to_lowercase(),
                StartsWith => v.starts_with(&o),
                EndsWith => v.ends_with(&o),
                _ => v.contains(&o),
            })
        }
        NumericEquals | NumericGreater | NumericGreaterOrEquals | NumericLesser | NumericLesserOrEquals => {
            let ordering = number(op, Side::Variable, variable)?.compare(&number(op, Side::Operand, operand)?);
            Ok(match op {
                NumericEquals => ordering.is_eq(),
                NumericGreater => ordering.is_gt(),
                NumericGreaterOrEquals => ordering.is_ge(),
                NumericLesser => ordering.is_lt(),
                _ => ordering.is_le(),
            })
        }
        BooleanEquals => Ok(boolean(op, Side::Variable, variable)? == boolean(op, Side::Operand, operand)?),
    }
}

/// `Contains` on a list: whether an item's text equals the operand's text.
fn contains_item(list: &Value, operand: &Value) -> Result<bool, String> {
    let wanted = text(Operator::Contains, Side::Operand, operand)?;
    Ok(list.as_array().into_iter().flatten().any(|item| scalar_text(item).as_deref() == Some(wanted.as_str())))
}

fn text(op: Operator, side: Side, v: &Value) -> Result<String, String> {
    scalar_text(v).ok_or_else(|| format!("{} a string", side.describe(op, v)))
}

/// A number for comparison: exact for integers, else floating point.
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn compare(&self, other: &Num) -> std::cmp::Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(b),
            _ => self.as_f64().total_cmp(&other.as_f64()),
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            Num::Int(i) => *i as f64,
            Num::Float(f) => *f,
        }
    }

    fn parse(text: &str) -> Option<Num> {
        let text = text.trim();
        if let Ok(i) = text.parse::<i128>() {
            return Some(Num::Int(i));
        }
        text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::Float)
    }
}

fn number(op: Operator, side: Side, v: &Value) -> Result<Num, String> {
    let parsed = match v {
        Value::Number(n) => Num::parse(&n.to_string()),
        Value::String(s) => Num::parse(s),
        _ => None,
    };
    parsed.ok_or_else(|| format!("{} a number", side.describe(op, v)))
}

fn boolean(op: Operator, side: Side, v: &Value) -> Result<bool, String> {
    loose_bool(v).ok_or_else(|| format!("{} a boolean", side.describe(op, v)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(inputs: Value) -> Vec<(String, String)> {
        parse_branch(&inputs).unwrap_err().into_iter().map(|e| (e.path, e.message)).collect()
    }

    fn err(path: &str, message: &str) -> (String, String) {
        (path.to_string(), message.to_string())
    }

    fn holds(op: &str, variable: Value, operand: Value) -> Result<bool, String> {
        let op = Operator::from_name(op).unwrap();
        Condition::Compare { variable, op, operand }.evaluate()
    }

    #[test]
    fn parses_choices_and_default() {
        let branch = parse_branch(&json!({
            "Choices": [
                {"NextStep": "linux", "Variable": "{{ platform }}", "StringEquals": "Linux"},
                {"NextStep": "big", "And": [
                    {"Variable": "{{ size }}", "NumericGreater": "{{ limit }}"},
                    {"Not": {"Variable": "{{ dry }}", "BooleanEquals": true}}
                ]},
                {"NextStep": "either", "Or": [{"Variable": "{{ a }}", "Contains": "x"}]}
            ],
            "Default": "fallback"
        }))
        .unwrap();
        assert_eq!(branch.default.as_deref(), Some("fallback"));
        assert_eq!(branch.choices.len(), 3);
        assert_eq!(
            branch.choices[0],
            ChoiceRule {
                condition: Condition::Compare { variable: json!("{{ platform }}"), op: Operator::StringEquals, operand: json!("Linux") },
                next_step: "linux".into()
            }
        );
        let Condition::And(parts) = &branch.choices[1].condition else { panic!("expected And") };
        assert!(matches!(&parts[1], Condition::Not(inner) if matches!(**inner, Condition::Compare { op: Operator::BooleanEquals, .. })));
        assert!(matches!(&branch.choices[2].condition, Condition::Or(parts) if parts.len() == 1));
    }

    #[test]
    fn every_operator_name_round_trips() {
        for op in Operator::ALL {
            assert_eq!(Operator::from_name(op.name()), Some(op));
        }
    }

    #[test]
    fn unknown_operator_with_and_without_suggestion() {
        assert_eq!(
            errors(json!({"Choices": [{"NextStep": "a", "Variable": "x", "NumericGreatr": 1}]})),
            vec![err("Choices[0]", "unknown operator \"NumericGreatr\" (did you mean NumericGreater?)")]
        );
        assert_eq!(
            errors(json!({"Choices": [{"NextStep": "a", "Variable": "x", "Foo": 1}]})),
            vec![err(
                "Choices[0]",
                "unknown operator \"Foo\"; expected one of StringEquals, EqualsIgnoreCase, StartsWith, EndsWith, \
                 Contains, NumericEquals, NumericGreater, NumericGreaterOrEquals, NumericLesser, \
                 NumericLesserOrEquals, BooleanEquals, And, Or, Not, Variable"
            )]
        );
        assert_eq!(
            errors(json!({"Choices": [{"NextStep": "a", "variable": "x", "StringEquals": "y"}]})),
            vec![err("Choices[0]", "unknown operator \"variable\" (did you mean Variable?)"), err("Choices[0]", "missing Variable")]
        );
    }

    #[test]
    fn missing_next_step_variable_and_operator() {
        assert_eq!(errors(json!({"Choices": [{"Variable": "x", "StringEquals": "y"}]})), vec![err("Choices[0]", "missing NextStep")]);
        assert_eq!(errors(json!({"Choices": [{"NextStep": "a", "StringEquals": "y"}]})), vec![err("Choices[0]", "missing Variable")]);
        let e = errors(json!({"Choices": [{"NextStep": "a", "Variable": "x"}]}));
        assert_eq!(e.len(), 1);
        assert!(e[0].1.starts_with("missing operator; expected one of StringEquals,"), "{e:?}");
        assert_eq!(
            errors(json!({"Choices": [{"NextStep": 3, "Variable": "x", "StringEquals": "y"}]})),
            vec![err("Choices[0].NextStep", "NextStep must be a step name")]
        );
    }

    #[test]
    fn more_than_one_operator() {
        assert_eq!(
            errors(json!({"Choices": [{"NextStep": "a", "Variable": "x", "StringEquals": "y", "Contains": "z"}]})),
            vec![err("Choices[0]", "more than one operator: StringEquals, Contains")]
        );
        assert_eq!(
            errors(json!({"Choices": [{"NextStep": "a", "Not": {"Variable": "x", "StringEquals": "y"}, "Or": []}]})),
            vec![err("Choices[0]", "more than one operator: Not, Or")]
        );
    }

    #[test]
    fn nested_paths_and_all_errors_reported() {
        let e = errors(json!({
            "Choices": [
                {"NextStep": "a", "Variable": "x", "StringEquals": "y"},
                {"NextStep": "b", "And": [
                    {"Variable": "x", "NumericGreatr": 1},
                    {"NumericEquals": 1},
                    {"Not": {"Variable": "x"}},
                    {"NextStep": "c", "Variable": "x", "StringEquals": "y"},
                    "text"
                ]},
                {"Or": [], "Variable": "v"},
                {"NextStep": "d", "Not": "x"}
            ],
            "Default": 5
        }));
        assert_eq!(
            e,
            vec![
                err("Choices[1].And[0]", "unknown operator \"NumericGreatr\" (did you mean NumericGreater?)"),
                err("Choices[1].And[1]", "missing Variable"),
                err(
                    "Choices[1].And[2].Not",
                    "missing operator; expected one of StringEquals, EqualsIgnoreCase, StartsWith, EndsWith, \
                     Contains, NumericEquals, NumericGreater, NumericGreaterOrEquals, NumericLesser, \
                     NumericLesserOrEquals, BooleanEquals, And, Or, Not, Variable"
                ),
                err("Choices[1].And[3]", "NextStep is only allowed at the top of a choice, not in a nested condition"),
                err("Choices[1].And[4]", "a condition must be a map"),
                err("Choices[2]", "missing NextStep"),
                err("Choices[2]", "Variable is not allowed with Or"),
                err("Choices[2].Or", "Or must be a non-empty list of conditions"),
                err("Choices[3].Not", "a condition must be a map"),
                err("Default", "Default must be a step name"),
            ]
        );
    }

    #[test]
    fn choices_shape() {
        assert_eq!(errors(json!({})), vec![err("", "missing Choices")]);
        assert_eq!(errors(json!({"Choices": []})), vec![err("Choices", "Choices must be a non-empty list")]);
        assert_eq!(errors(json!({"Choices": {}})), vec![err("Choices", "Choices must be a non-empty list")]);
        assert_eq!(errors(json!({"Choices": ["x"]})), vec![err("Choices[0]", "a choice must be a map with NextStep and a condition")]);
        assert_eq!(errors(json!("x")), vec![err("", "aws:branch inputs must be a map with Choices")]);
    }

    #[test]
    fn string_operators() {
        assert_eq!(holds("StringEquals", json!("Linux"), json!("Linux")), Ok(true));
        assert_eq!(holds("StringEquals", json!("Linux"), json!("linux")), Ok(false));
        assert_eq!(holds("StringEquals", json!(""), json!("")), Ok(true));
        assert_eq!(holds("StringEquals", json!(5), json!("5")), Ok(true));
        assert_eq!(holds("EqualsIgnoreCase", json!("Linux"), json!("LINUX")), Ok(true));
        assert_eq!(holds("EqualsIgnoreCase", json!("Linux"), json!("Windows")), Ok(false));
        assert_eq!(holds("StartsWith", json!("i-123"), json!("i-")), Ok(true));
        assert_eq!(holds("StartsWith", json!("i-123"), json!("123")), Ok(false));
        assert_eq!(holds("EndsWith", json!("file.log"), json!(".log")), Ok(true));
        assert_eq!(holds("EndsWith", json!("file.log"), json!(".txt")), Ok(false));
        assert_eq!(holds("Contains", json!("running fine"), json!("fine")), Ok(true));
        assert_eq!(holds("Contains", json!("running fine"), json!("bad")), Ok(false));
    }

    #[test]
    fn contains_on_a_list_checks_membership() {
        assert_eq!(holds("Contains", json!(["a", "b"]), json!("b")), Ok(true));
        assert_eq!(holds("Contains", json!(["ab", "c"]), json!("b")), Ok(false));
        assert_eq!(holds("Contains", json!([1, 2]), json!("2")), Ok(true));
        assert_eq!(holds("Contains", json!([]), json!("a")), Ok(false));
    }

    #[test]
    fn string_operator_type_errors() {
        assert_eq!(holds("StringEquals", json!({"a": 1}), json!("x")), Err("StringEquals: Variable {\"a\":1} is not a string".into()));
        assert_eq!(holds("StartsWith", json!("x"), json!(["x"])), Err("StartsWith: operand [\"x\"] is not a string".into()));
        assert_eq!(holds("Contains", json!(["x"]), json!(null)), Err("Contains: operand null is not a string".into()));
    }

    #[test]
    fn numeric_operators() {
        assert_eq!(holds("NumericEquals", json!(3), json!(3)), Ok(true));
        assert_eq!(holds("NumericEquals", json!("3"), json!(3.0)), Ok(true));
        assert_eq!(holds("NumericEquals", json!(3), json!(4)), Ok(false));
        assert_eq!(holds("NumericGreater", json!(5), json!("4")), Ok(true));
        assert_eq!(holds("NumericGreater", json!(4), json!(4)), Ok(false));
        assert_eq!(holds("NumericGreaterOrEquals", json!(4), json!(4)), Ok(true));
        assert_eq!(holds("NumericGreaterOrEquals", json!(3.5), json!(4)), Ok(false));
        assert_eq!(holds("NumericLesser", json!(" 2 "), json!(2.5)), Ok(true));
        assert_eq!(holds("NumericLesser", json!(3), json!(2)), Ok(false));
        assert_eq!(holds("NumericLesserOrEquals", json!(2), json!(2)), Ok(true));
        assert_eq!(holds("NumericLesserOrEquals", json!(3), json!(2)), Ok(false));
        // Exact for large integers.
        assert_eq!(holds("NumericGreater", json!(9007199254740993u64), json!(9007199254740992u64)), Ok(true));
    }

    #[test]
    fn numeric_type_errors() {
        assert_eq!(holds("NumericEquals", json!("abc"), json!(1)), Err("NumericEquals: Variable \"abc\" is not a number".into()));
        assert_eq!(holds("NumericGreater", json!(1), json!(true)), Err("NumericGreater: operand true is not a number".into()));
        assert_eq!(holds("NumericLesser", json!(1), json!("NaN")), Err("NumericLesser: operand \"NaN\" is not a number".into()));
    }

    #[test]
    fn boolean_equals() {
        assert_eq!(holds("BooleanEquals", json!(true), json!(true)), Ok(true));
        assert_eq!(holds("BooleanEquals", json!("TRUE"), json!(true)), Ok(true));
        assert_eq!(holds("BooleanEquals", json!(false), json!("true")), Ok(false));
        assert_eq!(holds("BooleanEquals", json!("yes"), json!(true)), Err("BooleanEquals: Variable \"yes\" is not a boolean".into()));
        assert_eq!(holds("BooleanEquals", json!(true), json!(1)), Err("BooleanEquals: operand 1 is not a boolean".into()));
    }

    fn cmp(v: &str, s: &str) -> Condition {
        Condition::Compare { variable: json!(v), op: Operator::StringEquals, operand: json!(s) }
    }

    #[test]
    fn and_or_not() {
        let t = || cmp("a", "a");
        let f = || cmp("a", "b");
        assert_eq!(Condition::And(vec![t(), t()]).evaluate(), Ok(true));
        assert_eq!(Condition::And(vec![t(), f()]).evaluate(), Ok(false));
        assert_eq!(Condition::Or(vec![f(), t()]).evaluate(), Ok(true));
        assert_eq!(Condition::Or(vec![f(), f()]).evaluate(), Ok(false));
        assert_eq!(Condition::Not(Box::new(f())).evaluate(), Ok(true));
        assert_eq!(Condition::Not(Box::new(t())).evaluate(), Ok(false));
        let bad = Condition::Compare { variable: json!("x"), op: Operator::NumericEquals, operand: json!(1) };
        assert!(Condition::And(vec![t(), bad.clone()]).evaluate().is_err());
        assert!(Condition::Not(Box::new(bad)).evaluate().is_err());
    }

    #[test]
    fn decide_picks_first_match_then_default() {
        let rule = |c: Condition, n: &str| ChoiceRule { condition: c, next_step: n.into() };
        let mut branch = Branch {
            choices: vec![rule(cmp("a", "b"), "one"), rule(cmp("a", "a"), "two"), rule(cmp("b", "b"), "three")],
            default: Some("fallback".into()),
        };
        assert_eq!(branch.decide(), Ok(Some("two")));
        branch.choices.remove(1);
        branch.choices.remove(1);
        assert_eq!(branch.decide(), Ok(Some("fallback")));
        branch.default = None;
        assert_eq!(branch.decide(), Ok(None));
        branch.choices.push(rule(Condition::Compare { variable: json!("x"), op: Operator::NumericEquals, operand: json!(1) }, "bad"));
        assert_eq!(branch.decide(), Err("Choices[1]: NumericEquals: Variable \"x\" is not a number".into()));
    }
}
