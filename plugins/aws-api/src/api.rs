//! One API call: the service's Query protocol version and flavor, the form
//! body, the request to `aws://SERVICE/` (the host signs it and picks the
//! endpoint and region), and the answer as JSON or a failure naming the
//! service's error code.

use bosun_plugin_sdk::{Host, HttpRequest, PluginError};
use serde_json::{Map, Value};

use crate::query::{self, Flavor};
use crate::xml;

/// A service this plugin speaks: its name in `Service`, API version and flavor.
struct Service {
    name: &'static str,
    version: &'static str,
    flavor: Flavor,
}

const SERVICES: &[Service] = &[
    Service { name: "ec2", version: "2016-11-15", flavor: Flavor::Ec2 },
    Service { name: "autoscaling", version: "2011-01-01", flavor: Flavor::AwsQuery },
];

/// Names the call sets itself.
const RESERVED: &[&str] = &["Action", "Version"];

fn service(name: &str) -> Result<&'static Service, PluginError> {
    let lower = name.to_ascii_lowercase();
    SERVICES.iter().find(|s| s.name == lower).ok_or_else(|| {
        let known: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        PluginError::invalid_input(format!("Service {name:?} is not supported; supported services: {}", known.join(", ")))
    })
}

fn check_api(api: &str) -> Result<(), PluginError> {
    let ok = !api.is_empty()
        && api.len() <= 128
        && api.starts_with(|c: char| c.is_ascii_uppercase())
        && api.chars().all(|c| c.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(PluginError::invalid_input(format!("Api {api:?} is not an API operation name such as DescribeInstances"))) }
}

/// Calls `api` of `service` with SDK-shaped `parameters`; the answer in the SDK's shape.
pub fn call(host: &Host, service_name: &str, api: &str, parameters: &Map<String, Value>) -> Result<Map<String, Value>, PluginError> {
    let service = service(service_name)?;
    check_api(api)?;
    if let Some(name) = parameters.keys().find(|k| RESERVED.contains(&k.as_str())) {
        return Err(PluginError::invalid_input(format!("{name} is set from Api; it is not a parameter")));
    }
    let fields = query::fields(service.flavor, parameters).map_err(PluginError::invalid_input)?;
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("Action", api).append_pair("Version", service.version);
    for (name, value) in &fields {
        body.append_pair(name, value);
    }
    let request = HttpRequest::post(format!("aws://{}/", service.name), body.finish())
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8");
    let response = host.http(&request)?;
    let text = String::from_utf8_lossy(&response.body);
    if !response.is_success() {
        return Err(match xml::service_error(&text) {
            Some(error) => {
                PluginError::failed(format!("{} {api} failed: {}: {} (HTTP {})", service.name, error.code, error.message, response.status))
            }
            None => PluginError::failed(format!("{} {api} failed with HTTP {}: {}", service.name, response.status, excerpt(&text))),
        });
    }
    xml::response(api, &text).map_err(|e| PluginError::failed(format!("{} {api}: {e}", service.name)))
}

/// The start of a body, for a failure message.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() { format!("{cut}…") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_plugin_sdk::HttpResponse;
    use bosun_plugin_sdk::testing::TestHost;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn posts_a_form_to_the_signed_scheme() {
        let test = TestHost::builder()
            .http("POST", "aws://ec2/", HttpResponse::new(200, "<DescribeVolumesResponse><volumeSet/></DescribeVolumesResponse>"))
            .build();
        let out = call(&test.host(), "ec2", "DescribeVolumes", &params(json!({"VolumeIds": ["vol-1"]}))).unwrap();
        assert_eq!(Value::Object(out), json!({"Volumes": []}));
        let sent = &test.http_requests()[0];
        assert_eq!(String::from_utf8_lossy(&sent.body), "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-1");
        assert!(!sent.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")), "the host signs, not the plugin");
    }

    #[test]
    fn service_errors_name_their_code() {
        let body = "<Response><Errors><Error><Code>InvalidVolume.NotFound</Code><Message>no vol-9</Message></Error></Errors></Response>";
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(400, body)).build();
        let e = call(&test.host(), "ec2", "DeleteVolume", &params(json!({"VolumeId": "vol-9"}))).unwrap_err();
        assert_eq!(e.message(), "ec2 DeleteVolume failed: InvalidVolume.NotFound: no vol-9 (HTTP 400)");
    }

    #[test]
    fn refuses_what_it_cannot_call() {
        let host = TestHost::new().host();
        assert!(call(&host, "s3", "ListBuckets", &Map::new()).unwrap_err().message().contains("supported services: ec2, autoscaling"));
        assert!(call(&host, "ec2", "describe_instances", &Map::new()).unwrap_err().message().contains("not an API operation name"));
        assert!(call(&host, "ec2", "Describe&Instances", &Map::new()).is_err());
        assert!(
            call(&host, "ec2", "DescribeInstances", &params(json!({"Action": "TerminateInstances"})))
                .unwrap_err()
                .message()
                .contains("set from Api")
        );
    }
}
