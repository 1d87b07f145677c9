//! `{{ ssm:... }}` and `{{ ssm-secure:... }}` in a command's parameter values
//! (defaults included). The stored command keeps the references; they are checked
//! when the command is sent and resolved when an invocation is handed to its node,
//! with the permissions of whoever sent it, so a node receives the values of its own
//! command only, and the plaintext is never stored. What a node reports is masked:
//! every secure value becomes `***` before the report is stored.

use bosun_document::interpolate::{Reference, scan};
use bosun_engine::ParameterSource;
use serde_json::Value;

use crate::params::Parameters;

/// Whether any string in `parameters` holds a Parameter Store reference.
pub fn has_references(parameters: &serde_json::Map<String, Value>) -> bool {
    parameters
        .values()
        .any(|v| strings(v).iter().any(|s| s.contains("{{") && scan(s).iter().any(|f| matches!(f.reference, Ok(Reference::Ssm { .. })))))
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// `text` with its Parameter Store references replaced; other `{{ }}` text stays as it
/// is (a shell script may hold its own braces). Secure values are pushed on `secrets`.
fn substitute(text: &str, source: &Parameters, principal: Option<&str>, secrets: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for found in scan(text) {
        let Ok(Reference::Ssm { name, secure }) = &found.reference else { continue };
        let value = source.parameter(principal, name, *secure)?;
        out.push_str(&text[from..found.start]);
        out.push_str(&value);
        if *secure {
            secrets.push(value);
        }
        from = found.end;
    }
    out.push_str(&text[from..]);
    Ok(out)
}

fn substitute_value(value: &Value, source: &Parameters, principal: Option<&str>, secrets: &mut Vec<String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(s, source, principal, secrets)?),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_value(v, source, principal, secrets)).collect::<Result<_, _>>()?)
        }
        other => other.clone(),
    })
}

/// A command's parameters with their references resolved.
pub struct Resolved {
    pub parameters: serde_json::Map<String, Value>,
    /// The secure values among them, to mask.
    pub secrets: Vec<String>,
}

/// The parameters with their references resolved, and the secure values among them.
pub fn resolve(parameters: &serde_json::Map<String, Value>, source: &Parameters, principal: Option<&str>) -> Result<Resolved, String> {
    let mut secrets = Vec::new();
    let mut resolved = serde_json::Map::new();
    for (name, value) in parameters {
        let value = substitute_value(value, source, principal, &mut secrets).map_err(|e| format!("parameters.{name}: {e}"))?;
        resolved.insert(name.clone(), value);
    }
    Ok(Resolved { parameters: resolved, secrets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::params::{ParameterType, PutParameter};
    use std::sync::Arc;

    #[test]
    fn references_are_resolved_and_other_braces_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(bosun_store::Store::open(dir.path(), bosun_store::Durability::Normal).unwrap());
        let key = Arc::new(bosun_store::MasterKey::generate().unwrap());
        let put = |name: &str, value: &str, kind| PutParameter {
            name: name.into(),
            value: value.into(),
            kind: Some(kind),
            description: None,
            allowed_pattern: None,
            data_type: None,
            tier: None,
            policies: None,
            overwrite: false,
        };
        store.put_parameter(put("/url", "https://x", ParameterType::String), "ops", None).unwrap();
        store.put_parameter(put("/pw", "hunter2", ParameterType::SecureString), "ops", Some(key.clone())).unwrap();
        let params = Parameters::new(store, Some(key));
        let given: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({
            "commands": ["curl {{ ssm:/url }} -u me:{{ssm-secure:/pw}}", "echo '{{ .Go }}'"],
            "plain": "x"
        }))
        .unwrap();
        assert!(has_references(&given));
        let Resolved { parameters: resolved, secrets } = resolve(&given, &params, None).unwrap();
        assert_eq!(resolved["commands"][0], "curl https://x -u me:hunter2");
        assert_eq!(resolved["commands"][1], "echo '{{ .Go }}'");
        assert_eq!(secrets, ["hunter2"]);
        assert_eq!(bosun_engine::resolve::mask_text("pw=hunter2!", &secrets), "pw=***!");
        let missing: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({"x": "{{ ssm:/nope }}"})).unwrap();
        assert!(resolve(&missing, &params, None).err().unwrap_or_default().starts_with("parameters.x: no parameter"));
        let wrong_kind: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({"x": "{{ ssm:/pw }}"})).unwrap();
        assert!(resolve(&wrong_kind, &params, None).err().unwrap_or_default().contains("ssm-secure"));
        assert!(!has_references(&serde_json::from_value(serde_json::json!({"x": "{{ .Go }}"})).unwrap()));
    }
}
