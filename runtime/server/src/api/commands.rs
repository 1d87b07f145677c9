//! `/v1/commands`: Run Command. Send a Command document to targets with rate
//! control, list and read commands with their per-node results, and cancel.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bosun_protocol::command::{CommandView, SendCommand};
use serde::Deserialize;

use super::AppState;
use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::run_command::{Detail, SendError};

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Invalid { field, message, details } => ApiError::invalid(field, message).with_details(details),
            SendError::NotFound(message) => ApiError::invalid("documentName", message),
            SendError::Store(message) => ApiError::internal(message),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many commands to return, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// All of every invocation's output; by default stdout is cut at 24,000 characters and stderr at 8,000, as SSM does.
    pub full: Option<bool>,
    /// Only the command and its counts per status, without the invocations (for progress displays).
    pub summary: Option<bool>,
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))
}

/// Sends a Command document to the nodes the targets select.
#[utoipa::path(post, path = "/v1/commands", tag = "commands", request_body = SendCommand, responses(
    (status = 201, description = "The command was recorded; the dispatcher starts it", body = CommandView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 422, description = "Unknown document, invalid document, bad parameters or targets (the field is named)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn send_command(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<SendCommand>,
) -> Result<(StatusCode, Json<CommandView>), ApiError> {
    let view = state.run_command.send(&body, &caller).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The latest commands, newest first, with their counts per status.
#[utoipa::path(get, path = "/v1/commands", tag = "commands", params(ListQuery), responses(
    (status = 200, description = "Commands", body = Vec<CommandView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_commands(
    State(state): State<AppState>,
    list: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<CommandView>>, ApiError> {
    let limit = query(list)?.limit.unwrap_or(50).min(1000);
    Ok(Json(state.run_command.list(limit)?))
}

/// One command with every invocation: status, exit code, stdout and stderr per node.
#[utoipa::path(get, path = "/v1/commands/{id}", tag = "commands", params(("id" = String, Path, description = "Command id"), ShowQuery), responses(
    (status = 200, description = "The command", body = CommandView),
    (status = 404, description = "No such command", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_command(
    State(state): State<AppState>,
    Path(id): Path<String>,
    show: Result<Query<ShowQuery>, QueryRejection>,
) -> Result<Json<CommandView>, ApiError> {
    let show = query(show)?;
    let detail = match (show.summary.unwrap_or(false), show.full.unwrap_or(false)) {
        (true, _) => Detail::Summary,
        (false, true) => Detail::Full,
        (false, false) => Detail::Invocations,
    };
    let view = state.run_command.view(&id, detail)?.ok_or_else(|| ApiError::not_found(format!("no command with id {id}")))?;
    Ok(Json(view))
}

/// Cancels a command: what has not started is Cancelled; running invocations are stopped by their nodes.
#[utoipa::path(post, path = "/v1/commands/{id}/cancel", tag = "commands", params(("id" = String, Path, description = "Command id")), responses(
    (status = 202, description = "Cancel requested (the command is Cancelling, or had ended)", body = CommandView),
    (status = 404, description = "No such command", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn cancel_command(State(state): State<AppState>, Path(id): Path<String>) -> Result<(StatusCode, Json<CommandView>), ApiError> {
    let view = state.run_command.cancel(&id).await?.ok_or_else(|| ApiError::not_found(format!("no command with id {id}")))?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}
