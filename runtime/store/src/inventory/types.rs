//! Inventory types and their schemas: the AWS types Bosun knows, with their
//! attributes and how filters compare them, and custom types (`Custom:*`),
//! whose attributes are recorded from their first upload. Also every check an
//! upload passes before anything is written, each naming the field it refused.

use std::collections::HashSet;

use bosun_protocol::inventory::{AttributeSchema, InventoryItem, InventoryTypeSchema};

use crate::FleetError;

/// The most items (types) one upload carries.
pub const MAX_ITEMS: usize = 64;
/// The most entries one item carries.
pub const MAX_ENTRIES: usize = 20_000;
/// The most attributes a custom type has.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;
/// The most custom types a store records.
pub const MAX_CUSTOM_TYPES: usize = 200;
/// The longest attribute value, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
const MAX_NAME_LEN: usize = 100;

/// How a filter compares an attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    String,
    Number,
    Version,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Number => "number",
            DataType::Version => "version",
        }
    }

    pub fn parse(text: &str) -> Option<DataType> {
        match text {
            "string" => Some(DataType::String),
            "number" => Some(DataType::Number),
            "version" => Some(DataType::Version),
            _ => None,
        }
    }
}

use DataType::{Number as N, String as S, Version as V};

/// A known type: name, schema version, attributes with their data types.
type KnownType = (&'static str, &'static str, &'static [(&'static str, DataType)]);

/// The AWS types Bosun knows.
const KNOWN: &[KnownType] = &[
    (
        "AWS:Application",
        "1.1",
        &[
            ("Name", S),
            ("ApplicationType", S),
            ("Publisher", S),
            ("Version", V),
            ("Release", S),
            ("Epoch", S),
            ("InstalledTime", S),
            ("Architecture", S),
            ("URL", S),
            ("Summary", S),
            ("PackageId", S),
            ("CompType", S),
        ],
    ),
    (
        "AWS:InstanceInformation",
        "1.0",
        &[
            ("AgentType", S),
            ("AgentVersion", V),
            ("ComputerName", S),
            ("InstanceId", S),
            ("IpAddress", S),
            ("PlatformName", S),
            ("PlatformType", S),
            ("PlatformVersion", V),
            ("KernelVersion", V),
            ("ResourceType", S),
            ("InstanceStatus", S),
        ],
    ),
    (
        "AWS:InstanceDetailedInformation",
        "1.0",
        &[
            ("CPUModel", S),
            ("CPUCores", N),
            ("CPUs", N),
            ("CPUSpeedMHz", N),
            ("CPUSockets", N),
            ("CPUHyperThreadEnabled", S),
            ("OSServicePack", S),
        ],
    ),
    (
        "AWS:Network",
        "1.0",
        &[("Name", S), ("SubnetMask", S), ("Gateway", S), ("DHCPServer", S), ("DNSServer", S), ("MacAddress", S), ("IPV4", S), ("IPV6", S)],
    ),
    (
        "AWS:Service",
        "1.0",
        &[
            ("Name", S),
            ("DisplayName", S),
            ("ServiceType", S),
            ("Status", S),
            ("StartType", S),
            ("DependentServices", S),
            ("ServicesDependedOn", S),
        ],
    ),
    (
        "AWS:File",
        "1.0",
        &[
            ("Name", S),
            ("Size", N),
            ("Description", S),
            ("FileVersion", V),
            ("InstalledDate", S),
            ("ModificationTime", S),
            ("LastAccessTime", S),
            ("ProductName", S),
            ("InstalledDir", S),
            ("ProductLanguage", S),
            ("CompanyName", S),
            ("ProductVersion", V),
        ],
    ),
];

/// The schemas of the AWS types Bosun knows.
pub fn known_types() -> Vec<InventoryTypeSchema> {
    KNOWN
        .iter()
        .map(|(name, version, attributes)| InventoryTypeSchema {
            type_name: name.to_string(),
            schema_version: version.to_string(),
            builtin: true,
            attributes: attributes
                .iter()
                .map(|(a, t)| AttributeSchema { name: a.to_string(), data_type: t.as_str().to_string() })
                .collect(),
        })
        .collect()
}

/// The schema of a known AWS type.
pub fn known_type(name: &str) -> Option<InventoryTypeSchema> {
    known_types().into_iter().find(|t| t.type_name == name)
}

/// The data type of `attribute` in `schema`.
pub fn attribute_type(schema: &InventoryTypeSchema, attribute: &str) -> Option<DataType> {
    schema.attributes.iter().find(|a| a.name == attribute).and_then(|a| DataType::parse(&a.data_type))
}

fn invalid(field: String, message: impl Into<String>) -> FleetError {
    FleetError::Invalid { field, message: message.into() }
}

fn is_word(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_NAME_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Checks a type name: `AWS:` and a type Bosun knows, or `Custom:` and a name.
pub fn check_type_name(field: &str, name: &str) -> Result<(), FleetError> {
    if let Some(rest) = name.strip_prefix("Custom:") {
        if is_word(rest) {
            return Ok(());
        }
        return Err(invalid(
            field.into(),
            format!("\"{}\" is not a custom type name: Custom: then letters, digits, _, - or .", clip(name)),
        ));
    }
    if known_type(name).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = KNOWN.iter().map(|(n, _, _)| *n).collect();
    Err(invalid(field.into(), format!("unknown type \"{}\": use one of {} or a Custom: type", clip(name), known.join(", "))))
}

/// The first 80 characters of a hostile value, for a message.
pub fn clip(text: &str) -> String {
    let mut end = text.len().min(80);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() { format!("{}…", &text[..end]) } else { text.to_string() }
}

/// Checks the shape of an upload: counts, names, times, values. `schemas` gives
/// the recorded schema of a custom type, if it has one. Returns the custom
/// types to record (first uploads), with their attributes.
pub fn check_upload(
    items: &[InventoryItem],
    recorded: impl Fn(&str) -> Result<Option<InventoryTypeSchema>, FleetError>,
) -> Result<Vec<InventoryTypeSchema>, FleetError> {
    if items.len() > MAX_ITEMS {
        return Err(invalid("items".into(), format!("{} items; an upload carries at most {MAX_ITEMS}", items.len())));
    }
    let mut seen = HashSet::new();
    let mut new_types = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("items[{i}]");
        check_type_name(&format!("{at}.typeName"), &item.type_name)?;
        if !seen.insert(item.type_name.as_str()) {
            return Err(invalid(format!("{at}.typeName"), format!("{} is given twice", item.type_name)));
        }
        if item.schema_version.is_empty()
            || item.schema_version.len() > 16
            || !item.schema_version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            return Err(invalid(format!("{at}.schemaVersion"), format!("\"{}\" is not a version such as 1.0", clip(&item.schema_version))));
        }
        if chrono::DateTime::parse_from_rfc3339(&item.capture_time).is_err() {
            return Err(invalid(format!("{at}.captureTime"), format!("\"{}\" is not an RFC 3339 time", clip(&item.capture_time))));
        }
        if item.content.len() > MAX_ENTRIES {
            return Err(invalid(format!("{at}.content"), format!("{} entries; an item has at most {MAX_ENTRIES}", item.content.len())));
        }
        let schema = match known_type(&item.type_name) {
            Some(schema) => Some(schema),
            None => recorded(&item.type_name)?,
        };
        let schema = match schema {
            Some(schema) => schema,
            None => {
                let schema = custom_schema(&at, item)?;
                new_types.push(schema.clone());
                schema
            }
        };
        for (j, entry) in item.content.iter().enumerate() {
            for (key, value) in entry {
                let field = format!("{at}.content[{j}].{}", clip(key));
                let Some(data_type) = attribute_type(&schema, key) else {
                    let names: Vec<&str> = schema.attributes.iter().map(|a| a.name.as_str()).collect();
                    return Err(invalid(
                        field,
                        format!("{} has no attribute {}; its attributes are {}", item.type_name, clip(key), names.join(", ")),
                    ));
                };
                let Some(text) = value.as_str() else {
                    return Err(invalid(field, format!("values are strings, not {}", clip(&value.to_string()))));
                };
                if text.len() > MAX_VALUE_BYTES {
                    return Err(invalid(field, format!("the value is {} bytes; the most is {MAX_VALUE_BYTES}", text.len())));
                }
                if data_type == DataType::Number && !text.is_empty() && !text.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(invalid(field, format!("\"{}\" is not a number", clip(text))));
                }
            }
        }
    }
    Ok(new_types)
}

/// The schema a custom type's first upload defines: every attribute its entries use, as strings.
fn custom_schema(at: &str, item: &InventoryItem) -> Result<InventoryTypeSchema, FleetError> {
    let mut attributes: Vec<AttributeSchema> = Vec::new();
    for (j, entry) in item.content.iter().enumerate() {
        for key in entry.keys() {
            if attributes.iter().any(|a| &a.name == key) {
                continue;
            }
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || key.is_empty() || key.len() > 64 {
                return Err(invalid(format!("{at}.content[{j}].{}", clip(key)), "an attribute name is 1 to 64 letters, digits or _"));
            }
            if attributes.len() == MAX_CUSTOM_ATTRIBUTES {
                return Err(invalid(
                    format!("{at}.content[{j}].{key}"),
                    format!("a custom type has at most {MAX_CUSTOM_ATTRIBUTES} attributes"),
                ));
            }
            attributes.push(AttributeSchema { name: key.clone(), data_type: DataType::String.as_str().into() });
        }
    }
    Ok(InventoryTypeSchema { type_name: item.type_name.clone(), schema_version: item.schema_version.clone(), builtin: false, attributes })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(type_name: &str, content: serde_json::Value) -> InventoryItem {
        InventoryItem {
            type_name: type_name.into(),
            schema_version: "1.0".into(),
            capture_time: "2026-11-27T04:00:00Z".into(),
            content: serde_json::from_value(content).unwrap(),
        }
    }

    fn refused(items: &[InventoryItem]) -> (String, String) {
        match check_upload(items, |_| Ok(None)) {
            Err(FleetError::Invalid { field, message }) => (field, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn known_types_check_attribute_names_and_numbers() {
        let ok = item("AWS:Application", json!([{"Name": "openssl", "Version": "3.0.15"}]));
        assert!(check_upload(&[ok], |_| Ok(None)).unwrap().is_empty());
        let (field, message) = refused(&[item("AWS:Application", json!([{"Name": "a"}, {"Nmae": "b"}]))]);
        assert_eq!(field, "items[0].content[1].Nmae");
        assert!(message.contains("has no attribute Nmae"), "{message}");
        let (field, _) = refused(&[item("AWS:File", json!([{"Name": "a", "Size": "big"}]))]);
        assert_eq!(field, "items[0].content[0].Size");
        let (field, message) = refused(&[item("AWS:Application", json!([{"Name": 5}]))]);
        assert_eq!((field.as_str(), message.contains("strings")), ("items[0].content[0].Name", true));
    }

    #[test]
    fn names_times_counts_and_sizes_are_checked() {
        let mut bad_time = item("AWS:Network", json!([]));
        bad_time.capture_time = "yesterday".into();
        assert_eq!(refused(&[bad_time]).0, "items[0].captureTime");
        assert_eq!(refused(&[item("AWS:Nope", json!([]))]).0, "items[0].typeName");
        assert_eq!(refused(&[item("Custom:<script>", json!([]))]).0, "items[0].typeName");
        assert_eq!(refused(&[item("AWS:Network", json!([])), item("AWS:Network", json!([]))]).0, "items[1].typeName");
        let mut bad_version = item("AWS:Network", json!([]));
        bad_version.schema_version = "1.0; DROP TABLE".into();
        assert_eq!(refused(&[bad_version]).0, "items[0].schemaVersion");
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(refused(&[item("AWS:Network", json!([{"Name": long}]))]).0, "items[0].content[0].Name");
        let many: Vec<_> = (0..=MAX_ENTRIES).map(|_| json!({})).collect();
        assert_eq!(refused(&[item("AWS:Network", json!(many))]).0, "items[0].content");
        let items: Vec<_> = (0..=MAX_ITEMS).map(|i| item(&format!("Custom:T{i}"), json!([]))).collect();
        assert_eq!(refused(&items).0, "items");
    }

    #[test]
    fn a_custom_type_is_recorded_from_its_first_upload_and_then_enforced() {
        let first = item("Custom:Rack", json!([{"Bay": "B", "Row": "3"}]));
        let recorded = check_upload(std::slice::from_ref(&first), |_| Ok(None)).unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].attributes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["Bay", "Row"]);
        let schema = recorded[0].clone();
        let later = item("Custom:Rack", json!([{"Bay": "C", "Colour": "red"}]));
        match check_upload(&[later], |_| Ok(Some(schema.clone()))) {
            Err(FleetError::Invalid { field, message }) => {
                assert_eq!(field, "items[0].content[0].Colour");
                assert!(message.contains("Bay, Row"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let bad_key = item("Custom:Rack2", json!([{"a b": "x"}]));
        assert_eq!(refused(&[bad_key]).0, "items[0].content[0].a b");
    }
}
