//! `aws:branch` choices: parse the `Choices` list and evaluate a condition.
use serde_json::Value;

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

/// Parses a step's `inputs` as `aws:branch` inputs, reporting every problem.
pub fn parse_branch(inputs: &Value) -> Result<Branch, Vec<ChoiceError>> {
    let _ = inputs;
    unimplemented!()
}

impl Condition {
    /// Evaluates with `variable` already interpolated. An operand of the wrong type is an error.
    pub fn evaluate(&self) -> Result<bool, String> {
        unimplemented!()
    }
}

impl Branch {
    /// The step to go to: the first choice that holds, else `Default`, else `None`.
    pub fn decide(&self) -> Result<Option<&str>, String> {
        unimplemented!()
    }
}
