//! `/v1/associations` and `/v1/compliance`: State Manager. Create, list, show, update
//! (a new version), delete and run associations; each node's history; the fleet's
//! compliance. The document and parameters are checked as Run Command would check them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bosun_protocol::association::{
    AssociationDefinition, AssociationDetail, AssociationVersionView, AssociationView, ComplianceSummary, NodeRunView, UpdateAssociation,
};
use chrono::Utc;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::associations::command_request;
use crate::run_command::send::check_document_and_parameters;

/// How many runs a node's history shows.
const HISTORY_LIMIT: usize = 50;

fn check_document(state: &AppState, definition: &AssociationDefinition) -> Result<(), ApiError> {
    let request = command_request(definition, definition.targets.clone(), String::new());
    tokio::task::block_in_place(|| check_document_and_parameters(&state.store, &request)).map_err(ApiError::from)
}

fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("no association {id}"))
}

/// Creates an association and applies it to the nodes its targets select now.
#[utoipa::path(post, path = "/v1/associations", tag = "associations", request_body = AssociationDefinition, responses(
    (status = 201, description = "The association; its first run is being sent", body = AssociationView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 409, description = "An association of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_association(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AssociationDefinition>,
) -> Result<(StatusCode, Json<AssociationView>), ApiError> {
    bosun_store::check_definition(&body)?;
    check_document(&state, &body)?;
    let view = tokio::task::block_in_place(|| state.store.create_association(&body, Utc::now()))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Every association, by name.
#[utoipa::path(get, path = "/v1/associations", tag = "associations", responses(
    (status = 200, description = "The associations", body = Vec<AssociationView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_associations(State(state): State<AppState>) -> Result<Json<Vec<AssociationView>>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.list_associations())?))
}

/// One association (by id or name) with each node's status and the latest runs.
#[utoipa::path(get, path = "/v1/associations/{id}", tag = "associations", params(("id" = String, Path, description = "Association id or name")), responses(
    (status = 200, description = "The association", body = AssociationDetail),
    (status = 404, description = "No such association", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_association(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AssociationDetail>, ApiError> {
    tokio::task::block_in_place(|| state.store.get_association(&id))?.map(Json).ok_or_else(|| missing(&id))
}

/// Changes an association: a new version, applied at once; its schedule starts again from now.
#[utoipa::path(patch, path = "/v1/associations/{id}", tag = "associations", params(("id" = String, Path, description = "Association id or name")), request_body = UpdateAssociation, responses(
    (status = 200, description = "The new version", body = AssociationView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 404, description = "No such association", body = ErrorBody),
    (status = 409, description = "Changed meanwhile", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn update_association(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAssociation>,
) -> Result<Json<AssociationView>, ApiError> {
    let current = tokio::task::block_in_place(|| state.store.get_association(&id))?.ok_or_else(|| missing(&id))?;
    let next = body.apply(&current.association.definition);
    bosun_store::check_definition(&next)?;
    check_document(&state, &next)?;
    Ok(Json(tokio::task::block_in_place(|| state.store.update_association(&current.association.association_id, &body, Utc::now()))?))
}

/// Deletes an association, its versions and node statuses (the commands it sent stay).
#[utoipa::path(delete, path = "/v1/associations/{id}", tag = "associations", params(("id" = String, Path, description = "Association id or name")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such association", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_association(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if tokio::task::block_in_place(|| state.store.delete_association(&id))? { Ok(StatusCode::NO_CONTENT) } else { Err(missing(&id)) }
}

/// Applies an association now, outside its schedule.
#[utoipa::path(post, path = "/v1/associations/{id}/run", tag = "associations", params(("id" = String, Path, description = "Association id or name")), responses(
    (status = 202, description = "The run is recorded and being sent", body = AssociationDetail),
    (status = 404, description = "No such association", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn run_association(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<AssociationDetail>), ApiError> {
    tokio::task::block_in_place(|| state.store.run_association_now(&id, Utc::now()))?.ok_or_else(|| missing(&id))?;
    let detail = tokio::task::block_in_place(|| state.store.get_association(&id))?.ok_or_else(|| missing(&id))?;
    Ok((StatusCode::ACCEPTED, Json(detail)))
}

/// Every version of an association, oldest first.
#[utoipa::path(get, path = "/v1/associations/{id}/versions", tag = "associations", params(("id" = String, Path, description = "Association id or name")), responses(
    (status = 200, description = "The versions", body = Vec<AssociationVersionView>),
    (status = 404, description = "No such association", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn association_versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<AssociationVersionView>>, ApiError> {
    tokio::task::block_in_place(|| state.store.association_versions(&id))?.map(Json).ok_or_else(|| missing(&id))
}

/// One node's runs of an association, newest first, with status, exit code and output.
#[utoipa::path(get, path = "/v1/associations/{id}/nodes/{node}", tag = "associations", params(
    ("id" = String, Path, description = "Association id or name"),
    ("node" = String, Path, description = "Node id"),
), responses(
    (status = 200, description = "The node's history (at most 50 runs)", body = Vec<NodeRunView>),
    (status = 404, description = "No such association", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn node_history(
    State(state): State<AppState>,
    Path((id, node)): Path<(String, String)>,
) -> Result<Json<Vec<NodeRunView>>, ApiError> {
    let detail = tokio::task::block_in_place(|| state.store.get_association(&id))?.ok_or_else(|| missing(&id))?;
    Ok(Json(tokio::task::block_in_place(|| {
        state.store.association_node_history(&detail.association.association_id, &node, HISTORY_LIMIT)
    })?))
}

/// The fleet's association compliance: per node, and by severity.
#[utoipa::path(get, path = "/v1/compliance", tag = "associations", responses(
    (status = 200, description = "The compliance summary", body = ComplianceSummary),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn compliance(State(state): State<AppState>) -> Result<Json<ComplianceSummary>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.compliance_summary())?))
}
