//! `PropertySelector` and `DesiredValues`: the values a JSONPath selects from
//! an answer, and whether they are all among the desired ones.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A compiled `$`-rooted selector.
#[derive(Debug)]
pub struct Selector {
    text: String,
    path: JsonPath,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        if !text.starts_with('$') {
            return Err(format!("PropertySelector {text:?} must start with $ (e.g. $.Reservations[0].Instances[0].State.Name)"));
        }
        let path = JsonPath::parse(text).map_err(|e| format!("PropertySelector {text:?}: {e}"))?;
        Ok(Selector { text: text.to_string(), path })
    }

    /// Every value selected, as text; a selected list gives its items.
    pub fn values(&self, answer: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for found in self.path.query(answer).all() {
            match found {
                Value::Array(items) => out.extend(items.iter().map(text)),
                other => out.push(text(other)),
            }
        }
        out
    }

    /// `Ok` when something is selected and every value is desired; else why not.
    pub fn check(&self, answer: &Value, desired: &[String]) -> Result<(), String> {
        let values = self.values(answer);
        if values.is_empty() {
            return Err(format!("{} selects nothing", self.text));
        }
        match values.iter().find(|v| !desired.contains(v)) {
            None => Ok(()),
            Some(other) => Err(format!("{} is {other:?}, not one of {desired:?}", self.text)),
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_selected_value_must_be_desired() {
        let answer = json!({"Reservations": [{"Instances": [{"State": {"Name": "running"}}, {"State": {"Name": "pending"}}]}]});
        let one = Selector::parse("$.Reservations[0].Instances[0].State.Name").unwrap();
        assert!(one.check(&answer, &["running".into()]).is_ok());
        let all = Selector::parse("$.Reservations[*].Instances[*].State.Name").unwrap();
        assert_eq!(
            all.check(&answer, &["running".into()]).unwrap_err(),
            "$.Reservations[*].Instances[*].State.Name is \"pending\", not one of [\"running\"]"
        );
        assert!(all.check(&answer, &["running".into(), "pending".into()]).is_ok());
        assert!(Selector::parse("$.Nothing").unwrap().check(&answer, &["x".into()]).unwrap_err().contains("selects nothing"));
    }

    #[test]
    fn bad_selectors_are_refused() {
        assert!(Selector::parse("Reservations[0]").unwrap_err().contains("must start with $"));
        assert!(Selector::parse("$.[[").is_err());
    }
}
