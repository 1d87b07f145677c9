//! `/v1/groups`: resource groups, each a tag query (for each key the values
//! allowed, ORed; keys ANDed), shown with the registered nodes it matches now.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bosun_protocol::fleet::{CreateGroup, GroupView};

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

/// Creates a group.
#[utoipa::path(post, path = "/v1/groups", tag = "fleet", request_body = CreateGroup, responses(
    (status = 201, description = "The group with its members now", body = GroupView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 409, description = "A group of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_group(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let group = tokio::task::block_in_place(|| state.store.create_group(&body))?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// Every group, by name, with its members now.
#[utoipa::path(get, path = "/v1/groups", tag = "fleet", responses(
    (status = 200, description = "The groups", body = Vec<GroupView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_groups(State(state): State<AppState>) -> Result<Json<Vec<GroupView>>, ApiError> {
    Ok(Json(state.store.list_groups()?))
}

/// One group with its members now.
#[utoipa::path(get, path = "/v1/groups/{name}", tag = "fleet", params(("name" = String, Path, description = "Group name")), responses(
    (status = 200, description = "The group", body = GroupView),
    (status = 404, description = "No such group", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_group(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<GroupView>, ApiError> {
    state.store.get_group(&name)?.map(Json).ok_or_else(|| ApiError::not_found(format!("no group named {name}")))
}

/// Deletes a group (its nodes are not touched).
#[utoipa::path(delete, path = "/v1/groups/{name}", tag = "fleet", params(("name" = String, Path, description = "Group name")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such group", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_group(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    if tokio::task::block_in_place(|| state.store.delete_group(&name))? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no group named {name}")))
    }
}
