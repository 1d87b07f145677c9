//! The agent's own fleet routes: `POST /v1/agent/register` (public: the activation
//! code is the credential) answers the node's id and credential;
//! `POST /v1/agent/heartbeat` (node credential) records the platform and the contact.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use bosun_protocol::agent::{Heartbeat, RegisterRequest, Registered};

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use super::node_auth::NodeCaller;

/// Registers a node with an activation id and code; the answer holds the node's credential, shown this once.
#[utoipa::path(post, path = "/v1/agent/register", tag = "agent", security(()), request_body = RegisterRequest, responses(
    (status = 201, description = "The node's id and credential", body = Registered),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 401, description = "The activation id or code is wrong, expired or used up", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let registered = state.store.register_node(&body.activation_id, &body.activation_code, &body.platform).await?;
    tracing::info!(node = %registered.node_id, activation = %body.activation_id, hostname = %body.platform.hostname, "node registered");
    Ok((StatusCode::CREATED, Json(registered)))
}

/// The node's platform as it is now; records the contact.
#[utoipa::path(post, path = "/v1/agent/heartbeat", tag = "agent", security(("node" = [])), request_body = Heartbeat, responses(
    (status = 204, description = "Recorded"),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    ApiJson(body): ApiJson<Heartbeat>,
) -> Result<StatusCode, ApiError> {
    state.store.node_heartbeat(&node, &body.platform).await?;
    Ok(StatusCode::NO_CONTENT)
}
