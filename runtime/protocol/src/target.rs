//! Command targets: node ids, a tag with its values, or a resource group; on the CLI
//! as `ids:ID,ID`, `tag:Key=Value[,Value…]` or `group:NAME`, in the API in SSM's
//! shape `{"key": "InstanceIds" | "tag:Key" | "resource-groups:Name", "values": [...]}`.
//! Several targets are ANDed; the values of one target are ORed.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most values one target takes.
pub const MAX_VALUES: usize = 1000;
/// The longest tag key, as in AWS.
pub const MAX_TAG_KEY: usize = 128;
/// The longest tag value, as in AWS.
pub const MAX_TAG_VALUE: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Any of these node ids.
    Ids(Vec<String>),
    /// Nodes whose tag `key` has any of `values`.
    Tag { key: String, values: Vec<String> },
    /// The nodes of a resource group.
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

fn error(message: impl Into<String>) -> TargetError {
    TargetError(message.into())
}

/// Checks a tag key as AWS does: 1 to 128 characters, no control characters, not `aws:`.
pub fn check_tag_key(key: &str) -> Result<(), TargetError> {
    if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
        return Err(error(format!("a tag key has 1 to {MAX_TAG_KEY} characters")));
    }
    if key.chars().any(char::is_control) {
        return Err(error("a tag key must not contain control characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(error(format!("tag key {key:?}: the aws: prefix is reserved")));
    }
    Ok(())
}

/// Checks a tag value: at most 256 characters, no control characters.
pub fn check_tag_value(value: &str) -> Result<(), TargetError> {
    if value.chars().count() > MAX_TAG_VALUE {
        return Err(error(format!("a tag value has at most {MAX_TAG_VALUE} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(error("a tag value must not contain control characters"));
    }
    Ok(())
}

/// Parses `Key=Value` (a `--tag` flag).
pub fn parse_tag(text: &str) -> Result<(String, String), TargetError> {
    let (key, value) = text.split_once('=').ok_or_else(|| error(format!("{text:?} is not a tag: write Key=Value")))?;
    check_tag_key(key)?;
    check_tag_value(value)?;
    Ok((key.to_string(), value.to_string()))
}

fn check_values(what: &str, values: &[String]) -> Result<(), TargetError> {
    if values.is_empty() || values.iter().any(String::is_empty) {
        return Err(error(format!("{what} needs at least one value, and no empty one")));
    }
    if values.len() > MAX_VALUES {
        return Err(error(format!("{what} takes at most {MAX_VALUES} values")));
    }
    Ok(())
}

impl Target {
    /// Parses a `--targets` spec.
    pub fn parse(spec: &str) -> Result<Self, TargetError> {
        let (kind, rest) = spec
            .split_once(':')
            .ok_or_else(|| error(format!("{spec:?} is not a target: write ids:ID,ID, tag:Key=Value[,Value] or group:NAME")))?;
        let target = match kind {
            "ids" => Self::Ids(rest.split(',').map(|s| s.trim().to_string()).collect()),
            "tag" => {
                let (key, values) = rest.split_once('=').ok_or_else(|| error(format!("{spec:?}: write tag:Key=Value[,Value]")))?;
                Self::Tag { key: key.to_string(), values: values.split(',').map(str::to_string).collect() }
            }
            "group" => Self::Group(rest.to_string()),
            other => return Err(error(format!("{other:?} is not a kind of target: use ids, tag or group"))),
        };
        target.check()?;
        Ok(target)
    }

    /// Checks the values: what [`Target::parse`] and the API accept.
    pub fn check(&self) -> Result<(), TargetError> {
        match self {
            Self::Ids(ids) => check_values("ids", ids),
            Self::Tag { key, values } => {
                check_tag_key(key)?;
                check_values(&format!("tag:{key}"), values)?;
                values.iter().try_for_each(|v| check_tag_value(v))
            }
            Self::Group(name) if name.is_empty() => Err(error("group: needs a group name")),
            Self::Group(_) => Ok(()),
        }
    }

    /// SSM's key: `InstanceIds`, `tag:Key` or `resource-groups:Name`.
    pub fn key(&self) -> String {
        match self {
            Self::Ids(_) => "InstanceIds".into(),
            Self::Tag { key, .. } => format!("tag:{key}"),
            Self::Group(_) => "resource-groups:Name".into(),
        }
    }

    pub fn values(&self) -> Vec<String> {
        match self {
            Self::Ids(ids) => ids.clone(),
            Self::Tag { values, .. } => values.clone(),
            Self::Group(name) => vec![name.clone()],
        }
    }

    fn from_key_values(key: &str, values: Vec<String>) -> Result<Self, TargetError> {
        let target = if key == "InstanceIds" || key == "NodeIds" {
            Self::Ids(values)
        } else if let Some(tag) = key.strip_prefix("tag:") {
            Self::Tag { key: tag.to_string(), values }
        } else if key == "resource-groups:Name" {
            let [name] = <[String; 1]>::try_from(values).map_err(|_| error("resource-groups:Name takes exactly one group name"))?;
            Self::Group(name)
        } else {
            return Err(error(format!("{key:?} is not a target key: use InstanceIds, tag:Key or resource-groups:Name")));
        };
        target.check()?;
        Ok(target)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ids(ids) => write!(f, "ids:{}", ids.join(",")),
            Self::Tag { key, values } => write!(f, "tag:{key}={}", values.join(",")),
            Self::Group(name) => write!(f, "group:{name}"),
        }
    }
}

/// A target in the API's JSON.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TargetJson {
    /// `InstanceIds`, `tag:KEY` or `resource-groups:Name`.
    pub key: String,
    pub values: Vec<String>,
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TargetJson { key: self.key(), values: self.values() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = TargetJson::deserialize(deserializer)?;
        Self::from_key_values(&json.key, json.values).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(Target::parse("ids:a,b").unwrap(), Target::Ids(vec!["a".into(), "b".into()]));
        assert_eq!(
            Target::parse("tag:Env=dev,prod").unwrap(),
            Target::Tag { key: "Env".into(), values: vec!["dev".into(), "prod".into()] }
        );
        assert_eq!(Target::parse("tag:Name=a=b").unwrap(), Target::Tag { key: "Name".into(), values: vec!["a=b".into()] });
        assert_eq!(Target::parse("group:web").unwrap(), Target::Group("web".into()));
        for spec in ["ids:a,b", "tag:Env=dev,prod", "group:web"] {
            assert_eq!(Target::parse(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn refuses_bad_specs() {
        for bad in ["", "ids", "ids:", "ids:a,,b", "tag:Env", "tag:=x", "tag:Env=", "group:", "host:a", "tag:aws:x=1", "tag:E\u{7}=1"] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
        let many = format!("ids:{}", vec!["n"; MAX_VALUES + 1].join(","));
        assert!(Target::parse(&many).is_err());
        assert!(Target::parse(&format!("tag:{}=v", "k".repeat(129))).is_err());
    }

    #[test]
    fn json_uses_ssm_keys() {
        let t = Target::parse("tag:Env=dev").unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), serde_json::json!({"key": "tag:Env", "values": ["dev"]}));
        let back: Target = serde_json::from_value(serde_json::json!({"key": "resource-groups:Name", "values": ["web"]})).unwrap();
        assert_eq!(back, Target::Group("web".into()));
        assert!(serde_json::from_value::<Target>(serde_json::json!({"key": "Hosts", "values": ["a"]})).is_err());
        assert!(serde_json::from_value::<Target>(serde_json::json!({"key": "InstanceIds", "values": []})).is_err());
    }

    #[test]
    fn tags() {
        assert_eq!(parse_tag("Env=dev").unwrap(), ("Env".into(), "dev".into()));
        assert_eq!(parse_tag("Empty=").unwrap(), ("Empty".into(), String::new()));
        assert!(parse_tag("Env").is_err());
        assert!(parse_tag("=x").is_err());
    }
}
