//! Command step preconditions: `{StringEquals: [platformType, Linux]}`, where
//! `platformType` stands for this node's platform type. A false precondition
//! skips the step.

use serde_json::Value;

use super::params::DocParams;

/// `Ok(None)` when the step runs, `Ok(Some(reason))` when it is skipped, `Err` when
/// the precondition cannot be evaluated.
pub fn check(precondition: &Value, params: &DocParams, platform_type: &str) -> Result<Option<String>, String> {
    let precondition = params.interpolate(precondition).map_err(|e| format!("precondition: {}: {}", e.reference, e.message))?;
    let Some(operators) = precondition.as_object() else {
        return Err(format!("precondition: expected a map such as {{StringEquals: [platformType, Linux]}}, found {precondition}"));
    };
    for (operator, operands) in operators {
        if operator != "StringEquals" {
            return Err(format!("precondition: unknown operator \"{operator}\"; only StringEquals is supported"));
        }
        let pair: Option<Vec<&str>> = operands.as_array().map(|items| items.iter().filter_map(Value::as_str).collect());
        let [left, right] = pair.as_deref().unwrap_or_default() else {
            return Err(format!("precondition: StringEquals expects a list of two strings, found {operands}"));
        };
        let value = |operand: &str| if operand == "platformType" { platform_type.to_string() } else { operand.to_string() };
        if value(left) != value(right) {
            return Ok(Some(format!(
                "the precondition StringEquals [{left}, {right}] is false on this node (platformType {platform_type})"
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use bosun_document::actions::StructureOnly;
    use bosun_protocol::JsonMap;
    use serde_json::json;

    use super::*;

    fn params() -> DocParams {
        let text = "schemaVersion: '2.2'\nparameters:\n  Os: {type: String, default: Linux}\nmainSteps:\n- {name: a, action: aws:runShellScript, inputs: {runCommand: [ls]}}\n";
        DocParams::new(&bosun_document::load("d.yaml", text, &StructureOnly).document.unwrap(), &JsonMap::new(), "mi-1")
    }

    #[test]
    fn platform_type_decides() {
        let p = params();
        assert_eq!(check(&json!({"StringEquals": ["platformType", "Linux"]}), &p, "Linux"), Ok(None));
        assert_eq!(check(&json!({"StringEquals": ["Linux", "platformType"]}), &p, "Linux"), Ok(None));
        assert_eq!(check(&json!({"StringEquals": ["platformType", "{{ Os }}"]}), &p, "Linux"), Ok(None));
        let skipped = check(&json!({"StringEquals": ["platformType", "Windows"]}), &p, "Linux").unwrap().unwrap();
        assert!(skipped.contains("[platformType, Windows] is false"), "{skipped}");
    }

    #[test]
    fn malformed_preconditions_are_errors() {
        let p = params();
        assert!(check(&json!({"StringLike": ["a", "b"]}), &p, "Linux").is_err());
        assert!(check(&json!({"StringEquals": ["a"]}), &p, "Linux").is_err());
        assert!(check(&json!("platformType"), &p, "Linux").is_err());
        assert!(check(&json!({"StringEquals": ["{{ Missing }}", "b"]}), &p, "Linux").is_err());
    }
}
