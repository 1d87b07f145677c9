//! API parameters, given as the AWS SDKs take them (`InstanceIds: [..]`,
//! `Filters: [{Name, Values}]`), flattened into the form fields of the Query
//! protocols: EC2's (`InstanceId.1`, `Filter.1.Value.1`) and the `awsQuery`
//! of Auto Scaling (`InstanceIds.member.1`).

use serde_json::{Map, Value};

/// How a service's Query protocol names list members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// EC2: a list takes its member's singular name, items are `Name.N`.
    Ec2,
    /// awsQuery: names stay, items are `Name.member.N`.
    AwsQuery,
}

/// EC2 list names whose members are not simply the singular.
const EC2_LIST_NAMES: &[(&str, &str)] = &[
    ("Resources", "ResourceId"),
    ("ExecutableUsers", "ExecutableBy"),
    ("OwnerIds", "Owner"),
    ("Owners", "Owner"),
    ("RestorableByUserIds", "RestorableBy"),
    ("Versions", "LaunchTemplateVersion"),
];

/// The form fields of `parameters` (a JSON object), in order.
pub fn fields(flavor: Flavor, parameters: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (name, value) in parameters {
        check_name(name)?;
        flatten(flavor, &member_name(flavor, name, value), value, &mut out)?;
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
        return Err(format!("parameter name {name:?} is not an API parameter name"));
    }
    Ok(())
}

fn member_name(flavor: Flavor, name: &str, value: &Value) -> String {
    if flavor == Flavor::AwsQuery || !value.is_array() {
        return name.to_string();
    }
    if let Some((_, mapped)) = EC2_LIST_NAMES.iter().find(|(plural, _)| *plural == name) {
        return mapped.to_string();
    }
    singular(name)
}

fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else if name.ends_with("sses") || name.ends_with("xes") {
        name[..name.len() - 2].to_string()
    } else if name.ends_with('s') && !name.ends_with("ss") {
        name[..name.len() - 1].to_string()
    } else {
        name.to_string()
    }
}

fn flatten(flavor: Flavor, prefix: &str, value: &Value, out: &mut Vec<(String, String)>) -> Result<(), String> {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
        Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Array(items) => {
            if items.is_empty() && flavor == Flavor::AwsQuery {
                out.push((prefix.to_string(), String::new()));
            }
            for (i, item) in items.iter().enumerate() {
                let at = match flavor {
                    Flavor::Ec2 => format!("{prefix}.{}", i + 1),
                    Flavor::AwsQuery => format!("{prefix}.member.{}", i + 1),
                };
                flatten(flavor, &at, item, out)?;
            }
        }
        Value::Object(map) => {
            for (name, item) in map {
                check_name(name)?;
                flatten(flavor, &format!("{prefix}.{}", member_name(flavor, name, item)), item, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(flavor: Flavor, v: Value) -> Vec<(String, String)> {
        fields(flavor, v.as_object().unwrap()).unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ec2_lists_take_singular_names() {
        let got = of(
            Flavor::Ec2,
            json!({"InstanceIds": ["i-1", "i-2"], "Filters": [{"Name": "tag:Env", "Values": ["dev", "prod"]}], "DryRun": false, "MaxResults": 5}),
        );
        assert_eq!(
            got,
            pairs(&[
                ("InstanceId.1", "i-1"),
                ("InstanceId.2", "i-2"),
                ("Filter.1.Name", "tag:Env"),
                ("Filter.1.Value.1", "dev"),
                ("Filter.1.Value.2", "prod"),
                ("DryRun", "false"),
                ("MaxResults", "5"),
            ])
        );
        assert_eq!(
            of(Flavor::Ec2, json!({"Resources": ["vol-1"], "Tags": [{"Key": "a", "Value": "b"}]})),
            pairs(&[("ResourceId.1", "vol-1"), ("Tag.1.Key", "a"), ("Tag.1.Value", "b")])
        );
        assert_eq!(singular("Policies"), "Policy");
        assert_eq!(singular("Ipv6Addresses"), "Ipv6Address");
    }

    #[test]
    fn ec2_nested_structures() {
        let got =
            of(Flavor::Ec2, json!({"LaunchTemplateId": "lt-1", "LaunchTemplateData": {"ImageId": "ami-1", "SecurityGroupIds": ["sg-1"]}}));
        assert_eq!(
            got,
            pairs(&[
                ("LaunchTemplateId", "lt-1"),
                ("LaunchTemplateData.ImageId", "ami-1"),
                ("LaunchTemplateData.SecurityGroupId.1", "sg-1")
            ])
        );
    }

    #[test]
    fn aws_query_lists_are_members() {
        let got = of(
            Flavor::AwsQuery,
            json!({"AutoScalingGroupName": "web", "InstanceRefreshIds": ["r-1"], "Preferences": {"MinHealthyPercentage": 90}, "Empty": []}),
        );
        assert_eq!(
            got,
            pairs(&[
                ("AutoScalingGroupName", "web"),
                ("InstanceRefreshIds.member.1", "r-1"),
                ("Preferences.MinHealthyPercentage", "90"),
                ("Empty", ""),
            ])
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        assert!(fields(Flavor::Ec2, json!({"Action": "x", "A&B=c": 1}).as_object().unwrap()).is_err());
        assert!(fields(Flavor::Ec2, json!({"Ok": {"": 1}}).as_object().unwrap()).is_err());
        assert!(fields(Flavor::Ec2, json!({"x".repeat(200): 1}).as_object().unwrap()).is_err());
    }
}
