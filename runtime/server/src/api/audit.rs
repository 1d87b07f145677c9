//! The audit trail: [`record`] wraps every admin route and appends, for each call
//! that may change state (any method but GET and HEAD, except the Parameter Store's
//! reads, which are POSTs as in SSM), who made it (the token's name), what (method
//! and path), from where, and the status it got.
//! `GET /v1/audit` reads the trail.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{Extensions, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bosun_protocol::events::AuditEntry;
use bosun_store::NewAudit;
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};

/// The client's address, when the server knows it.
pub fn source_address(extensions: &Extensions) -> String {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip().to_string()).unwrap_or_else(|| "-".into())
}

/// The routes that read with a POST body, as SSM's API does: they change nothing.
const READS_BY_POST: [&str; 4] = ["/v1/parameters/get", "/v1/parameters/get-many", "/v1/parameters/get-by-path", "/v1/parameters/history"];

/// Records a state-changing call once it has its answer.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) || READS_BY_POST.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let principal = request.extensions().get::<Caller>().map(|Caller(name)| name.clone()).unwrap_or_else(|| "-".into());
    let action = format!("{} {}", request.method(), request.uri().path());
    let source_address = source_address(request.extensions());
    let response = next.run(request).await;
    let entry = NewAudit { principal, action, source_address, outcome: response.status().as_u16().to_string() };
    if let Err(error) = state.store.record_audit(entry).await {
        tracing::error!(%error, "cannot append to the audit trail");
    }
    response
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this principal's rows (a token name, `hook:NAME` or `rule:NAME`).
    pub principal: Option<String>,
    /// Only rows from this time on (RFC 3339, UTC).
    pub since: Option<String>,
    /// The most rows, the latest ones (default 100, at most 10000).
    pub limit: Option<usize>,
}

/// The audit trail, oldest first.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), responses(
    (status = 200, description = "Audit rows", body = Vec<AuditEntry>),
    (status = 400, description = "A bad query parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let since = query
        .since
        .as_deref()
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| bosun_store::timestamp(t.with_timezone(&chrono::Utc)))
                .map_err(|e| ApiError::invalid("since", format!("{text:?} is not an RFC 3339 time: {e}")))
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    Ok(Json(state.store.list_audit(query.principal.as_deref(), since.as_deref(), limit)?))
}
