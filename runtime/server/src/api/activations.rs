//! `/v1/activations`: create, list and delete hybrid activations. A new
//! activation's code is in the creation's answer only; the store keeps its hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bosun_protocol::fleet::{ActivationCreated, ActivationView, CreateActivation};

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

/// Creates an activation: the code is shown this once.
#[utoipa::path(post, path = "/v1/activations", tag = "fleet", request_body = CreateActivation, responses(
    (status = 201, description = "The activation, with its code", body = ActivationCreated),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_activation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateActivation>,
) -> Result<(StatusCode, Json<ActivationCreated>), ApiError> {
    let created = tokio::task::block_in_place(|| state.store.create_activation(&body))?;
    tracing::info!(activation = %created.activation_id, limit = created.registration_limit, "activation created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every activation, newest first (never the codes).
#[utoipa::path(get, path = "/v1/activations", tag = "fleet", responses(
    (status = 200, description = "The activations", body = Vec<ActivationView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_activations(State(state): State<AppState>) -> Result<Json<Vec<ActivationView>>, ApiError> {
    Ok(Json(state.store.list_activations()?))
}

/// Deletes an activation: no more nodes register with it; those that did stay.
#[utoipa::path(delete, path = "/v1/activations/{id}", tag = "fleet", params(("id" = String, Path, description = "Activation id")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such activation", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_activation(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if tokio::task::block_in_place(|| state.store.delete_activation(&id))? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no activation {id}")))
    }
}
