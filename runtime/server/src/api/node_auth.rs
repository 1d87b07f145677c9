//! Node authentication for the agent routes: [`require_node`] takes the node
//! credential of `Authorization: Bearer CREDENTIAL`, checks it against the
//! registered nodes (a deregistered node's credential is refused at once) and
//! records when the node was last seen, at most once every few seconds per node.
//! Admin tokens are not node credentials, and node credentials are not admin
//! tokens: each kind works on its own routes only.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::bearer;
use super::error::ApiError;

/// How often a node's `last_seen` is written at most (less when the heartbeat gap is short).
const TOUCH_EVERY: Duration = Duration::from_secs(5);

/// The route that records a node's contact itself.
const HEARTBEAT_PATH: &str = "/v1/agent/heartbeat";

/// The id of the node a request was authenticated as.
#[derive(Debug, Clone)]
pub struct NodeCaller(pub String);

pub async fn require_node(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(credential) = header.and_then(bearer) else {
        return ApiError::unauthorized(
            "an Authorization: Bearer NODE_CREDENTIAL header is required (the agent gets one when it registers)",
        )
        .into_response();
    };
    // An indexed lookup of microseconds: done in place, since every agent call makes one.
    let node = match state.store.verify_node_credential(credential) {
        Ok(Some(node)) => node,
        Ok(None) if credential.starts_with("bosun_") => {
            return ApiError::unauthorized("admin API tokens do not work on the agent routes: use the node's credential").into_response();
        }
        Ok(None) => return ApiError::unauthorized("the node credential is unknown or revoked (is the node deregistered?)").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    // A heartbeat records the contact itself, with the platform.
    if request.uri().path() != HEARTBEAT_PATH {
        touch(&state, &node);
    }
    request.extensions_mut().insert(NodeCaller(node));
    next.run(request).await
}

/// How often a node's contact is recorded: every [`TOUCH_EVERY`], or a quarter of a
/// short heartbeat gap, so that an Online node never looks lost for want of a write.
fn touch_every(heartbeat_gap: Duration) -> Duration {
    TOUCH_EVERY.min(heartbeat_gap / 4)
}

/// Records that a node was seen, at most once per [`touch_every`]; the write is not
/// awaited. The middleware calls it when a request arrives; a handler that holds a
/// request open for long (the long poll) may call it again before answering.
pub(super) fn touch(state: &AppState, node: &str) {
    let now = Instant::now();
    {
        let mut seen = state.nodes_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(node).is_some_and(|at| now.duration_since(*at) < touch_every(state.heartbeat_gap)) {
            return;
        }
        seen.insert(node.to_string(), now);
    }
    let (store, node) = (state.store.clone(), node.to_string());
    tokio::spawn(async move {
        if let Err(error) = store.touch_node(&node).await {
            tracing::warn!(node, %error, "cannot record that a node was seen");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_is_recorded_often_enough_for_the_gap() {
        assert_eq!(touch_every(Duration::from_secs(60)), TOUCH_EVERY);
        assert_eq!(touch_every(Duration::from_secs(2)), Duration::from_millis(500));
    }
}
