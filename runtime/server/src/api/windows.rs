//! `/v1/windows`: Maintenance Windows. Create, list, show and delete windows, register
//! targets and tasks (a Run Command document checked as a send would check it, or a
//! stored Automation runbook), and read each window's executions with their tasks and
//! nodes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bosun_protocol::command::SendCommand;
use bosun_protocol::window::{
    AUTOMATION, CreateWindow, RUN_COMMAND, RegisterTarget, RegisterTask, WindowExecutionView, WindowTargetView, WindowTaskView, WindowView,
};
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::run_command::send::check_document_and_parameters;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// How many executions, newest first (default 20, at most 500).
    pub limit: Option<usize>,
}

fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("no maintenance window {id}"))
}

/// Checks a task's document: a Command document with its parameters, or a stored Automation runbook.
fn check_task_document(state: &AppState, task: &RegisterTask) -> Result<(), ApiError> {
    if task.task_type == RUN_COMMAND {
        let request = SendCommand {
            document_name: Some(task.document_name.clone()),
            document_version: task.document_version.clone(),
            document: None,
            targets: task.targets.clone(),
            parameters: task.parameters.clone(),
            max_concurrency: task.max_concurrency,
            max_errors: task.max_errors,
            timeout_seconds: None,
            delivery_timeout_seconds: None,
            comment: String::new(),
        };
        return tokio::task::block_in_place(|| check_document_and_parameters(&state.store, &request)).map_err(ApiError::from);
    }
    if task.task_type == AUTOMATION {
        let found = tokio::task::block_in_place(|| state.store.get_document(&task.document_name, task.document_version.as_deref()))?;
        return match found {
            Some((info, _)) if info.document_type == "Automation" => Ok(()),
            Some((info, _)) => Err(ApiError::invalid(
                "documentName",
                format!("{} is a {} document; an AUTOMATION task starts Automation runbooks", info.name, info.document_type),
            )),
            None => Err(ApiError::invalid("documentName", format!("no document named {}", task.document_name))),
        };
    }
    Ok(())
}

/// Creates a maintenance window; it opens at its schedule's next fire.
#[utoipa::path(post, path = "/v1/windows", tag = "windows", request_body = CreateWindow, responses(
    (status = 201, description = "The window", body = WindowView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 409, description = "A window of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_window(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateWindow>,
) -> Result<(StatusCode, Json<WindowView>), ApiError> {
    let view = tokio::task::block_in_place(|| state.store.create_window(&body, Utc::now()))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Every window, by name.
#[utoipa::path(get, path = "/v1/windows", tag = "windows", responses(
    (status = 200, description = "The windows", body = Vec<WindowView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_windows(State(state): State<AppState>) -> Result<Json<Vec<WindowView>>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.list_windows())?))
}

/// One window (by id or name) with its targets and tasks.
#[utoipa::path(get, path = "/v1/windows/{id}", tag = "windows", params(("id" = String, Path, description = "Window id or name")), responses(
    (status = 200, description = "The window", body = WindowView),
    (status = 404, description = "No such window", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_window(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<WindowView>, ApiError> {
    tokio::task::block_in_place(|| state.store.get_window(&id))?.map(Json).ok_or_else(|| missing(&id))
}

/// Deletes a window with its targets, tasks and history (the commands it sent stay).
#[utoipa::path(delete, path = "/v1/windows/{id}", tag = "windows", params(("id" = String, Path, description = "Window id or name")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such window", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_window(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if tokio::task::block_in_place(|| state.store.delete_window(&id))? { Ok(StatusCode::NO_CONTENT) } else { Err(missing(&id)) }
}

/// Registers targets with a window.
#[utoipa::path(post, path = "/v1/windows/{id}/targets", tag = "windows", params(("id" = String, Path, description = "Window id or name")), request_body = RegisterTarget, responses(
    (status = 201, description = "The registered target", body = WindowTargetView),
    (status = 404, description = "No such window", body = ErrorBody),
    (status = 409, description = "A target of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn register_target(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RegisterTarget>,
) -> Result<(StatusCode, Json<WindowTargetView>), ApiError> {
    Ok((StatusCode::CREATED, Json(tokio::task::block_in_place(|| state.store.register_window_target(&id, &body))?)))
}

/// Registers a task with a window.
#[utoipa::path(post, path = "/v1/windows/{id}/tasks", tag = "windows", params(("id" = String, Path, description = "Window id or name")), request_body = RegisterTask, responses(
    (status = 201, description = "The registered task", body = WindowTaskView),
    (status = 404, description = "No such window", body = ErrorBody),
    (status = 409, description = "A task of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn register_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RegisterTask>,
) -> Result<(StatusCode, Json<WindowTaskView>), ApiError> {
    tokio::task::block_in_place(|| state.store.get_window(&id))?.ok_or_else(|| missing(&id))?;
    check_task_document(&state, &body)?;
    Ok((StatusCode::CREATED, Json(tokio::task::block_in_place(|| state.store.register_window_task(&id, &body))?)))
}

/// A window's executions, newest first, with each task's status and each node's invocation.
#[utoipa::path(get, path = "/v1/windows/{id}/executions", tag = "windows", params(("id" = String, Path, description = "Window id or name"), HistoryQuery), responses(
    (status = 200, description = "The executions", body = Vec<WindowExecutionView>),
    (status = 404, description = "No such window", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn window_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<WindowExecutionView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let limit = query.limit.unwrap_or(20).clamp(1, 500);
    tokio::task::block_in_place(|| state.store.window_history(&id, limit))?.map(Json).ok_or_else(|| missing(&id))
}
