//! Inventory query filters: `Key OP Value` with OP one of `=`, `!=`, `<`, `<=`,
//! `>`, `>=` and `^=` (begins with), checked against the type's schema, and
//! evaluated on an entry by the attribute's data type: versions in dpkg's order
//! (epoch, then upstream version, then revision; `~` sorts before anything),
//! numbers as numbers, strings byte by byte. An entry without the attribute
//! matches no filter on it.

use std::cmp::Ordering;

use bosun_debversion::compare as compare_versions;
use bosun_protocol::inventory::{Entry, InventoryTypeSchema};

use super::types::{DataType, attribute_type, clip};
use crate::FleetError;

/// The most filters one query takes.
pub const MAX_FILTERS: usize = 16;
const MAX_FILTER_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BeginsWith,
}

/// One parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub key: String,
    pub op: Op,
    pub value: String,
    pub data_type: DataType,
}

/// Operators, longest first so that `<=` is not read as `<`.
const OPS: &[(&str, Op)] =
    &[("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("^=", Op::BeginsWith), ("=", Op::Eq), ("<", Op::Lt), (">", Op::Gt)];

/// Parses `filters` against a type's schema; an error names the filter (`filter[N]`).
pub fn parse_filters(filters: &[String], schema: &InventoryTypeSchema) -> Result<Vec<Filter>, FleetError> {
    if filters.len() > MAX_FILTERS {
        return Err(FleetError::invalid("filter", format!("{} filters; a query takes at most {MAX_FILTERS}", filters.len())));
    }
    filters
        .iter()
        .enumerate()
        .map(|(i, text)| parse_filter(text, schema).map_err(|m| FleetError::invalid(format!("filter[{i}]"), m)))
        .collect()
}

fn parse_filter(text: &str, schema: &InventoryTypeSchema) -> Result<Filter, String> {
    if text.len() > MAX_FILTER_LEN {
        return Err(format!("the filter is {} bytes long; the most is {MAX_FILTER_LEN}", text.len()));
    }
    let key_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    let (key, rest) = text.split_at(key_end);
    let rest = rest.trim_start();
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("\"{}\" does not start with an attribute name; write Key=Value, Key<Value, Key^=Prefix …", clip(text)));
    }
    let Some((symbol, op)) = OPS.iter().find(|(symbol, _)| rest.starts_with(symbol)) else {
        return Err(format!("\"{}\" has no operator after {key}: use one of =, !=, <, <=, >, >=, ^=", clip(text)));
    };
    let value = rest[symbol.len()..].trim().to_string();
    let Some(data_type) = attribute_type(schema, key) else {
        let names: Vec<&str> = schema.attributes.iter().map(|a| a.name.as_str()).collect();
        return Err(format!("{} has no attribute {key}; its attributes are {}", schema.type_name, names.join(", ")));
    };
    if data_type == DataType::Number && matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && value.parse::<f64>().is_err() {
        return Err(format!("{key} is a number; \"{}\" is not", clip(&value)));
    }
    Ok(Filter { key: key.to_string(), op: *op, value, data_type })
}

impl Filter {
    /// True when `entry` passes this filter.
    pub fn matches(&self, entry: &Entry) -> bool {
        let Some(found) = entry.get(&self.key).and_then(|v| v.as_str()) else { return false };
        if self.op == Op::BeginsWith {
            return found.starts_with(&self.value);
        }
        let order = match self.data_type {
            DataType::Version => compare_versions(found, &self.value),
            DataType::Number => match (found.parse::<f64>(), self.value.parse::<f64>()) {
                (Ok(a), Ok(b)) => match a.partial_cmp(&b) {
                    Some(order) => order,
                    None => return false,
                },
                _ => return self.op == Op::Ne && found != self.value,
            },
            DataType::String => found.cmp(&self.value),
        };
        match self.op {
            Op::Eq => order == Ordering::Equal,
            Op::Ne => order != Ordering::Equal,
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
            Op::BeginsWith => unreachable!("handled above"),
        }
    }

    /// The exact value an entry's `Name` must have, when a filter says so: the
    /// store looks entries up by name then.
    pub fn name_equals(filters: &[Filter]) -> Option<&str> {
        filters.iter().find(|f| f.key == "Name" && f.op == Op::Eq).map(|f| f.value.as_str())
    }

    /// The prefix an entry's `Name` must have, when a filter says so.
    pub fn name_prefix(filters: &[Filter]) -> Option<&str> {
        filters.iter().find(|f| f.key == "Name" && f.op == Op::BeginsWith).map(|f| f.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::types::known_type;

    fn filter(text: &str) -> Filter {
        parse_filters(&[text.to_string()], &known_type("AWS:Application").unwrap()).unwrap().remove(0)
    }

    fn entry(value: serde_json::Value) -> Entry {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn versions_compare_as_dpkg_compares_them() {
        use Ordering::*;
        for (a, b, expected) in [
            ("3.0.15-1~deb12u1", "3.0", Greater),
            ("2.9", "3.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0-0", Equal),
            ("1:1.0", "9.9", Greater),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0+b1", "1.0a", Greater),
            ("2.36-9+deb12u7", "2.36-9+deb12u10", Less),
            ("007", "7", Equal),
        ] {
            assert_eq!(compare_versions(a, b), expected, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn filters_parse_and_match_by_type() {
        let openssl = entry(json!({"Name": "openssl", "Version": "3.0.15-1~deb12u1"}));
        let old = entry(json!({"Name": "openssl", "Version": "1.1.1w-0+deb11u1"}));
        assert!(filter("Name=openssl").matches(&openssl));
        assert!(filter("Version<3.0").matches(&old));
        assert!(!filter("Version<3.0").matches(&openssl));
        assert!(filter("Version >= 3.0.15").matches(&openssl));
        assert!(filter("Name^=open").matches(&openssl));
        assert!(filter("Name!=curl").matches(&openssl));
        assert!(!filter("Publisher=x").matches(&openssl), "a missing attribute matches nothing");
        let file = parse_filters(&["Size>100".to_string()], &known_type("AWS:File").unwrap()).unwrap().remove(0);
        assert!(file.matches(&entry(json!({"Size": "1000"}))));
        assert!(!file.matches(&entry(json!({"Size": "99"}))));
    }

    #[test]
    fn bad_filters_name_the_filter() {
        let schema = known_type("AWS:Application").unwrap();
        let refused = |filters: &[&str]| match parse_filters(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &schema) {
            Err(FleetError::Invalid { field, message }) => (field, message),
            other => panic!("{other:?}"),
        };
        let (field, message) = refused(&["Name=a", "Verison<3"]);
        assert_eq!(field, "filter[1]");
        assert!(message.contains("no attribute Verison"), "{message}");
        assert!(refused(&["Name"]).1.contains("no operator"));
        assert!(refused(&["=x"]).1.contains("attribute name"));
        assert!(refused(&["Name~=x"]).1.contains("no operator"));
        assert!(refused(&[&format!("Name={}", "x".repeat(2000))]).1.contains("bytes long"));
        let many: Vec<&str> = (0..=MAX_FILTERS).map(|_| "Name=a").collect();
        assert_eq!(refused(&many).0, "filter");
        let file = known_type("AWS:File").unwrap();
        assert!(matches!(parse_filters(&["Size<lots".to_string()], &file), Err(FleetError::Invalid { .. })));
    }
}
