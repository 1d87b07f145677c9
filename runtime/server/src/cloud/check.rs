//! `bosun cloud check` and `POST /v1/cloud/check`: one signed, read-only call
//! (EC2 `DescribeRegions`, or Auto Scaling `DescribeAutoScalingGroups`) with the
//! server's region, endpoint and credentials, reporting success or the
//! service's error code. It proves the configuration and the keys, not the
//! aws-api plugin's grants (`bosun cloud show` lists those). No key is in what
//! it answers or logs.

use std::time::Duration;

use bosun_plugin_host::{CloudAccess, UnsignedRequest, signing_headers};
use serde::{Deserialize, Serialize};

use super::error_answer::element;

/// The services a check can call, with the read-only API and the API version of each.
const CHECKS: &[(&str, &str, &str)] =
    &[("ec2", "DescribeRegions", "2016-11-15"), ("autoscaling", "DescribeAutoScalingGroups", "2011-01-01")];
/// How long a check waits for the answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);
/// The most of an error answer's message kept.
const MAX_MESSAGE_CHARS: usize = 500;

/// What to check.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRequest {
    /// `ec2` (the default) or `autoscaling`.
    pub service: Option<String>,
}

/// How one signed call went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub service: String,
    pub api: String,
    pub region: String,
    pub endpoint: String,
    /// True when the service answered the call with success.
    pub ok: bool,
    /// The HTTP status of the answer, when one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The service's error code (`AuthFailure`, `UnauthorizedOperation` …), when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What went wrong, when something did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why a check could not be made at all (its request is wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRefused(pub String);

/// The service, API and version a request names.
fn target(request: &CheckRequest) -> Result<(&'static str, &'static str, &'static str), CheckRefused> {
    let service = request.service.as_deref().unwrap_or("ec2");
    CHECKS.iter().find(|(s, _, _)| *s == service).copied().ok_or_else(|| {
        let known: Vec<&str> = CHECKS.iter().map(|(s, _, _)| *s).collect();
        CheckRefused(format!("service: {:?} is not one of {}", service.chars().take(64).collect::<String>(), known.join(", ")))
    })
}

/// The `<Code>` and `<Message>` of an AWS Query error answer.
fn error_of(body: &str) -> (Option<String>, Option<String>) {
    (element(body, "Code", MAX_MESSAGE_CHARS), element(body, "Message", MAX_MESSAGE_CHARS))
}

/// Makes the check's call with `cloud`'s region, endpoint and credentials.
pub async fn check(cloud: &dyn CloudAccess, request: &CheckRequest) -> Result<CheckResult, CheckRefused> {
    let (service, api, version) = target(request)?;
    let region = cloud.default_region();
    let endpoint = region.as_deref().map(|r| cloud.endpoint(service, r)).unwrap_or_default();
    let mut result = CheckResult {
        service: service.into(),
        api: api.into(),
        region: region.clone().unwrap_or_default(),
        endpoint: endpoint.clone(),
        ok: false,
        http_status: None,
        error_code: None,
        message: None,
    };
    let Some(region) = region else {
        result.message = Some("no region is configured: set \"region\" in the cloud configuration, or AWS_REGION".into());
        return Ok(result);
    };
    let credentials = match cloud.credentials().await {
        Ok(credentials) => credentials,
        Err(e) => {
            result.message = Some(format!("cloud credentials: {e}"));
            return Ok(result);
        }
    };
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let body = format!("Action={api}&Version={version}");
    let headers = vec![("content-type".to_string(), "application/x-www-form-urlencoded; charset=utf-8".to_string())];
    let unsigned = UnsignedRequest { method: "POST", url: &url, headers: &headers, body: body.as_bytes(), service, region: &region };
    let signed = match signing_headers(&unsigned, &credentials, std::time::SystemTime::now()) {
        Ok(signed) => signed,
        Err(e) => {
            result.message = Some(e);
            return Ok(result);
        }
    };
    let client = reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CheckRefused(format!("cannot build an HTTP client: {e}")))?;
    let mut call = client.post(&url).body(body);
    for (name, value) in headers.iter().chain(&signed) {
        call = call.header(name, value);
    }
    match call.send().await {
        Err(e) => result.message = Some(format!("cannot reach {url}: {}", without_url(&e))),
        Ok(answer) => {
            let status = answer.status();
            result.http_status = Some(status.as_u16());
            let text = answer.text().await.unwrap_or_default();
            if status.is_success() {
                result.ok = true;
            } else {
                let (code, message) = error_of(&text);
                result.error_code = code;
                result.message = Some(message.unwrap_or_else(|| format!("the service answered HTTP {status}")));
            }
        }
    }
    Ok(result)
}

/// A transport error's text without the URL reqwest adds (it is reported beside it).
fn without_url(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut text = if error.is_timeout() { "timed out".to_string() } else { "the connection failed".to_string() };
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_checked() {
        assert_eq!(target(&CheckRequest::default()).unwrap().1, "DescribeRegions");
        assert_eq!(target(&CheckRequest { service: Some("autoscaling".into()) }).unwrap().1, "DescribeAutoScalingGroups");
        for hostile in ["s3", "", "ec2 ", "EC2", &"x".repeat(10_000), "ec2\u{0}"] {
            let refused = target(&CheckRequest { service: Some(hostile.into()) }).unwrap_err().0;
            assert!(refused.starts_with("service: ") && refused.len() < 200, "{refused}");
        }
    }

    #[test]
    fn error_answers_give_their_code() {
        let body = "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors></Response>";
        assert_eq!(
            error_of(body),
            (Some("AuthFailure".into()), Some("AWS was not able to validate the provided access credentials".into()))
        );
        assert_eq!(error_of("not xml at all"), (None, None));
        assert_eq!(error_of("<Code>unclosed"), (None, None));
        let long = format!("<Message>{}</Message>", "m".repeat(10_000));
        assert_eq!(error_of(&long).1.unwrap().len(), MAX_MESSAGE_CHARS);
    }
}
