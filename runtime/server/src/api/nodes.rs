//! `/v1/nodes`: the registered nodes with their tags, platform and ping status
//! (Online, ConnectionLost past the server's heartbeat gap, Inactive once
//! deregistered); changing a node's tags; deregistering a node.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bosun_protocol::fleet::{ChangeTags, NodeView};
use serde::Deserialize;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NodeQuery {
    /// Only the nodes with this tag: `Key=Value`.
    pub tag: Option<String>,
}

/// Every node, by id; with `tag=Key=Value`, those with that tag.
#[utoipa::path(get, path = "/v1/nodes", tag = "fleet", params(NodeQuery), responses(
    (status = 200, description = "The nodes", body = Vec<NodeView>),
    (status = 400, description = "A query parameter is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_nodes(
    State(state): State<AppState>,
    query: Result<Query<NodeQuery>, QueryRejection>,
) -> Result<Json<Vec<NodeView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let tag = match &query.tag {
        Some(text) => Some(
            bosun_protocol::target::parse_tag(text)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.0).with_field("tag"))?,
        ),
        None => None,
    };
    let tag = tag.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
    Ok(Json(state.store.list_nodes(tag, state.heartbeat_gap)?))
}

/// One node.
#[utoipa::path(get, path = "/v1/nodes/{id}", tag = "fleet", params(("id" = String, Path, description = "Node id")), responses(
    (status = 200, description = "The node", body = NodeView),
    (status = 404, description = "No such node", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_node(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<NodeView>, ApiError> {
    state.store.get_node(&id, state.heartbeat_gap)?.map(Json).ok_or_else(|| ApiError::not_found(format!("no node {id}")))
}

/// Adds (or overwrites) and removes tags of a node in one change; a node has at most 50 tags.
#[utoipa::path(post, path = "/v1/nodes/{id}/tags", tag = "fleet", params(("id" = String, Path, description = "Node id")), request_body = ChangeTags, responses(
    (status = 200, description = "The node with its tags now", body = NodeView),
    (status = 404, description = "No such node", body = ErrorBody),
    (status = 409, description = "The node is deregistered", body = ErrorBody),
    (status = 422, description = "A tag is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn change_tags(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeTags>,
) -> Result<Json<NodeView>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.change_node_tags(&id, &body, state.heartbeat_gap))?))
}

/// Deregisters a node: its credential is refused from now on and targets no longer select it.
#[utoipa::path(post, path = "/v1/nodes/{id}/deregister", tag = "fleet", params(("id" = String, Path, description = "Node id")), responses(
    (status = 200, description = "The node, Inactive", body = NodeView),
    (status = 404, description = "No such node", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn deregister(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<NodeView>, ApiError> {
    let node = tokio::task::block_in_place(|| state.store.deregister_node(&id, state.heartbeat_gap))?;
    // Its commands may move on now that its invocations have ended.
    state.run_command.poke_dispatcher();
    Ok(Json(node))
}
