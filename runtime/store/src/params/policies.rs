//! Parameter policies in SSM's JSON format: `Expiration` (delete at a timestamp),
//! `ExpirationNotification` (an event a set time before the expiration) and
//! `NoChangeNotification` (an event a set time after the last change). Parsing is
//! strict; [`due`] says when each policy of a version is due.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::ParamError;

/// The most policies one parameter may have.
pub const MAX_POLICIES: usize = 10;
/// The longest policies text.
pub const MAX_POLICIES_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    Expiration { at: DateTime<Utc> },
    ExpirationNotification { before: Duration },
    NoChangeNotification { after: Duration },
}

impl Policy {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Expiration { .. } => "Expiration",
            Self::ExpirationNotification { .. } => "ExpirationNotification",
            Self::NoChangeNotification { .. } => "NoChangeNotification",
        }
    }
}

fn invalid(message: String) -> ParamError {
    ParamError::Invalid { field: "policies".into(), message }
}

/// A count of `Days` or `Hours`, as SSM writes it (a number in a string, or a number).
fn span(attributes: &serde_json::Map<String, Value>, key: &str, at: usize) -> Result<Duration, ParamError> {
    let amount = match attributes.get(key) {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .filter(|n| (1..=36_500).contains(n))
    .ok_or_else(|| invalid(format!("policies[{at}].Attributes.{key} must be a whole number from 1 to 36500")))?;
    match attributes.get("Unit").and_then(Value::as_str) {
        Some("Days") => Ok(Duration::days(amount)),
        Some("Hours") => Ok(Duration::hours(amount)),
        _ => Err(invalid(format!("policies[{at}].Attributes.Unit must be \"Days\" or \"Hours\""))),
    }
}

fn parse_one(value: &Value, at: usize) -> Result<Policy, ParamError> {
    let object = value.as_object().ok_or_else(|| invalid(format!("policies[{at}] must be an object")))?;
    if let Some(key) = object.keys().find(|k| !["Type", "Version", "Attributes"].contains(&k.as_str())) {
        return Err(invalid(format!("policies[{at}] has an unknown field \"{key}\"")));
    }
    if let Some(version) = object.get("Version")
        && version.as_str() != Some("1.0")
    {
        return Err(invalid(format!("policies[{at}].Version must be \"1.0\"")));
    }
    let attributes = object
        .get("Attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(format!("policies[{at}].Attributes must be an object")))?;
    match object.get("Type").and_then(Value::as_str) {
        Some("Expiration") => {
            let text = attributes
                .get("Timestamp")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("policies[{at}].Attributes.Timestamp must be an ISO 8601 time")))?;
            let at_time = DateTime::parse_from_rfc3339(text)
                .map_err(|e| invalid(format!("policies[{at}].Attributes.Timestamp is not an ISO 8601 time: {e}")))?;
            Ok(Policy::Expiration { at: at_time.with_timezone(&Utc) })
        }
        Some("ExpirationNotification") => Ok(Policy::ExpirationNotification { before: span(attributes, "Before", at)? }),
        Some("NoChangeNotification") => Ok(Policy::NoChangeNotification { after: span(attributes, "After", at)? }),
        _ => Err(invalid(format!("policies[{at}].Type must be Expiration, ExpirationNotification or NoChangeNotification"))),
    }
}

/// Parses policies text: a JSON array of up to 10 policies, at most one of each type;
/// an ExpirationNotification needs an Expiration. Returns each policy with its JSON text.
pub fn parse(text: &str) -> Result<Vec<(Policy, String)>, ParamError> {
    if text.len() > MAX_POLICIES_LEN {
        return Err(invalid(format!("the policies are {} bytes long; the most is {MAX_POLICIES_LEN}", text.len())));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| invalid(format!("the policies are not JSON: {e}")))?;
    let items = value.as_array().ok_or_else(|| invalid("the policies must be a JSON array".into()))?;
    if items.len() > MAX_POLICIES {
        return Err(invalid(format!("there are {} policies; the most is {MAX_POLICIES}", items.len())));
    }
    let mut parsed: Vec<(Policy, String)> = Vec::new();
    for (at, item) in items.iter().enumerate() {
        let policy = parse_one(item, at)?;
        if parsed.iter().any(|(p, _)| p.type_name() == policy.type_name()) {
            return Err(invalid(format!("policies[{at}]: there is already a {} policy", policy.type_name())));
        }
        parsed.push((policy, item.to_string()));
    }
    let has_expiration = parsed.iter().any(|(p, _)| matches!(p, Policy::Expiration { .. }));
    if parsed.iter().any(|(p, _)| matches!(p, Policy::ExpirationNotification { .. })) && !has_expiration {
        return Err(invalid("an ExpirationNotification policy needs an Expiration policy".into()));
    }
    Ok(parsed)
}

/// When each policy is due, for a version last changed at `changed`.
pub fn due(policies: &[(Policy, String)], changed: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>)> {
    let expiration = policies.iter().find_map(|(p, _)| match p {
        Policy::Expiration { at } => Some(*at),
        _ => None,
    });
    policies
        .iter()
        .filter_map(|(policy, _)| {
            let at = match policy {
                Policy::Expiration { at } => *at,
                Policy::ExpirationNotification { before } => expiration? - *before,
                Policy::NoChangeNotification { after } => changed + *after,
            };
            Some((policy.type_name(), at))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSM_EXAMPLE: &str = r#"[
        {"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-12-02T21:34:33.000Z"}},
        {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}},
        {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"20","Unit":"Hours"}}
    ]"#;

    fn message(text: &str) -> String {
        match parse(text) {
            Err(ParamError::Invalid { message, .. }) => message,
            other => panic!("{text} gave {other:?}"),
        }
    }

    #[test]
    fn ssms_example_parses_and_is_due_when_expected() {
        let parsed = parse(SSM_EXAMPLE).unwrap();
        assert_eq!(parsed.len(), 3);
        let changed: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let due = due(&parsed, changed);
        assert_eq!(due[0], ("Expiration", "2030-12-02T21:34:33Z".parse().unwrap()));
        assert_eq!(due[1], ("ExpirationNotification", "2030-11-17T21:34:33Z".parse().unwrap()));
        assert_eq!(due[2], ("NoChangeNotification", "2030-01-01T20:00:00Z".parse().unwrap()));
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        assert!(message("{").contains("not JSON"));
        assert!(message("{}").contains("JSON array"));
        assert!(message(r#"[{"Type":"Nope","Attributes":{}}]"#).contains("policies[0].Type"));
        assert!(message(r#"[{"Type":"Expiration","Attributes":{"Timestamp":"soon"}}]"#).contains("ISO 8601"));
        assert!(message(r#"[{"Type":"NoChangeNotification","Attributes":{"After":"0","Unit":"Days"}}]"#).contains("1 to 36500"));
        assert!(message(r#"[{"Type":"NoChangeNotification","Attributes":{"After":"2","Unit":"Weeks"}}]"#).contains("Unit"));
        assert!(
            message(r#"[{"Type":"ExpirationNotification","Attributes":{"Before":"2","Unit":"Days"}}]"#).contains("needs an Expiration")
        );
        assert!(
            message(r#"[{"Type":"Expiration","Version":"2.0","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}}]"#).contains("Version")
        );
        assert!(
            message(r#"[{"Type":"Expiration","Extra":1,"Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}}]"#).contains("unknown field")
        );
        let twice = r#"{"Type":"NoChangeNotification","Attributes":{"After":"2","Unit":"Days"}}"#;
        assert!(message(&format!("[{twice},{twice}]")).contains("already"));
        assert!(message(&format!("[{}]", ["1"; 11].join(","))).contains("most is 10"));
        assert!(parse("[]").unwrap().is_empty());
        assert!(message(&" ".repeat(MAX_POLICIES_LEN + 1)).contains("bytes long"));
    }
}
