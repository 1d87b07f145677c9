//! Query API responses (XML) as the JSON the AWS SDKs return: EC2's
//! `reservationSet/item` becomes `Reservations[]`, names become PascalCase,
//! awsQuery's `Result` wrapper and `member` lists unfold, and a few members the
//! SDKs name otherwise are renamed (`instanceState` is `State`). Values stay
//! text; step outputs convert them to their declared `Type`.

use serde_json::{Map, Value};

/// Members whose SDK name is not their XML name, by the list that holds them
/// (`*` for any).
const RENAMES: &[(&str, &str, &str)] = &[
    ("*", "instanceState", "State"),
    ("*", "imageState", "State"),
    ("*", "ipAddress", "PublicIpAddress"),
    ("*", "dnsName", "PublicDnsName"),
    ("Instances", "groupSet", "SecurityGroups"),
    ("Volumes", "status", "State"),
    ("Snapshots", "status", "State"),
    // CreateVolume and CreateSnapshot answer the volume or snapshot itself.
    ("", "status", "State"),
];

/// Lists the SDKs name after the call (`StopInstances` answers `StoppingInstances`).
const TOP_RENAMES: &[(&str, &str, &str)] = &[
    ("StopInstances", "Instances", "StoppingInstances"),
    ("StartInstances", "Instances", "StartingInstances"),
    ("TerminateInstances", "Instances", "TerminatingInstances"),
];

/// The deepest an answer may nest.
const MAX_DEPTH: usize = 64;

/// An error answer: the service's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub code: String,
    pub message: String,
}

/// The JSON of a successful answer to `api`.
pub fn response(api: &str, xml: &str) -> Result<Map<String, Value>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("the answer is not XML: {e}"))?;
    let root = doc.root_element();
    // awsQuery wraps the answer in <ApiResult>; EC2 does not.
    let result_name = format!("{api}Result");
    let body = elements(root).find(|e| e.tag_name().name() == result_name).unwrap_or(root);
    let mut out = Map::new();
    for child in elements(body) {
        let name = child.tag_name().name();
        if name == "requestId" || name == "ResponseMetadata" {
            continue;
        }
        let (mut key, value) = member(child, "", 0)?;
        if let Some((_, _, renamed)) = TOP_RENAMES.iter().find(|(a, from, _)| *a == api && *from == key) {
            key = renamed.to_string();
        }
        out.insert(key, value);
    }
    Ok(out)
}

/// The code and message of an error answer, if it is one.
pub fn service_error(xml: &str) -> Option<ServiceError> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let error = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == "Error")?;
    let text = |name: &str| {
        elements(error).find(|e| e.tag_name().name() == name).and_then(|e| e.text()).map(|t| t.trim().to_string()).unwrap_or_default()
    };
    Some(ServiceError { code: text("Code"), message: text("Message") })
}

fn elements<'a, 'input>(node: roxmltree::Node<'a, 'input>) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    node.children().filter(|n| n.is_element())
}

fn is_list_item(name: &str) -> bool {
    name == "item" || name == "member"
}

/// One member: its SDK name (given the list holding it) and value.
fn member(node: roxmltree::Node<'_, '_>, holder: &str, depth: usize) -> Result<(String, Value), String> {
    let xml_name = node.tag_name().name();
    let children: Vec<_> = elements(node).collect();
    let is_list = xml_name.ends_with("Set") || (!children.is_empty() && children.iter().all(|c| is_list_item(c.tag_name().name())));
    let name = match RENAMES.iter().find(|(h, from, _)| (*h == "*" || *h == holder) && *from == xml_name) {
        Some((_, _, to)) => to.to_string(),
        None if is_list && !is_list_item_name_kept(xml_name) => list_name(xml_name),
        None => pascal(xml_name),
    };
    Ok((name.clone(), value(node, &name, is_list, depth)?))
}

/// awsQuery lists are already named as the SDKs name them.
fn is_list_item_name_kept(xml_name: &str) -> bool {
    xml_name.starts_with(|c: char| c.is_ascii_uppercase())
}

fn value(node: roxmltree::Node<'_, '_>, name: &str, is_list: bool, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the answer nests deeper than {MAX_DEPTH} levels"));
    }
    let children: Vec<_> = elements(node).collect();
    if is_list {
        return children.into_iter().map(|item| structure_or_text(item, name, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    structure_or_text(node, name, depth)
}

fn structure_or_text(node: roxmltree::Node<'_, '_>, holder: &str, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the answer nests deeper than {MAX_DEPTH} levels"));
    }
    if !node.children().any(|n| n.is_element()) {
        return Ok(Value::String(node.text().unwrap_or_default().to_string()));
    }
    let mut map = Map::new();
    for child in elements(node) {
        let (key, value) = member(child, holder, depth + 1)?;
        map.insert(key, value);
    }
    Ok(Value::Object(map))
}

/// `reservationSet` → `Reservations`, `instancesSet` → `Instances`,
/// `blockDeviceMapping` → `BlockDeviceMappings`.
fn list_name(xml_name: &str) -> String {
    let stem = pascal(xml_name.strip_suffix("Set").unwrap_or(xml_name));
    if stem.ends_with('s') && !stem.ends_with("ss") && !stem.ends_with("us") {
        stem
    } else if stem.ends_with("ss") || stem.ends_with("us") {
        format!("{stem}es")
    } else {
        format!("{stem}s")
    }
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <reservationSet>
    <item>
      <reservationId>r-0a</reservationId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-1</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <tagSet><item><key>Name</key><value>web</value></item></tagSet>
          <groupSet><item><groupId>sg-1</groupId></item></groupSet>
          <blockDeviceMapping><item><deviceName>/dev/sda1</deviceName></item></blockDeviceMapping>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
</DescribeInstancesResponse>"#;

    #[test]
    fn ec2_answers_take_the_sdk_shape() {
        let got = Value::Object(response("DescribeInstances", DESCRIBE).unwrap());
        assert_eq!(
            got,
            json!({"Reservations": [{
                "ReservationId": "r-0a",
                "Groups": [],
                "Instances": [{
                    "InstanceId": "i-1",
                    "State": {"Code": "16", "Name": "running"},
                    "Tags": [{"Key": "Name", "Value": "web"}],
                    "SecurityGroups": [{"GroupId": "sg-1"}],
                    "BlockDeviceMappings": [{"DeviceName": "/dev/sda1"}],
                }],
            }]})
        );
    }

    #[test]
    fn call_specific_names() {
        let xml = r#"<StopInstancesResponse><instancesSet><item><instanceId>i-1</instanceId><currentState><name>stopping</name></currentState></item></instancesSet></StopInstancesResponse>"#;
        let got = Value::Object(response("StopInstances", xml).unwrap());
        assert_eq!(got, json!({"StoppingInstances": [{"InstanceId": "i-1", "CurrentState": {"Name": "stopping"}}]}));
        let volumes = r#"<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId><status>available</status><size>8</size></item></volumeSet></DescribeVolumesResponse>"#;
        assert_eq!(
            Value::Object(response("DescribeVolumes", volumes).unwrap()),
            json!({"Volumes": [{"VolumeId": "vol-1", "State": "available", "Size": "8"}]})
        );
    }

    #[test]
    fn aws_query_answers_unwrap_their_result() {
        let xml = r#"<DescribeInstanceRefreshesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeInstanceRefreshesResult>
    <InstanceRefreshes><member><InstanceRefreshId>r-1</InstanceRefreshId><Status>Successful</Status></member></InstanceRefreshes>
  </DescribeInstanceRefreshesResult>
  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
</DescribeInstanceRefreshesResponse>"#;
        let got = Value::Object(response("DescribeInstanceRefreshes", xml).unwrap());
        assert_eq!(got, json!({"InstanceRefreshes": [{"InstanceRefreshId": "r-1", "Status": "Successful"}]}));
    }

    #[test]
    fn errors_give_code_and_message() {
        let ec2 = r#"<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-x' does not exist</Message></Error></Errors><RequestID>1</RequestID></Response>"#;
        assert_eq!(
            service_error(ec2),
            Some(ServiceError { code: "InvalidInstanceID.NotFound".into(), message: "The instance ID 'i-x' does not exist".into() })
        );
        let query =
            r#"<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>bad</Message></Error></ErrorResponse>"#;
        assert_eq!(service_error(query).unwrap().code, "ValidationError");
        assert_eq!(service_error("not xml"), None);
    }

    #[test]
    fn hostile_answers_are_errors_not_panics() {
        assert!(response("X", "<a><b>").is_err());
        assert!(response("X", "").is_err());
        let deep = "<a>".repeat(200) + &"</a>".repeat(200);
        // roxmltree refuses deep nesting itself or we do; either way no stack overflow.
        assert!(response("X", &deep).is_err());
        // Entities (and so entity expansion attacks) are refused with the DTD.
        assert!(response("X", "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>").unwrap_err().contains("not XML"));
    }
}
