//! Parameter values: check and coerce what a caller gives against the declared specs.
use serde_json::{Map, Value};

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

/// Every declared parameter's value: the given one coerced, or the default.
pub fn resolve_parameters(
    specs: &[ParameterSpec],
    given: &[(String, ParamInput)],
) -> Result<Map<String, Value>, Vec<ParamError>> {
    let _ = (specs, given);
    unimplemented!()
}

/// The candidate closest to `word` (ignoring case), when one is close enough
/// to be a likely typo. Used for did-you-mean hints across the crate.
pub fn closest_name<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub fn coerce(spec: &ParameterSpec, input: &ParamInput) -> Result<Value, String> {
    let _ = (spec, input, ParamType::String);
    unimplemented!()
}
