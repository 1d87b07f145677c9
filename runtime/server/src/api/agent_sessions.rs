//! `GET /v1/agent/sessions/{id}/stream` (node credential): the node's end of a
//! session it was offered. Another node's session, or one that has ended, is a 404.

use axum::Extension;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::response::Response;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::node_auth::NodeCaller;
use super::sessions::session_socket;
use crate::sessions::End;

/// The node's end of a session: a WebSocket of binary frames.
#[utoipa::path(get, path = "/v1/agent/sessions/{id}/stream", tag = "agent", params(("id" = String, Path, description = "Session id")),
    security(("node" = [])), responses(
    (status = 101, description = "The session's frames"),
    (status = 404, description = "No open session with this id for this node", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn stream(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    match state.store.session_node(&id)? {
        Some((owner, true)) if owner == node => {}
        _ => return Err(ApiError::not_found(format!("no open session {id} for this node"))),
    }
    let hub = state.sessions.clone();
    Ok(session_socket(upgrade).on_upgrade(move |socket| async move { hub.attach(&id, End::Node, socket).await }))
}
