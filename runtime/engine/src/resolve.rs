//! Answers `{{ ... }}` references for one execution: parameters, outputs of
//! steps that ran, `automation:` and `global:` variables.

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

pub struct ExecutionResolver<'a> {
    pub execution_id: &'a str,
    pub parameters: &'a Map<String, Value>,
    pub steps: &'a [StepRecord],
    pub globals: &'a Globals,
    pub now: DateTime<Utc>,
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
}

impl Resolver for ExecutionResolver<'_> {
    fn resolve(&self, reference: &Reference) -> Result<Value, InterpolateError> {
        let result = match reference {
            Reference::Param(name) => self.parameters.get(name).cloned().ok_or_else(|| format!("parameter \"{name}\" has no value")),
            Reference::StepOutput { step, output } => self.step_output(step, output),
            Reference::Automation(name) if name == "EXECUTION_ID" => Ok(Value::String(self.execution_id.to_string())),
            Reference::Automation(name) => Err(format!("unknown variable automation:{name}")),
            Reference::Global(name) => self.global(name),
            Reference::Ssm { name, .. } => {
                Err(format!("parameter store reference \"{name}\" cannot be resolved: Parameter Store is not available here"))
            }
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
