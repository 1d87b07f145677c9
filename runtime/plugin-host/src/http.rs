//! `http-request`: outbound HTTP to granted scheme://host:port only, no
//! redirects, bounded bodies, within the call's deadline. `aws://` URLs go to
//! `cloud`, which signs them and sends them through [`deliver`]; a relative URL
//! goes to the call's control plane with the node's credential added by the host.

use std::time::Instant;

use reqwest::{Method, Url};

use crate::bindings::{GuestError, HttpRequest, HttpResponse};
use crate::state::CallState;

/// Headers a plugin may not set: they would change where the request goes or
/// how it is framed.
const FORBIDDEN_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection", "proxy-authorization"];

pub async fn send(state: &mut CallState, request: HttpRequest) -> Result<HttpResponse, GuestError> {
    // A relative URL names the control plane the node talks to (see `control_plane.rs`).
    let linked = if request.url.starts_with('/') {
        let Some(link) = state.link.clone() else {
            return Err(GuestError::InvalidInput(format!(
                "{:?} is relative, and this call has no control plane to send it to",
                request.url
            )));
        };
        Some((link.resolve(&request.url).map_err(GuestError::InvalidInput)?, link))
    } else {
        None
    };
    let url = match &linked {
        Some((url, _)) => url.clone(),
        None => Url::parse(&request.url).map_err(|e| GuestError::InvalidInput(format!("bad URL {:?}: {e}", request.url)))?,
    };
    if linked.is_none() && url.scheme() == crate::cloud::SCHEME {
        return crate::cloud::send(state, request, url).await;
    }
    let scheme = url.scheme().to_string();
    let host = url.host_str().ok_or_else(|| GuestError::InvalidInput(format!("URL {} has no host", request.url)))?.to_string();
    let port = url.port_or_known_default().ok_or_else(|| GuestError::InvalidInput(format!("URL {} has no port", request.url)))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GuestError::InvalidInput("URLs with credentials are refused".into()));
    }
    if let Err(denial) = state.caps.check_http(&scheme, host.trim_start_matches('[').trim_end_matches(']'), port) {
        return Err(GuestError::Denied(state.deny(denial)));
    }
    let method = method(&request.method)?;
    let mut headers = request.headers;
    match &linked {
        Some((_, link)) => {
            check_headers(&headers, &["authorization"])?;
            headers.push((reqwest::header::AUTHORIZATION.to_string(), link.authorization()));
        }
        None => check_headers(&headers, &[])?,
    }
    deliver(state, method, url, headers, request.body).await
}

/// The request method, from the few a plugin may use.
pub(crate) fn method(name: &str) -> Result<Method, GuestError> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        "PATCH" => Method::PATCH,
        "HEAD" => Method::HEAD,
        other => return Err(GuestError::InvalidInput(format!("HTTP method {other} is not supported"))),
    })
}

/// Refuses a header the host sets itself: those of every request, and `forbidden`.
pub(crate) fn check_headers(headers: &[(String, String)], forbidden: &[&str]) -> Result<(), GuestError> {
    for (name, _) in headers {
        let lower = name.to_ascii_lowercase();
        if forbidden.contains(&lower.as_str()) || FORBIDDEN_HEADERS.contains(&lower.as_str()) {
            return Err(GuestError::InvalidInput(format!("the header {name} is set by the host")));
        }
    }
    Ok(())
}

/// Sends a checked request within the call's deadline and reads a bounded body.
pub(crate) async fn deliver(
    state: &mut CallState,
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<HttpResponse, GuestError> {
    let mut builder = state.services.http.request(method, url);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let remaining = state.deadline.saturating_duration_since(Instant::now());
    let started = Instant::now();
    let mut response = builder.body(body).timeout(remaining).send().await.map_err(|e| transport_error(&e, remaining))?;
    let status = response.status().as_u16();
    let headers =
        response.headers().iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    let limit = state.services.max_transfer_bytes;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e, remaining))? {
        if body.len() + chunk.len() > limit {
            return Err(GuestError::Failed(format!("the HTTP response body is larger than {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    tracing::debug!(plugin = %state.plugin, status, elapsed_ms = started.elapsed().as_millis() as u64, "plugin http request");
    Ok(HttpResponse { status, headers, body })
}

fn transport_error(error: &reqwest::Error, remaining: std::time::Duration) -> GuestError {
    if error.is_timeout() {
        GuestError::TimedOut(format!("the HTTP request did not finish within the call's remaining {} ms", remaining.as_millis()))
    } else {
        // reqwest's Display leaves out the cause; the chain says why.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        GuestError::Failed(message)
    }
}
