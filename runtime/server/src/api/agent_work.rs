//! The agents' work routes (node credential): `POST /v1/agent/poll`, the long poll
//! that hands a node its invocations and says which to stop, and
//! `POST /v1/agent/invocations/{id}`, a node's report on one of its own invocations.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use bosun_protocol::agent::{InvocationReport, Poll, ReportAck, Work};

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use super::node_auth::NodeCaller;
use crate::run_command::{ReportError, WorkReply};

/// The largest report body: an invocation's stdout and stderr at their upload limit, with room for the steps.
pub const REPORT_BODY_LIMIT: usize = 4 * bosun_protocol::agent::MAX_OUTPUT_BYTES + 1024 * 1024;

/// Waits up to `waitSeconds` for work: the invocations dispatched to this node, and the running ones to stop.
#[utoipa::path(post, path = "/v1/agent/poll", tag = "agent", request_body = Poll, responses(
    (status = 200, description = "Work for the node (possibly none)", body = Work),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn poll(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    ApiJson(body): ApiJson<Poll>,
) -> Result<Json<WorkReply>, ApiError> {
    Ok(Json(state.run_command.poll(&node, &body).await?))
}

/// A node's report on one of its invocations (idempotent: the first terminal report wins).
#[utoipa::path(post, path = "/v1/agent/invocations/{id}", tag = "agent", request_body = InvocationReport,
    params(("id" = String, Path, description = "Invocation id")), responses(
    (status = 200, description = "Recorded, or already ended", body = ReportAck),
    (status = 404, description = "No such invocation for this node", body = ErrorBody),
    (status = 422, description = "A status a node may not report", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn report(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvocationReport>,
) -> Result<Json<ReportAck>, ApiError> {
    match state.run_command.report(&node, &id, body).await {
        Ok(ack) => Ok(Json(ack)),
        Err(ReportError::NotFound) => Err(ApiError::not_found(format!("no invocation {id} for this node"))),
        Err(ReportError::Invalid(message)) => Err(ApiError::invalid("status", message)),
        Err(ReportError::Store(e)) => Err(e.into()),
    }
}
