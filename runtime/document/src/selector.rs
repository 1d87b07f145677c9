//! Step output selectors: RFC 9535 JSONPath over an action's response, typed.
//!
//! Selectors must be rooted at `$` (SSM writes `$.Payload.InstanceId`).
//! Single-valued types take the first match; list types take every match, or
//! the items of a single match that is itself a list.
use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::interpolate::{kind, loose_bool, scalar_text};
use crate::model::ParamType;

/// Checks that `selector` is a `$`-rooted RFC 9535 JSONPath.
pub fn check_selector(selector: &str) -> Result<(), String> {
    compile(selector).map(|_| ())
}

/// Applies `selector` to `response` and converts the result to `ty`.
pub fn select(response: &Value, selector: &str, ty: &ParamType) -> Result<Value, String> {
    let path = compile(selector)?;
    let matches = path.query(response).all();
    let converted = match ty {
        ParamType::String | ParamType::AwsResource(_) => to_text(first(&matches, selector)?).map(Value::String),
        ParamType::Integer => to_integer(first(&matches, selector)?),
        ParamType::Boolean => to_boolean(first(&matches, selector)?),
        ParamType::StringMap => to_map(first(&matches, selector)?).map(Value::Object),
        ParamType::StringList | ParamType::AwsResourceList(_) => {
            list_items(&matches).into_iter().map(|v| to_text(v).map(Value::String)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        ParamType::MapList => {
            list_items(&matches).into_iter().map(|v| to_map(v).map(Value::Object)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
    };
    converted.map_err(|why| format!("selector {selector}: {why} (output type {})", ty.name()))
}

fn compile(selector: &str) -> Result<JsonPath, String> {
    if !selector.starts_with('$') {
        let hint = selector.trim_start_matches('.');
        return Err(format!("selector \"{selector}\" must start with $ (e.g. $.{hint})"));
    }
    JsonPath::parse(selector).map_err(|e| format!("invalid selector \"{selector}\": {e}"))
}

/// The first match: SSM takes the first when several match.
fn first<'a>(matches: &[&'a Value], selector: &str) -> Result<&'a Value, String> {
    matches.first().copied().ok_or_else(|| format!("selector {selector} matched nothing"))
}

/// The items a list output is made of: the items of a single list match, else every match.
fn list_items<'a>(matches: &[&'a Value]) -> Vec<&'a Value> {
    match matches {
        [Value::Array(items)] => items.iter().collect(),
        _ => matches.to_vec(),
    }
}

fn to_text(v: &Value) -> Result<String, String> {
    scalar_text(v).ok_or_else(|| format!("expected a string, got {}", kind(v)))
}

fn to_integer(v: &Value) -> Result<Value, String> {
    let parsed = match v {
        Value::Number(n) => n.as_i64().map(Value::from).or_else(|| n.as_u64().map(Value::from)),
        Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
        _ => None,
    };
    parsed.ok_or_else(|| format!("expected an integer, got {} ({v})", kind(v)))
}

fn to_boolean(v: &Value) -> Result<Value, String> {
    loose_bool(v).map(Value::Bool).ok_or_else(|| format!("expected a boolean, got {} ({v})", kind(v)))
}

fn to_map(v: &Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        _ => Err(format!("expected a map, got {}", kind(v))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn describe_instances() -> Value {
        json!({
            "Reservations": [
                {"Instances": [
                    {"InstanceId": "i-1", "State": {"Name": "running"}, "CpuOptions": {"CoreCount": 2},
                     "EbsOptimized": false, "Tags": [{"Key": "Name", "Value": "web"}]},
                    {"InstanceId": "i-2", "State": {"Name": "stopped"}, "CpuOptions": {"CoreCount": 4},
                     "EbsOptimized": true, "Tags": []}
                ]},
                {"Instances": [
                    {"InstanceId": "i-3", "State": {"Name": "running"}, "CpuOptions": {"CoreCount": 8},
                     "EbsOptimized": "True", "Tags": [{"Key": "Env", "Value": "prod"}]}
                ]}
            ],
            "Count": "3",
            "Ids": ["a", "b"],
            "Nested": [[1, 2]]
        })
    }

    fn sel(selector: &str, ty: ParamType) -> Result<Value, String> {
        select(&describe_instances(), selector, &ty)
    }

    #[test]
    fn check_accepts_rooted_paths() {
        assert_eq!(check_selector("$.Payload.InstanceId"), Ok(()));
        assert_eq!(check_selector("$.Reservations..Instances..InstanceId"), Ok(()));
        assert_eq!(check_selector("$.Reservations[0].Instances[?@.State.Name == 'running']"), Ok(()));
    }

    #[test]
    fn check_rejects_unrooted_and_malformed() {
        assert_eq!(
            check_selector("Payload.InstanceId").unwrap_err(),
            "selector \"Payload.InstanceId\" must start with $ (e.g. $.Payload.InstanceId)"
        );
        assert_eq!(check_selector("").unwrap_err(), "selector \"\" must start with $ (e.g. $.)");
        let err = check_selector("$.Reservations[").unwrap_err();
        assert!(err.starts_with("invalid selector \"$.Reservations[\": at position"), "{err}");
    }

    #[test]
    fn recursive_descent_string_list() {
        let ids = sel("$.Reservations..Instances..InstanceId", ParamType::StringList).unwrap();
        assert_eq!(ids, json!(["i-1", "i-2", "i-3"]));
        let ids = sel("$.Reservations..InstanceId", ParamType::AwsResourceList("AWS::EC2::Instance::Id".into())).unwrap();
        assert_eq!(ids, json!(["i-1", "i-2", "i-3"]));
    }

    #[test]
    fn string_takes_the_first_match() {
        assert_eq!(sel("$.Reservations..InstanceId", ParamType::String).unwrap(), json!("i-1"));
        assert_eq!(sel("$.Reservations[1].Instances[0].InstanceId", ParamType::String).unwrap(), json!("i-3"));
        assert_eq!(sel("$.Reservations[0].Instances[1].CpuOptions.CoreCount", ParamType::String).unwrap(), json!("4"));
        assert_eq!(
            sel("$.Reservations[0].Instances[0].State", ParamType::String).unwrap_err(),
            "selector $.Reservations[0].Instances[0].State: expected a string, got a map (output type String)"
        );
    }

    #[test]
    fn no_match_is_an_error() {
        assert_eq!(sel("$.Missing", ParamType::String).unwrap_err(), "selector $.Missing matched nothing");
        assert!(sel("$.Missing", ParamType::Integer).is_err());
        assert_eq!(sel("$.Missing", ParamType::StringList).unwrap(), json!([]));
    }

    #[test]
    fn integer() {
        assert_eq!(sel("$..CoreCount", ParamType::Integer).unwrap(), json!(2));
        assert_eq!(sel("$.Count", ParamType::Integer).unwrap(), json!(3));
        assert_eq!(
            sel("$..InstanceId", ParamType::Integer).unwrap_err(),
            "selector $..InstanceId: expected an integer, got a string (\"i-1\") (output type Integer)"
        );
        assert!(select(&json!({"x": 1.5}), "$.x", &ParamType::Integer).is_err());
    }

    #[test]
    fn boolean() {
        assert_eq!(sel("$.Reservations[0].Instances[0].EbsOptimized", ParamType::Boolean).unwrap(), json!(false));
        assert_eq!(sel("$.Reservations[0].Instances[1].EbsOptimized", ParamType::Boolean).unwrap(), json!(true));
        assert_eq!(sel("$.Reservations[1].Instances[0].EbsOptimized", ParamType::Boolean).unwrap(), json!(true));
        assert_eq!(
            sel("$.Count", ParamType::Boolean).unwrap_err(),
            "selector $.Count: expected a boolean, got a string (\"3\") (output type Boolean)"
        );
    }

    #[test]
    fn string_map() {
        assert_eq!(sel("$..State", ParamType::StringMap).unwrap(), json!({"Name": "running"}));
        assert_eq!(sel("$.Ids", ParamType::StringMap).unwrap_err(), "selector $.Ids: expected a map, got a list (output type StringMap)");
    }

    #[test]
    fn single_list_match_is_the_list() {
        assert_eq!(sel("$.Ids", ParamType::StringList).unwrap(), json!(["a", "b"]));
        assert_eq!(sel("$.Ids[*]", ParamType::StringList).unwrap(), json!(["a", "b"]));
        assert_eq!(sel("$.Count", ParamType::StringList).unwrap(), json!(["3"]));
        assert_eq!(
            sel("$.Nested", ParamType::StringList).unwrap_err(),
            "selector $.Nested: expected a string, got a list (output type StringList)"
        );
    }

    #[test]
    fn map_list() {
        let tags = sel("$.Reservations[0].Instances[0].Tags", ParamType::MapList).unwrap();
        assert_eq!(tags, json!([{"Key": "Name", "Value": "web"}]));
        let all = sel("$..Tags[*]", ParamType::MapList).unwrap();
        assert_eq!(all, json!([{"Key": "Name", "Value": "web"}, {"Key": "Env", "Value": "prod"}]));
        assert_eq!(
            sel("$..InstanceId", ParamType::MapList).unwrap_err(),
            "selector $..InstanceId: expected a map, got a string (output type MapList)"
        );
    }
}
