//! `/v1/opsitems`: OpsCenter. OpsItems are opened by rule targets (or repeated
//! onto the open one with the same deduplication string); operators list, show and
//! update them, and run a runbook from one, which records the execution on it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bosun_protocol::events::{OpsItemView, RunRunbook, UpdateOpsItem};
use serde::Deserialize;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OpsItemsQuery {
    /// Only OpsItems of this status (Open, InProgress, Resolved).
    pub status: Option<String>,
    /// The most OpsItems, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// OpsItems, newest first.
#[utoipa::path(get, path = "/v1/opsitems", tag = "opscenter", params(OpsItemsQuery), responses(
    (status = 200, description = "OpsItems", body = Vec<OpsItemView>),
    (status = 400, description = "A bad query parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_opsitems(
    State(state): State<AppState>,
    query: Result<Query<OpsItemsQuery>, QueryRejection>,
) -> Result<Json<Vec<OpsItemView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    Ok(Json(state.store.list_opsitems(query.status.as_deref(), query.limit.unwrap_or(100).min(1000))?))
}

/// One OpsItem.
#[utoipa::path(get, path = "/v1/opsitems/{id}", tag = "opscenter", params(("id" = String, Path, description = "OpsItem id")), responses(
    (status = 200, description = "The OpsItem", body = OpsItemView),
    (status = 404, description = "No such OpsItem", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_opsitem(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<OpsItemView>, ApiError> {
    state.store.get_opsitem(&id)?.map(Json).ok_or_else(|| ApiError::not_found(format!("no OpsItem {id}")))
}

/// Changes an OpsItem's status, severity, title or description, or associates runbooks.
#[utoipa::path(patch, path = "/v1/opsitems/{id}", tag = "opscenter", params(("id" = String, Path, description = "OpsItem id")), request_body = UpdateOpsItem, responses(
    (status = 200, description = "The OpsItem", body = OpsItemView),
    (status = 404, description = "No such OpsItem", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn update_opsitem(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateOpsItem>,
) -> Result<Json<OpsItemView>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.update_opsitem(&id, &body))?))
}

/// Starts an Automation runbook from an OpsItem and records the execution on it.
#[utoipa::path(post, path = "/v1/opsitems/{id}/run-runbook", tag = "opscenter", params(("id" = String, Path, description = "OpsItem id")), request_body = RunRunbook, responses(
    (status = 201, description = "The OpsItem with the execution recorded", body = OpsItemView),
    (status = 404, description = "No such OpsItem", body = ErrorBody),
    (status = 422, description = "Unknown document or bad parameters", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn run_runbook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RunRunbook>,
) -> Result<(StatusCode, Json<OpsItemView>), ApiError> {
    if state.store.get_opsitem(&id)?.is_none() {
        return Err(ApiError::not_found(format!("no OpsItem {id}")));
    }
    let execution = state
        .bus
        .services()
        .start_automation(&body.document_name, body.parameters)
        .await
        .map_err(|e| if e.permanent { ApiError::invalid("documentName", e.message) } else { ApiError::internal(e.message) })?;
    let item = tokio::task::block_in_place(|| state.store.record_opsitem_execution(&id, &body.document_name, &execution))?;
    Ok((StatusCode::CREATED, Json(item)))
}
