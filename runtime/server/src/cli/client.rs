//! The CLI's HTTP client for a running Bosun: the endpoint and token come from
//! `--endpoint`/`--token` or `BOSUN_ENDPOINT`/`BOSUN_TOKEN`, and API errors become
//! CLI errors that keep the server's message, field and details.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use super::{CliError, Context};

/// A client of one Bosun API.
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Client {
    /// The client the global flags or environment describe, or an error saying how to set them.
    pub fn from_context(ctx: &Context) -> Result<Self, CliError> {
        let endpoint = ctx.endpoint.as_deref().filter(|e| !e.is_empty()).ok_or_else(|| {
            CliError::usage(
                "no Bosun endpoint: pass --endpoint URL or set BOSUN_ENDPOINT (`bosun dev` prints it and writes it to <data-dir>/env)",
            )
        })?;
        let token =
            ctx.token.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| {
                CliError::usage("no API token: pass --token TOKEN or set BOSUN_TOKEN (`bosun token create NAME` makes one)")
            })?;
        Self::new(endpoint, token, ctx.ca_cert.as_deref())
    }

    /// A client of `endpoint`; `ca_cert` is a PEM certificate to trust besides the usual roots.
    pub fn new(endpoint: &str, token: &str, ca_cert: Option<&Path>) -> Result<Self, CliError> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(CliError::usage(format!("the endpoint {endpoint:?} is not an http:// or https:// URL")));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("bosun/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(path) = ca_cert {
            let pem =
                std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read the CA certificate {}: {e}", path.display())))?;
            let not_pem = |why: String| CliError::usage(format!("{} is not a PEM certificate: {why}", path.display()));
            // reqwest accepts text without any certificate in it; say so here instead of failing every call later.
            let found = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| not_pem(e.to_string()))?;
            if found.is_empty() {
                return Err(not_pem("it holds no BEGIN CERTIFICATE block".into()));
            }
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|e| not_pem(e.to_string()))?;
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder.build().map_err(|e| CliError::failed(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, endpoint: endpoint.trim_end_matches('/').to_string(), token: token.to_string() })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.call(Method::DELETE, path, None::<&()>).await
    }

    /// GETs `path` and copies the body to `sink` as it arrives (a JSON Lines export).
    pub async fn get_to(&self, path: &str, sink: &mut impl std::io::Write) -> Result<(), CliError> {
        let url = format!("{}{path}", self.endpoint);
        let mut response = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| CliError::failed(format!("cannot reach Bosun at {}: {e}", self.endpoint)))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(api_error(status, &bytes));
        }
        let broken = |e: String| CliError::failed(format!("the answer of {url} broke off: {e}"));
        while let Some(chunk) = response.chunk().await.map_err(|e| broken(e.to_string()))? {
            sink.write_all(&chunk).map_err(|e| CliError::failed(format!("cannot write the export: {e}")))?;
        }
        sink.flush().map_err(|e| CliError::failed(format!("cannot write the export: {e}")))
    }

    /// PUTs raw bytes (`application/octet-stream`) and reads the JSON answer.
    pub async fn put_bytes<T: DeserializeOwned>(&self, path: &str, bytes: Vec<u8>) -> Result<T, CliError> {
        let url = format!("{}{path}", self.endpoint);
        let request =
            self.http.put(&url).bearer_auth(&self.token).header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(bytes);
        self.answer(request, &url).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&B>) -> Result<T, CliError> {
        let url = format!("{}{path}", self.endpoint);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request, &url).await
    }

    /// Sends a request and reads its JSON answer, or the API error it got.
    async fn answer<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, url: &str) -> Result<T, CliError> {
        let response = request.send().await.map_err(|e| CliError::failed(format!("cannot reach Bosun at {}: {e}", self.endpoint)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| CliError::failed(format!("cannot read the answer of {url}: {e}")))?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        // 204 and empty bodies read as JSON null, for callers that expect `()`.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| CliError::failed(format!("unexpected answer from {url}: {e}")))
    }
}

/// A CLI error from an API error answer: the server's message, the field at fault and the details.
fn api_error(status: StatusCode, body: &[u8]) -> CliError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = |key: &str| parsed.as_ref().and_then(|v| v.get(key)).and_then(|v| v.as_str()).map(str::to_string);
    let mut message = text("message").unwrap_or_else(|| format!("the server answered {status}"));
    if let Some(field) = text("field") {
        message = format!("{field}: {message}");
    }
    let details: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("details"))
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let extra: Vec<&String> = details.iter().filter(|d| !message.contains(d.as_str())).collect();
    for line in extra {
        message = format!("{message}\n  {line}");
    }
    match status {
        StatusCode::UNAUTHORIZED => CliError::failed(format!("{message} (check BOSUN_TOKEN or --token)")),
        s if s.is_client_error() => CliError::usage(message),
        _ => CliError::failed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_field_and_details() {
        let body = br#"{"error":"invalid","message":"bad target","field":"targets[0]","details":["one","two"]}"#;
        let e = api_error(StatusCode::UNPROCESSABLE_ENTITY, body);
        assert_eq!(e.code, 2);
        assert_eq!(e.message, "targets[0]: bad target\n  one\n  two");
        let e = api_error(StatusCode::UNAUTHORIZED, br#"{"error":"unauthorized","message":"the token is unknown or revoked"}"#);
        assert_eq!(e.code, 1);
        assert!(e.message.contains("BOSUN_TOKEN"));
        assert_eq!(api_error(StatusCode::BAD_GATEWAY, b"<html>").message, "the server answered 502 Bad Gateway");
    }

    #[test]
    fn endpoints_must_be_urls() {
        assert!(Client::new("localhost:8470", "t", None).is_err());
        assert!(Client::new("http://127.0.0.1:8470/", "t", None).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("ca.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        assert!(Client::new("https://127.0.0.1:8470", "t", Some(&junk)).is_err());
        assert!(Client::new("https://127.0.0.1:8470", "t", Some(&dir.path().join("missing.pem"))).is_err());
    }
}
