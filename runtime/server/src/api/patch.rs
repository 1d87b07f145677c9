//! Patch Manager over HTTP. Token routes under `/v1/patch`: baselines (create,
//! list, show, update, delete, set as default; bodies in AWS's baseline JSON),
//! patch groups, the group tag key, and compliance (per node, fleet summary,
//! JSON Lines export). Node routes: `GET /v1/agent/patch/snapshot` gives the
//! calling node its baseline, resolved now from its group tag and operating
//! system; `POST /v1/agent/patch/compliance` stores the report of its
//! `aws:runPatchBaseline` step.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use bosun_patching::baseline::{BaselineSpec, OperatingSystem};
use bosun_patching::{Report, Snapshot};
use bosun_protocol::patch::{
    NodePatchCompliance, PatchBaselineView, PatchGroupView, PatchSettings, PatchSummary, PutPatchCompliance, RegisterPatchGroup,
};
use bosun_store::patches::EXPORT_PAGE;
use serde::Deserialize;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use super::node_auth::NodeCaller;

/// The largest compliance upload: a report of every installed package.
pub const UPLOAD_BODY_LIMIT: usize = 32 << 20;

/// The query parameters of the patch reads.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchQuery {
    /// Only this patch group's nodes.
    group: Option<String>,
    /// Only this node (its patches are included).
    node: Option<String>,
    /// Only baselines of this operating system: DEBIAN or UBUNTU.
    operating_system: Option<String>,
}

fn query(raw: Option<String>) -> Result<PatchQuery, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).map_err(|e| ApiError::invalid("query", e.to_string()))
}

/// A baseline's error names its field first (`ApprovalRules.PatchRules[0].ApproveAfterDays: …`).
fn invalid_baseline(message: String) -> ApiError {
    match message.split_once(": ") {
        Some((field, rest)) if !field.contains(' ') => ApiError::invalid(field, rest),
        _ => ApiError::invalid("baseline", message),
    }
}

fn parse_baseline(body: &serde_json::Value) -> Result<BaselineSpec, ApiError> {
    BaselineSpec::from_value(body).map_err(invalid_baseline)
}

/// The baselines, predefined ones first.
#[utoipa::path(get, path = "/v1/patch/baselines", tag = "patch", params(PatchQuery), responses(
    (status = 200, description = "The baselines", body = Vec<PatchBaselineView>),
    (status = 422, description = "A query parameter is not valid", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_baselines(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Vec<PatchBaselineView>>, ApiError> {
    let os = query(raw)?
        .operating_system
        .map(|o| OperatingSystem::parse(&o))
        .transpose()
        .map_err(|e| ApiError::invalid("operatingSystem", e))?;
    Ok(Json(tokio::task::block_in_place(|| state.store.list_patch_baselines(os))?))
}

/// Creates a baseline from AWS's JSON (`Name`, `OperatingSystem`, `ApprovalRules`, …).
#[utoipa::path(post, path = "/v1/patch/baselines", tag = "patch", request_body = Object, responses(
    (status = 201, description = "Created", body = PatchBaselineView),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 409, description = "The name is taken", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_baseline(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<PatchBaselineView>), ApiError> {
    let spec = parse_baseline(&body)?;
    Ok((StatusCode::CREATED, Json(state.store.create_patch_baseline(spec)?)))
}

/// One baseline, by id or name.
#[utoipa::path(get, path = "/v1/patch/baselines/{id}", tag = "patch", params(("id" = String, Path, description = "Baseline id or name")), responses(
    (status = 200, description = "The baseline", body = PatchBaselineView),
    (status = 404, description = "No such baseline", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_baseline(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<PatchBaselineView>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.patch_baseline(&id))?))
}

/// Replaces a custom baseline's definition (predefined ones are read-only).
#[utoipa::path(put, path = "/v1/patch/baselines/{id}", tag = "patch", params(("id" = String, Path, description = "Baseline id or name")),
    request_body = Object, responses(
    (status = 200, description = "Updated", body = PatchBaselineView),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 409, description = "A predefined baseline, or the name is taken", body = ErrorBody),
    (status = 404, description = "No such baseline", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn update_baseline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<PatchBaselineView>, ApiError> {
    let spec = parse_baseline(&body)?;
    Ok(Json(state.store.update_patch_baseline(&id, spec)?))
}

/// Deletes a custom baseline that is no default and has no patch group.
#[utoipa::path(delete, path = "/v1/patch/baselines/{id}", tag = "patch", params(("id" = String, Path, description = "Baseline id or name")), responses(
    (status = 204, description = "Deleted"),
    (status = 409, description = "Predefined, a default, or registered with a patch group", body = ErrorBody),
    (status = 404, description = "No such baseline", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_baseline(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    state.store.delete_patch_baseline(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a baseline the default of its operating system.
#[utoipa::path(post, path = "/v1/patch/baselines/{id}/default", tag = "patch", params(("id" = String, Path, description = "Baseline id or name")), responses(
    (status = 200, description = "The new default", body = PatchBaselineView),
    (status = 404, description = "No such baseline", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn set_default(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<PatchBaselineView>, ApiError> {
    Ok(Json(state.store.set_default_patch_baseline(&id)?))
}

/// The patch groups and their baselines.
#[utoipa::path(get, path = "/v1/patch/groups", tag = "patch", responses(
    (status = 200, description = "Every registration", body = Vec<PatchGroupView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_groups(State(state): State<AppState>) -> Result<Json<Vec<PatchGroupView>>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.list_patch_groups())?))
}

/// Registers a baseline for a patch group (one per group and operating system).
#[utoipa::path(post, path = "/v1/patch/groups", tag = "patch", request_body = RegisterPatchGroup, responses(
    (status = 201, description = "Registered", body = PatchGroupView),
    (status = 409, description = "The group already has a baseline for that operating system", body = ErrorBody),
    (status = 404, description = "No such baseline", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn register_group(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterPatchGroup>,
) -> Result<(StatusCode, Json<PatchGroupView>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.store.register_patch_group(&body.patch_group, &body.baseline_id)?)))
}

/// Removes a patch group's registration with a baseline.
#[utoipa::path(post, path = "/v1/patch/groups/deregister", tag = "patch", request_body = RegisterPatchGroup, responses(
    (status = 204, description = "Deregistered"),
    (status = 404, description = "Not registered", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn deregister_group(State(state): State<AppState>, ApiJson(body): ApiJson<RegisterPatchGroup>) -> Result<StatusCode, ApiError> {
    state.store.deregister_patch_group(&body.patch_group, &body.baseline_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Patch Manager's settings: the tag key that names a node's patch group.
#[utoipa::path(get, path = "/v1/patch/settings", tag = "patch", responses(
    (status = 200, description = "The settings", body = PatchSettings),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_settings(State(state): State<AppState>) -> Result<Json<PatchSettings>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.patch_settings())?))
}

/// Changes the tag key that names a node's patch group.
#[utoipa::path(put, path = "/v1/patch/settings", tag = "patch", request_body = PatchSettings, responses(
    (status = 200, description = "The settings", body = PatchSettings),
    (status = 422, description = "Not a valid tag key", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn put_settings(State(state): State<AppState>, ApiJson(body): ApiJson<PatchSettings>) -> Result<Json<PatchSettings>, ApiError> {
    Ok(Json(state.store.set_patch_settings(body)?))
}

/// Each node's latest compliance; with `node`, that node's patches too.
#[utoipa::path(get, path = "/v1/patch/compliance", tag = "patch", params(PatchQuery), responses(
    (status = 200, description = "The nodes' compliance", body = Vec<NodePatchCompliance>),
    (status = 422, description = "A query parameter is not valid", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn compliance(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<Vec<NodePatchCompliance>>, ApiError> {
    let q = query(raw)?;
    Ok(Json(tokio::task::block_in_place(|| state.store.patch_compliance(q.group.as_deref(), q.node.as_deref()))?))
}

/// The fleet's compliance: nodes compliant and not, patches by state and by severity.
#[utoipa::path(get, path = "/v1/patch/compliance/summary", tag = "patch", params(PatchQuery), responses(
    (status = 200, description = "The summary", body = PatchSummary),
    (status = 422, description = "A query parameter is not valid", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn summary(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<PatchSummary>, ApiError> {
    let q = query(raw)?;
    Ok(Json(tokio::task::block_in_place(|| state.store.patch_summary(q.group.as_deref()))?))
}

/// Every patch of every node (of one group when given) as JSON Lines, streamed page by page.
#[utoipa::path(get, path = "/v1/patch/compliance/export", tag = "patch", params(PatchQuery), responses(
    (status = 200, description = "JSON Lines (application/x-ndjson) of PatchRow", content_type = "application/x-ndjson", body = String),
    (status = 422, description = "A query parameter is not valid", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn export(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let group = query(raw)?.group;
    let (first, next) = tokio::task::block_in_place(|| state.store.export_patches(group.as_deref(), None, EXPORT_PAGE))?;
    let store = state.store.clone();
    super::json_lines::stream("patch", first, next, move |(node, idx): (String, i64)| {
        store.export_patches(group.as_deref(), Some((&node, idx)), EXPORT_PAGE)
    })
}

/// The calling node's baseline, resolved now: its patch group's baseline for
/// its operating system, or that system's default.
#[utoipa::path(get, path = "/v1/agent/patch/snapshot", tag = "agent", security(("node" = [])), responses(
    (status = 200, description = "The baseline snapshot (BaselineId, Product, PatchGroup, Baseline)", body = Object),
    (status = 409, description = "The node runs an operating system Patch Manager does not patch", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn snapshot(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
) -> Result<Json<Snapshot>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.patch_snapshot(&node))?))
}

/// Stores the calling node's compliance report, replacing its last one.
#[utoipa::path(post, path = "/v1/agent/patch/compliance", tag = "agent", security(("node" = [])), request_body = PutPatchCompliance, responses(
    (status = 204, description = "Stored"),
    (status = 422, description = "The report is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn upload(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    ApiJson(body): ApiJson<PutPatchCompliance>,
) -> Result<StatusCode, ApiError> {
    if body.command_id.is_empty() || body.command_id.len() > 128 {
        return Err(ApiError::invalid("commandId", "1 to 128 characters"));
    }
    let report: Report = serde_json::from_value(body.report).map_err(|e| ApiError::invalid("report", e.to_string()))?;
    state.store.put_patch_report(&node, &body.command_id, report).await?;
    tracing::debug!(node = %node, command = %body.command_id, "patch compliance stored");
    Ok(StatusCode::NO_CONTENT)
}
