//! `/v1/executions`: start Automation executions, read them (the JSON of `bosun
//! automation get --output json`) and send them signals. The server's driver
//! picks new executions up as `bosun dev` does.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use bosun_document::params::ParamInput;
use bosun_engine::{SignalKind, StartRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::output::execution_json;

/// A document version: a number, `$LATEST` or `$DEFAULT`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum VersionRef {
    Number(u32),
    Text(String),
}

/// What to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartExecution {
    /// The name of a stored document.
    pub document: String,
    /// The version to run (default: the default version).
    pub version: Option<VersionRef>,
    /// Parameter values: a string, number, boolean, list or object, coerced to the declared type.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionCreated {
    pub execution_id: String,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Approve,
    Reject,
    Resume,
    Cancel,
}

/// A signal for an execution; the decision is recorded under the token's name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub kind: Kind,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many executions to return, newest first (default 50).
    pub limit: Option<usize>,
}

/// Starts an execution of a stored document.
#[utoipa::path(post, path = "/v1/executions", tag = "executions", request_body = StartExecution, responses(
    (status = 201, description = "The execution was created", body = ExecutionCreated),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 422, description = "Unknown document or version, or bad parameters (the field is named)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn start_execution(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<StartExecution>,
) -> Result<(StatusCode, Json<ExecutionCreated>), ApiError> {
    let version = body.version.map(|v| match v {
        VersionRef::Number(n) => n.to_string(),
        VersionRef::Text(t) => t,
    });
    let Some((_, document)) = state.store.get_document(&body.document, version.as_deref())? else {
        return Err(match version {
            Some(v) => ApiError::invalid("version", format!("document \"{}\" has no version {v}", body.document)),
            None => ApiError::invalid("document", format!("no document named \"{}\"", body.document)),
        });
    };
    let parameters = body.parameters.into_iter().map(|(name, value)| (name, ParamInput::Json(value))).collect();
    let id = state.engine.create_by(StartRequest { document, parameters, mocks: Map::new() }, &caller).await?;
    Ok((StatusCode::CREATED, Json(ExecutionCreated { execution_id: id })))
}

/// The latest executions, newest first.
#[utoipa::path(get, path = "/v1/executions", tag = "executions", params(ListQuery), responses(
    (status = 200, description = "Execution summaries", body = Vec<Object>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_executions(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let list = state.store.list_executions(query.limit.unwrap_or(50))?;
    Ok(Json(serde_json::to_value(&list).unwrap_or(Value::Null)))
}

/// One execution with its steps.
#[utoipa::path(get, path = "/v1/executions/{id}", tag = "executions", params(("id" = String, Path, description = "Execution id")), responses(
    (status = 200, description = "The execution", body = Object),
    (status = 404, description = "No such execution", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_execution(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let execution = state.store.load_execution(&id)?.ok_or_else(|| ApiError::not_found(format!("no execution with id {id}")))?;
    Ok(Json(execution_json(&execution)))
}

/// Approves, rejects, resumes or cancels an execution.
#[utoipa::path(post, path = "/v1/executions/{id}/signals", tag = "executions", params(("id" = String, Path, description = "Execution id")), request_body = Signal, responses(
    (status = 202, description = "The signal was recorded", body = Object),
    (status = 404, description = "No such execution", body = ErrorBody),
    (status = 409, description = "The execution's state does not allow it", body = ErrorBody),
    (status = 422, description = "A field is not valid", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn signal(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Signal>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (kind, name) = match body.kind {
        Kind::Approve => (SignalKind::Approve, "approve"),
        Kind::Reject => (SignalKind::Reject, "reject"),
        Kind::Resume => (SignalKind::Resume, "resume"),
        Kind::Cancel => (SignalKind::Cancel, "cancel"),
    };
    state.engine.signal(&id, kind, &caller, body.comment).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"executionId": id, "kind": name, "actor": caller}))))
}
