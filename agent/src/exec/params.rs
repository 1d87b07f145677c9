//! Parameter values inside a document run: `{{ Name }}` resolution, the
//! pseudo-parameters a node can answer, and `interpolationType: ENV_VAR`
//! parameters, which reach scripts as `SSM_<Name>` environment variables instead
//! of being pasted into shell text.

use std::collections::BTreeSet;

use bosun_document::Document;
use bosun_document::interpolate::{InterpolateError, Reference, Resolver, interpolate, render_text};
use bosun_protocol::JsonMap;
use serde_json::Value;

/// The pseudo-parameters that name the node itself.
const NODE_ID_PSEUDO_PARAMETERS: &[&str] = &["TARGET_ID", "INSTANCE_ID", "RESOURCE_ID"];

/// The parameter values of one document run.
#[derive(Debug, Clone)]
pub struct DocParams {
    values: JsonMap,
    /// Names of the parameters declared with `interpolationType: ENV_VAR`.
    env_vars: BTreeSet<String>,
    node_id: String,
}

impl DocParams {
    /// The document's declared parameters: each given value, else its default.
    /// Given names the document does not declare are left out.
    pub fn new(doc: &Document, given: &JsonMap, node_id: &str) -> Self {
        let mut values = JsonMap::new();
        for spec in &doc.parameters {
            if let Some(v) = given.get(&spec.name).or(spec.default.as_ref()) {
                values.insert(spec.name.clone(), v.clone());
            }
        }
        Self { values, env_vars: env_var_parameters(doc), node_id: node_id.to_string() }
    }

    /// `SSM_<Name>` for each ENV_VAR parameter that has a value.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_vars.iter().filter_map(|name| Some((format!("SSM_{name}"), render_text(self.values.get(name)?)))).collect()
    }

    /// Interpolates values into step inputs and preconditions.
    pub fn interpolate(&self, value: &Value) -> Result<Value, InterpolateError> {
        interpolate(value, &ParamResolver { params: self, shell_text: false })
    }

    /// Interpolates shell text: ENV_VAR parameters become `${SSM_<Name>}`.
    pub fn interpolate_shell(&self, value: &Value) -> Result<Value, InterpolateError> {
        interpolate(value, &ParamResolver { params: self, shell_text: true })
    }

    /// ENV_VAR parameters whose names cannot be shell variable names.
    pub fn unusable_env_names(&self) -> Vec<&str> {
        self.env_vars.iter().map(String::as_str).filter(|n| !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).collect()
    }
}

/// Names of the parameters declared with `interpolationType: ENV_VAR`, read from the
/// source (the document model does not keep the field).
fn env_var_parameters(doc: &Document) -> BTreeSet<String> {
    let Some(entries) = doc.node.get("parameters").and_then(|p| p.as_map()) else {
        return BTreeSet::new();
    };
    entries
        .iter()
        .filter(|(_, spec)| spec.get("interpolationType").and_then(|t| t.as_str()) == Some("ENV_VAR"))
        .map(|(key, _)| key.name.clone())
        .collect()
}

struct ParamResolver<'a> {
    params: &'a DocParams,
    shell_text: bool,
}

impl Resolver for ParamResolver<'_> {
    fn resolve(&self, reference: &Reference) -> Result<Value, InterpolateError> {
        let fail = |message: String| Err(InterpolateError { reference: String::new(), message });
        match reference {
            Reference::Param(name) if self.shell_text && self.params.env_vars.contains(name) => {
                Ok(Value::String(format!("${{SSM_{name}}}")))
            }
            Reference::Param(name) => match self.params.values.get(name) {
                Some(v) => Ok(v.clone()),
                None if NODE_ID_PSEUDO_PARAMETERS.contains(&name.as_str()) => Ok(Value::String(self.params.node_id.clone())),
                None => fail(format!("the parameter \"{name}\" has no value")),
            },
            Reference::Ssm { name, .. } => fail(format!(
                "the Parameter Store reference \"{name}\" was not resolved by the server; the agent cannot read Parameter Store"
            )),
            Reference::StepOutput { step, output } => {
                fail(format!("step outputs such as {step}.{output} are not available in Command documents"))
            }
            Reference::Global(name) => fail(format!("global:{name} is not available on the node")),
            Reference::Automation(name) => fail(format!("automation:{name} is only available in Automation documents")),
        }
    }
}

#[cfg(test)]
mod tests {
    use bosun_document::actions::StructureOnly;
    use serde_json::json;

    use super::*;

    fn doc() -> Document {
        let text = concat!(
            "schemaVersion: '2.2'\n",
            "parameters:\n",
            "  Message: {type: String, default: hello, interpolationType: ENV_VAR}\n",
            "  Count: {type: Integer, default: 2}\n",
            "mainSteps:\n",
            "- name: s\n",
            "  action: aws:runShellScript\n",
            "  inputs: {runCommand: ['echo {{ Message }} {{ Count }}']}\n",
        );
        bosun_document::load("d.yaml", text, &StructureOnly).document.unwrap()
    }

    #[test]
    fn env_var_parameters_are_not_pasted_into_shell_text() {
        let mut given = JsonMap::new();
        given.insert("Message".into(), json!("$(rm -rf /)"));
        let p = DocParams::new(&doc(), &given, "mi-1");
        assert_eq!(p.interpolate_shell(&json!("echo {{ Message }} {{ Count }}")).unwrap(), json!("echo ${SSM_Message} 2"));
        assert_eq!(p.interpolate(&json!("{{ Message }}")).unwrap(), json!("$(rm -rf /)"));
        assert_eq!(p.env(), [("SSM_Message".to_string(), "$(rm -rf /)".to_string())]);
    }

    #[test]
    fn pseudo_parameters_and_unresolvable_references() {
        let p = DocParams::new(&doc(), &JsonMap::new(), "mi-7");
        assert_eq!(p.interpolate(&json!("{{ INSTANCE_ID }}")).unwrap(), json!("mi-7"));
        let err = p.interpolate(&json!("{{ ssm:/db/password }}")).unwrap_err();
        assert!(err.message.contains("Parameter Store"), "{err}");
        assert_eq!(err.reference, "{{ ssm:/db/password }}");
        assert!(p.interpolate(&json!("{{ Nope }}")).is_err());
    }
}
