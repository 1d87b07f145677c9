//! Signed cloud calls. A plugin asks for `aws://SERVICE[.REGION]/PATH?QUERY`
//! through `http-request`; the host checks the `aws:SERVICE:REGION` grant,
//! finds the endpoint (AWS's, or the operator's override), signs the request
//! with SigV4 using credentials the plugin never sees, and sends it. Only the
//! control plane makes cloud calls; a node's host denies them.

use std::fmt;

use async_trait::async_trait;
use reqwest::Url;

use crate::bindings::{GuestError, HttpRequest, HttpResponse};
use crate::capabilities::Denial;
use crate::services::HostKind;
use crate::state::CallState;

/// The URL scheme of a cloud call.
pub const SCHEME: &str = "aws";

/// Headers only the signer sets.
const SIGNING_HEADERS: &[&str] = &["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// Keys to sign with. `Debug` shows neither the secret nor the token.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for CloudCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudCredentials").field("access_key_id", &"***").field("secret_access_key", &"***").finish()
    }
}

/// What a host signs cloud calls with: endpoints, a default region and credentials.
#[async_trait]
pub trait CloudAccess: Send + Sync {
    /// The region of a call that names none.
    fn default_region(&self) -> Option<String>;
    /// The base URL (scheme, host, port) of `service` in `region`.
    fn endpoint(&self, service: &str, region: &str) -> String {
        default_endpoint(service, region)
    }
    /// The keys to sign with, read when a call needs them.
    async fn credentials(&self) -> Result<CloudCredentials, String>;
}

/// AWS's public endpoint of a service in a region.
pub fn default_endpoint(service: &str, region: &str) -> String {
    format!("https://{service}.{region}.amazonaws.com")
}

/// A host without cloud credentials: every signed call fails, saying so.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCloud;

#[async_trait]
impl CloudAccess for NoCloud {
    fn default_region(&self) -> Option<String> {
        None
    }

    async fn credentials(&self) -> Result<CloudCredentials, String> {
        Err("this host has no cloud credentials configured".into())
    }
}

/// The service and region an `aws://` URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTarget {
    pub service: String,
    pub region: String,
}

impl CloudTarget {
    pub fn parse(url: &Url, default_region: Option<String>) -> Result<CloudTarget, String> {
        if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            return Err(format!("a cloud URL is aws://SERVICE[.REGION]/PATH, without user or port: {url}"));
        }
        let host = url.host_str().unwrap_or_default();
        let (service, region) = match host.split_once('.') {
            Some((service, region)) => (service, region.to_string()),
            None => (host, default_region.ok_or_else(|| format!("{url} names no region and this host has no default region"))?),
        };
        let name_ok = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok(service) || !name_ok(&region) {
            return Err(format!("bad cloud URL {url}: expected aws://SERVICE[.REGION]/PATH with lowercase names"));
        }
        Ok(CloudTarget { service: service.to_string(), region })
    }
}

pub async fn send(state: &mut CallState, request: HttpRequest, url: Url) -> Result<HttpResponse, GuestError> {
    let cloud = state.services.cloud.clone();
    let target = CloudTarget::parse(&url, cloud.default_region()).map_err(GuestError::InvalidInput)?;
    if state.services.kind != HostKind::Server {
        let denial = Denial {
            capability: "aws",
            message: format!("{} call denied: cloud calls run only on the control plane, and this host is a node", target.service),
        };
        return Err(GuestError::Denied(state.deny(denial)));
    }
    if let Err(denial) = state.caps.check_aws(&target.service, &target.region) {
        return Err(GuestError::Denied(state.deny(denial)));
    }
    let method = crate::http::method(&request.method)?;
    crate::http::check_headers(&request.headers, SIGNING_HEADERS)?;
    let base = cloud.endpoint(&target.service, &target.region);
    let mut endpoint = Url::parse(&base).map_err(|e| GuestError::Failed(format!("the endpoint {base} of {}: {e}", target.service)))?;
    endpoint.set_path(url.path());
    endpoint.set_query(url.query());
    let credentials = cloud.credentials().await.map_err(|e| GuestError::Failed(format!("cloud credentials: {e}")))?;
    let headers = signed(&target, method.as_str(), &endpoint, request.headers, &request.body, &credentials)?;
    tracing::debug!(plugin = %state.plugin, service = %target.service, region = %target.region, "signed cloud call");
    crate::http::deliver(state, method, endpoint, headers, request.body).await
}

#[cfg(feature = "cloud")]
fn signed(
    target: &CloudTarget,
    method: &str,
    endpoint: &Url,
    mut headers: Vec<(String, String)>,
    body: &[u8],
    credentials: &CloudCredentials,
) -> Result<Vec<(String, String)>, GuestError> {
    let unsigned = crate::sigv4::Unsigned {
        method,
        url: endpoint.as_str(),
        headers: &headers,
        body,
        service: &target.service,
        region: &target.region,
    };
    let added = crate::sigv4::signing_headers(&unsigned, credentials, std::time::SystemTime::now()).map_err(GuestError::Failed)?;
    headers.extend(added);
    Ok(headers)
}

#[cfg(not(feature = "cloud"))]
fn signed(
    target: &CloudTarget,
    _method: &str,
    _endpoint: &Url,
    _headers: Vec<(String, String)>,
    _body: &[u8],
    _credentials: &CloudCredentials,
) -> Result<Vec<(String, String)>, GuestError> {
    Err(GuestError::Denied(format!("{} call denied: this host does not sign cloud calls", target.service)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str, default: Option<&str>) -> Result<CloudTarget, String> {
        CloudTarget::parse(&Url::parse(url).unwrap(), default.map(String::from))
    }

    #[test]
    fn urls_name_service_and_region() {
        assert_eq!(parse("aws://ec2.eu-west-1/", None).unwrap(), CloudTarget { service: "ec2".into(), region: "eu-west-1".into() });
        assert_eq!(parse("aws://autoscaling/", Some("us-east-1")).unwrap().region, "us-east-1");
        assert!(parse("aws://ec2/", None).unwrap_err().contains("no default region"));
        assert!(parse("aws://user@ec2.us-east-1/", None).is_err());
        assert!(parse("aws://ec2.us-east-1:443/", None).is_err());
        assert!(parse("aws://ec2.us_east_1/", None).is_err());
    }

    #[test]
    fn plugins_may_not_set_signing_headers() {
        let header = |name: &str| vec![(name.to_string(), "x".to_string())];
        assert!(crate::http::check_headers(&header("X-Amz-Date"), SIGNING_HEADERS).is_err());
        assert!(crate::http::check_headers(&header("Authorization"), SIGNING_HEADERS).is_err());
        assert!(crate::http::check_headers(&header("Host"), SIGNING_HEADERS).is_err());
        assert!(crate::http::check_headers(&header("Content-Type"), SIGNING_HEADERS).is_ok());
    }

    #[test]
    fn credentials_do_not_print() {
        let c = CloudCredentials { access_key_id: "AKID".into(), secret_access_key: "SECRET".into(), session_token: Some("T".into()) };
        let shown = format!("{c:?}");
        assert!(!shown.contains("AKID") && !shown.contains("SECRET") && !shown.contains("\"T\""), "{shown}");
    }
}
