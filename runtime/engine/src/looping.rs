//! `aws:loop`: what the loop step's record holds while its steps run, and whether
//! another iteration follows.
//!
//! Semantics (AWS Systems Manager user guide, "aws:loop – Iterate over steps in an
//! automation"): with `Iterators` the steps run once per item; with `LoopCondition`
//! (a do-while loop) "the condition is evaluated after the steps in the loop complete.
//! If the condition is true and the MaxIterations value has not been reached", the
//! steps run again, so the loop ends when the condition is false. "The maximum number
//! of iterations is 100": reaching `MaxIterations` (default 100) ends the loop with
//! success, like running out of items. `CurrentIteration` counts from 1.
//!
//! The loop step's record is the loop's durable state: its inputs hold the resolved
//! `Iterators` and `MaxIterations`, its outputs `CurrentIteration` and
//! `CurrentIteratorValue`, committed with the first step of each iteration. The steps
//! inside the loop are ordinary records after it in the history.

use bosun_document::choice::parse_loop_condition;
use bosun_document::interpolate::interpolate;
use bosun_document::validate::MAX_LOOP_ITERATIONS;
use serde_json::{Map, Value, json};

use crate::resolve::ExecutionResolver;

pub const CURRENT_ITERATION: &str = "CurrentIteration";
pub const CURRENT_ITERATOR_VALUE: &str = "CurrentIteratorValue";

/// Inputs of the loop step that are interpolated when it begins: everything but its
/// steps and its condition, which are interpolated when they are used.
pub fn begin_inputs(inputs: &Value) -> Value {
    match inputs {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(k, _)| *k != "Steps" && *k != "LoopCondition").map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

/// How many iterations at most, and the items for a for-each loop.
pub struct Plan {
    pub items: Option<Vec<Value>>,
    pub max: u64,
}

/// Reads the interpolated inputs of a loop step.
pub fn plan(inputs: &Value) -> Result<Plan, String> {
    let max = match inputs.get("MaxIterations") {
        None | Some(Value::Null) => MAX_LOOP_ITERATIONS,
        Some(value) => {
            let n = value.as_u64().or_else(|| value.as_str().and_then(|t| t.trim().parse().ok()));
            match n {
                Some(n) if (1..=MAX_LOOP_ITERATIONS).contains(&n) => n,
                _ => return Err(format!("MaxIterations must be an integer from 1 to {MAX_LOOP_ITERATIONS}, got {value}")),
            }
        }
    };
    let items = match inputs.get("Iterators") {
        None => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(Value::Null) => return Err("Iterators is null; expected a list".into()),
        // A single value (a String parameter, say) is a list of one.
        Some(other) => Some(vec![other.clone()]),
    };
    Ok(Plan { items, max })
}

/// The outputs of a loop step during (and at the end of) iteration `n`.
pub fn iteration_outputs(n: u64, value: Option<&Value>) -> Map<String, Value> {
    let mut outputs = Map::new();
    outputs.insert(CURRENT_ITERATION.into(), json!(n));
    if let Some(value) = value {
        outputs.insert(CURRENT_ITERATOR_VALUE.into(), value.clone());
    }
    outputs
}

/// The iteration a loop step's record is at (0 before the first).
pub fn current_iteration(outputs: &Map<String, Value>) -> u64 {
    outputs.get(CURRENT_ITERATION).and_then(Value::as_u64).unwrap_or(0)
}

/// Whether the loop runs again after `done` iterations: items remain, or the condition
/// holds, and `MaxIterations` is not reached.
pub fn runs_again(plan: &Plan, done: u64, condition: Option<&Value>, resolver: &ExecutionResolver<'_>) -> Result<bool, String> {
    if done >= plan.max {
        return Ok(false);
    }
    if let Some(items) = &plan.items {
        return Ok((done as usize) < items.len());
    }
    let Some(condition) = condition else {
        return Err("aws:loop needs Iterators or LoopCondition".into());
    };
    let condition = interpolate(condition, resolver).map_err(|e| format!("LoopCondition: {e}"))?;
    let parsed = parse_loop_condition(&condition)
        .map_err(|errors| errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; "))?;
    parsed.evaluate().map_err(|e| format!("LoopCondition: {e}"))
}
