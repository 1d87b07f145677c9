//! Answers `{{ ... }}` references for one execution: parameters, outputs of
//! steps that ran, `automation:` and `global:` variables, and Parameter Store
//! values (`ssm:`, `ssm-secure:`) from a [`ParameterSource`], read with the
//! permissions of whoever started the execution. Secure values are `***` unless the
//! resolver is asked to reveal them (for the action's call, never for storage); the
//! values it revealed are kept so that what the action returns can be masked.

use std::cell::RefCell;

use bosun_document::interpolate::{InterpolateError, Reference, Resolver};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::record::StepRecord;
use crate::status::StepStatus;

/// Account-wide values for `{{ global:... }}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub account_id: String,
    pub region: String,
    pub partition: String,
    pub url_suffix: String,
}

impl Default for Globals {
    fn default() -> Self {
        Self { account_id: "000000000000".into(), region: "local".into(), partition: "aws".into(), url_suffix: "amazonaws.com".into() }
    }
}

/// Where `{{ ssm:... }}` values come from.
pub trait ParameterSource: Send + Sync {
    /// The value a selector (`/name`, `/name:3`, `/name:label`) picks, read as
    /// `principal` (None: unrestricted); `secure` for `ssm-secure:` (decrypted).
    /// Messages never hold a secure value.
    fn parameter(&self, principal: Option<&str>, selector: &str, secure: bool) -> Result<String, String>;
}

/// What stands for a secure value wherever it would be stored or shown.
pub const MASK: &str = "***";

/// What `{{ ssm-secure:... }}` becomes (after its access is checked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Secure {
    /// [`MASK`]: what is stored and shown.
    #[default]
    Mask,
    /// The plaintext: for an action's call only.
    Reveal,
    /// The reference as written: for an action that resolves it itself.
    Keep,
}

/// How a resolver reads Parameter Store references.
#[derive(Clone, Copy, Default)]
pub struct ParameterAccess<'a> {
    pub source: Option<&'a dyn ParameterSource>,
    pub principal: Option<&'a str>,
    pub secure: Secure,
}

pub struct ExecutionResolver<'a> {
    pub execution_id: &'a str,
    pub parameters: &'a Map<String, Value>,
    pub steps: &'a [StepRecord],
    pub globals: &'a Globals,
    pub now: DateTime<Utc>,
    pub parameter_store: ParameterAccess<'a>,
    /// The secure values revealed so far.
    pub revealed: RefCell<Vec<String>>,
}

impl ExecutionResolver<'_> {
    fn step_output(&self, step: &str, output: &str) -> Result<Value, String> {
        let record = self
            .steps
            .iter()
            .rev()
            // A running aws:loop answers with its current iteration.
            .find(|s| s.name == step && (s.status == StepStatus::Success || (s.action == "aws:loop" && !s.status.is_terminal())))
            .ok_or_else(|| format!("step \"{step}\" has not completed successfully"))?;
        record.outputs.get(output).cloned().ok_or_else(|| format!("step \"{step}\" has no output \"{output}\""))
    }

    fn global(&self, name: &str) -> Result<Value, String> {
        let text = match name {
            "ACCOUNT_ID" => self.globals.account_id.clone(),
            "REGION" => self.globals.region.clone(),
            "AWS_PARTITION" => self.globals.partition.clone(),
            "URL_SUFFIX" => self.globals.url_suffix.clone(),
            "DATE" => self.now.format("%Y-%m-%d").to_string(),
            "DATE_TIME" => self.now.format("%Y-%m-%d_%H.%M.%S").to_string(),
            other => return Err(format!("unknown variable global:{other}")),
        };
        Ok(Value::String(text))
    }

    fn ssm(&self, name: &str, secure: bool) -> Result<Value, String> {
        let access = &self.parameter_store;
        let source = access
            .source
            .ok_or_else(|| format!("parameter store reference \"{name}\" cannot be resolved: Parameter Store is not available here"))?;
        let value = source.parameter(access.principal, name, secure)?;
        if !secure {
            return Ok(Value::String(value));
        }
        match access.secure {
            Secure::Mask => Ok(Value::String(MASK.into())),
            Secure::Keep => Ok(Value::String(format!("{{{{ ssm-secure:{name} }}}}"))),
            Secure::Reveal => {
                self.revealed.borrow_mut().push(value.clone());
                Ok(Value::String(value))
            }
        }
    }
}

/// Replaces every occurrence of each secret in the strings of `value` with [`MASK`].
pub fn mask(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => *text = mask_text(text, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| mask(v, secrets)),
        _ => {}
    }
}

/// `text` with every occurrence of each secret replaced by [`MASK`].
pub fn mask_text(text: &str, secrets: &[String]) -> String {
    secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |text, secret| text.replace(secret.as_str(), MASK))
}

impl Resolver for ExecutionResolver<'_> {
    fn resolve(&self, reference: &Reference) -> Result<Value, InterpolateError> {
        let result = match reference {
            Reference::Param(name) => self.parameters.get(name).cloned().ok_or_else(|| format!("parameter \"{name}\" has no value")),
            Reference::StepOutput { step, output } => self.step_output(step, output),
            Reference::Automation(name) if name == "EXECUTION_ID" => Ok(Value::String(self.execution_id.to_string())),
            Reference::Automation(name) => Err(format!("unknown variable automation:{name}")),
            Reference::Global(name) => self.global(name),
            Reference::Ssm { name, secure } => self.ssm(name, *secure),
        };
        result.map_err(|message| InterpolateError { reference: describe(reference), message })
    }
}

fn describe(reference: &Reference) -> String {
    match reference {
        Reference::Param(name) => name.clone(),
        Reference::StepOutput { step, output } => format!("{step}.{output}"),
        Reference::Automation(name) => format!("automation:{name}"),
        Reference::Global(name) => format!("global:{name}"),
        Reference::Ssm { name, secure: false } => format!("ssm:{name}"),
        Reference::Ssm { name, secure: true } => format!("ssm-secure:{name}"),
    }
}
