//! Cloud actions over calls the host signs: `aws:executeAwsApi` (any EC2 or
//! Auto Scaling Query API, answers in the SDK's JSON shape),
//! `aws:waitForAwsResourceProperty` and `aws:assertAwsResourceProperty`
//! (a property of an answer among desired values), `aws:changeInstanceState`
//! and `aws:createImage`; and `bosun:findOrphanedVolumes` (unattached EBS
//! volumes older than a number of days) and `bosun:restartInstances` (a
//! rolling restart in batches). The plugin never sees a key: it asks the host for
//! `aws://SERVICE/`, and the host checks the `aws:` grant, signs and sends.

pub mod api;
pub mod instances;
pub mod property;
pub mod query;
pub mod volumes;
pub mod wait;
pub mod xml;

use bosun_plugin_sdk::{Host, PluginError};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::property::Selector;

/// `aws:executeAwsApi`: Service, Api, and the API's parameters beside them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiInput {
    pub service: String,
    pub api: String,
    #[serde(flatten)]
    pub parameters: Map<String, Value>,
}

pub fn execute_aws_api(input: ApiInput, host: &Host) -> Result<Map<String, Value>, PluginError> {
    api::call(host, &input.service, &input.api, &input.parameters)
}

/// `aws:waitForAwsResourceProperty` and `aws:assertAwsResourceProperty`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PropertyInput {
    pub service: String,
    pub api: String,
    pub property_selector: String,
    pub desired_values: Vec<String>,
    #[serde(flatten)]
    pub parameters: Map<String, Value>,
}

impl PropertyInput {
    fn selector(&self) -> Result<Selector, PluginError> {
        if self.desired_values.is_empty() {
            return Err(PluginError::invalid_input("DesiredValues must hold at least one value"));
        }
        Selector::parse(&self.property_selector).map_err(PluginError::invalid_input)
    }

    fn check(&self, selector: &Selector, host: &Host) -> Result<Result<(), String>, PluginError> {
        let answer = api::call(host, &self.service, &self.api, &self.parameters)?;
        Ok(selector.check(&Value::Object(answer), &self.desired_values))
    }
}

pub fn wait_for_property(input: PropertyInput, host: &Host) -> Result<Map<String, Value>, PluginError> {
    let selector = input.selector()?;
    let what = format!("{} of {} {} to be one of {:?}", input.property_selector, input.service, input.api, input.desired_values);
    wait::until(host, &what, || Ok(input.check(&selector, host)?.ok()))?;
    Ok(Map::new())
}

pub fn assert_property(input: PropertyInput, host: &Host) -> Result<Map<String, Value>, PluginError> {
    let selector = input.selector()?;
    input.check(&selector, host)?.map_err(|why| PluginError::failed(format!("assertion failed: {why}")))?;
    Ok(Map::new())
}

bosun_plugin_sdk::export_action!(
    "aws:executeAwsApi" => execute_aws_api,
    "aws:waitForAwsResourceProperty" => wait_for_property,
    "aws:assertAwsResourceProperty" => assert_property,
    "aws:changeInstanceState" => instances::change_instance_state,
    "bosun:restartInstances" => instances::restart_instances,
    "aws:createImage" => instances::create_image,
    "bosun:findOrphanedVolumes" => volumes::find_orphaned_volumes,
);

#[cfg(test)]
mod tests {
    use bosun_plugin_sdk::HttpResponse;
    use bosun_plugin_sdk::testing::TestHost;
    use serde_json::json;

    const RUNNING: &str = r#"<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><instanceState><code>16</code><name>running</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>"#;

    fn run(action: &str, inputs: serde_json::Value) -> Result<serde_json::Value, bosun_plugin_sdk::PluginError> {
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(200, RUNNING)).build();
        super::bosun_dispatch(action, &inputs.to_string(), &test.host()).map(|out| serde_json::from_str(&out).unwrap())
    }

    #[test]
    fn execute_returns_the_whole_answer() {
        let out = run("aws:executeAwsApi", json!({"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["i-1"]})).unwrap();
        assert_eq!(out["Reservations"][0]["Instances"][0]["State"]["Name"], "running");
    }

    #[test]
    fn assert_and_wait_compare_the_selected_property() {
        let inputs = |desired: &str| {
            json!({"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["i-1"],
                   "PropertySelector": "$.Reservations[0].Instances[0].State.Name", "DesiredValues": [desired]})
        };
        assert_eq!(run("aws:assertAwsResourceProperty", inputs("running")).unwrap(), json!({}));
        let e = run("aws:assertAwsResourceProperty", inputs("stopped")).unwrap_err();
        assert_eq!(e.message(), "assertion failed: $.Reservations[0].Instances[0].State.Name is \"running\", not one of [\"stopped\"]");
        assert_eq!(run("aws:waitForAwsResourceProperty", inputs("running")).unwrap(), json!({}));
        let mut no_values = inputs("x");
        no_values["DesiredValues"] = json!([]);
        assert!(run("aws:waitForAwsResourceProperty", no_values).unwrap_err().message().contains("at least one"));
    }

    #[test]
    fn missing_service_or_api_is_invalid_input() {
        let e = run("aws:executeAwsApi", json!({"Api": "DescribeInstances"})).unwrap_err();
        assert!(matches!(e, bosun_plugin_sdk::PluginError::InvalidInput(_)), "{e}");
    }
}
