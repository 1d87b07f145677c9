//! Signed requests to one object of the content store's bucket: the object's
//! URL (path-style or virtual-hosted), SigV4 through the plugin host's shared
//! signer with the credentials the cloud configuration names, and S3's error
//! answers turned into messages that name the object and never a key.

use std::sync::Arc;
use std::time::Duration;

use bosun_plugin_host::CloudAccess;
use bosun_plugin_host::sigv4::{UnsignedS3, s3_signing_headers};
use bosun_store::packages::content::ContentError;
use reqwest::{Method, Response, Url};

use super::S3Target;
use crate::cloud::error_answer::element;

/// The most of an S3 error answer's code or message kept.
const MAX_ERROR_CHARS: usize = 200;

/// The sha256 of no bytes: the payload hash of a request without a body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the service may stay silent in the middle of an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One bucket and key prefix, with what signs requests to it.
pub struct S3Client {
    http: reqwest::Client,
    cloud: Arc<dyn CloudAccess>,
    bucket: String,
    prefix: String,
    region: String,
    endpoint: Url,
    path_style: bool,
}

/// A request's body: its bytes' sha256, its length and the bytes.
pub struct Payload {
    pub sha256: String,
    pub length: u64,
    pub body: reqwest::Body,
}

impl S3Client {
    /// A client of the bucket `target` names.
    pub fn new(cloud: Arc<dyn CloudAccess>, target: &S3Target) -> Result<S3Client, String> {
        let endpoint = &target.endpoint;
        let endpoint = Url::parse(endpoint).map_err(|e| format!("the S3 endpoint {endpoint:?} is not a URL: {e}"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the S3 client: {e}"))?;
        Ok(S3Client {
            http,
            cloud,
            bucket: target.bucket.clone(),
            prefix: target.prefix.clone(),
            region: target.region.clone(),
            endpoint,
            path_style: target.path_style,
        })
    }

    /// `s3://bucket[/prefix]`, for messages.
    pub fn location(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("s3://{}", self.bucket),
            prefix => format!("s3://{}/{prefix}", self.bucket),
        }
    }

    /// The object's key: `<prefix>/<sha256>`.
    fn key(&self, sha256: &str) -> String {
        match self.prefix.as_str() {
            "" => sha256.to_string(),
            prefix => format!("{prefix}/{sha256}"),
        }
    }

    /// The URL of content `sha256` (a checked sha256; the prefix is checked too, so nothing needs escaping).
    pub fn object_url(&self, sha256: &str) -> Result<Url, ContentError> {
        let mut url = self.endpoint.clone();
        if self.path_style {
            url.set_path(&format!("/{}/{}", self.bucket, self.key(sha256)));
        } else {
            let host = self.endpoint.host_str().unwrap_or_default();
            url.set_host(Some(&format!("{}.{host}", self.bucket)))
                .map_err(|e| ContentError::Io(format!("{} cannot be a host name: {e}", self.bucket)))?;
            url.set_path(&format!("/{}", self.key(sha256)));
        }
        Ok(url)
    }

    /// Sends a signed request about content `sha256`; the answer, whatever its status.
    pub async fn send(
        &self,
        method: Method,
        sha256: &str,
        headers: &[(String, String)],
        payload: Option<Payload>,
    ) -> Result<Response, ContentError> {
        let url = self.object_url(sha256)?;
        let mut headers = headers.to_vec();
        if let Some(payload) = &payload {
            headers.push(("content-length".into(), payload.length.to_string()));
        }
        let credentials = self.cloud.credentials().await.map_err(|e| self.failed(&method, sha256, &e))?;
        let unsigned = UnsignedS3 {
            method: method.as_str(),
            url: url.as_str(),
            headers: &headers,
            payload_sha256: payload.as_ref().map_or(EMPTY_SHA256, |p| p.sha256.as_str()),
            region: &self.region,
        };
        let signed =
            s3_signing_headers(&unsigned, &credentials, std::time::SystemTime::now()).map_err(|e| self.failed(&method, sha256, &e))?;
        let mut request = self.http.request(method.clone(), url);
        for (name, value) in headers.iter().chain(&signed) {
            request = request.header(name, value);
        }
        if let Some(payload) = payload {
            request = request.body(payload.body);
        }
        request.send().await.map_err(|e| self.failed(&method, sha256, &e.without_url().to_string()))
    }

    /// An answer that was not the one hoped for, as an error naming the object and S3's code.
    pub async fn refused(&self, method: &Method, sha256: &str, response: Response) -> ContentError {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let code = element(&text, "Code", MAX_ERROR_CHARS).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let message = element(&text, "Message", MAX_ERROR_CHARS).map(|m| format!(": {m}")).unwrap_or_default();
        self.failed(method, sha256, &format!("{code}{message} (HTTP {})", status.as_u16()))
    }

    pub fn failed(&self, method: &Method, sha256: &str, why: &str) -> ContentError {
        ContentError::Io(format!("{method} {}/{sha256} failed: {why}", self.location()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: &str, prefix: &str, path_style: bool) -> S3Client {
        let target = S3Target {
            bucket: "packages".into(),
            prefix: prefix.into(),
            region: "us-east-1".into(),
            endpoint: endpoint.into(),
            path_style,
        };
        S3Client::new(Arc::new(bosun_plugin_host::NoCloud), &target).unwrap()
    }

    #[test]
    fn objects_are_addressed_by_path_or_by_host() {
        let sha = "a".repeat(64);
        let path = client("http://127.0.0.1:9000", "bosun/archives", true);
        assert_eq!(path.object_url(&sha).unwrap().as_str(), format!("http://127.0.0.1:9000/packages/bosun/archives/{sha}"));
        assert_eq!(path.location(), "s3://packages/bosun/archives");
        let host = client("https://s3.eu-west-1.amazonaws.com", "", false);
        assert_eq!(host.object_url(&sha).unwrap().as_str(), format!("https://packages.s3.eu-west-1.amazonaws.com/{sha}"));
        assert_eq!(host.location(), "s3://packages");
    }

    #[test]
    fn error_answers_give_code_and_message() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        assert_eq!(element(xml, "Code", MAX_ERROR_CHARS).as_deref(), Some("AccessDenied"));
        assert_eq!(element(xml, "Message", MAX_ERROR_CHARS).as_deref(), Some("Access Denied"));
        assert_eq!(element("<Code>unterminated", "Code", MAX_ERROR_CHARS), None);
        assert_eq!(element(&format!("<Code>{}</Code>", "x".repeat(10_000)), "Code", MAX_ERROR_CHARS).unwrap().len(), 200);
    }

    #[tokio::test]
    async fn a_host_without_credentials_fails_naming_the_object() {
        let error = client("http://127.0.0.1:9", "", true).send(Method::HEAD, &"b".repeat(64), &[], None).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("HEAD s3://packages/bbbb") && message.contains("no cloud credentials"), "{message}");
    }
}
