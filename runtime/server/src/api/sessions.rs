//! `/v1/sessions`: open a session to a node (`POST`), attach to it (the WebSocket
//! at `/stream`), list, show, terminate, read its recording (`/transcript`), and
//! the session preferences (`/v1/session-preferences`). A token with scopes sees
//! and terminates only its own sessions and cannot change the preferences; the
//! node's side is `agent_sessions.rs`.

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use base64::Engine as _;
use bosun_protocol::session::{MAX_FRAME, SessionPreferences, SessionView, StartSession, Transcript, TranscriptChunk};
use bosun_store::SessionScopes;
use serde::Deserialize;

use super::AppState;
use super::audit::source_address;
use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::sessions::{End, StartError};

/// Upgrades to a session socket with the frame limits and small buffers of a relay.
pub(super) fn session_socket(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(16 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(128 * 1024)
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Invalid { field, message } => ApiError::invalid(field, message),
            StartError::NotFound(message) => ApiError::not_found(message),
            StartError::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            StartError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            StartError::Store(e) => e.into(),
        }
    }
}

/// Whether `caller` may see and end `session`: its owner, or a token without scopes.
fn may_see(state: &AppState, caller: &str, session: &SessionView) -> Result<bool, ApiError> {
    Ok(session.owner == caller || state.store.session_scopes(caller)? == SessionScopes::Unrestricted)
}

/// The session, if the caller may see it (404 otherwise, as if it did not exist).
fn visible(state: &AppState, caller: &str, id: &str) -> Result<SessionView, ApiError> {
    let not_found = || ApiError::not_found(format!("no session {id}"));
    let session = state.store.get_session(id)?.ok_or_else(not_found)?;
    if may_see(state, caller, &session)? { Ok(session) } else { Err(not_found()) }
}

/// Opens a session: checks the node and the caller's session scopes, records the
/// session (Connecting) and offers it to the node. Attach to `/v1/sessions/{id}/stream`
/// within 30 seconds.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = StartSession, responses(
    (status = 201, description = "The session, Connecting", body = SessionView),
    (status = 403, description = "The token may not open sessions to this node", body = ErrorBody),
    (status = 404, description = "No such node", body = ErrorBody),
    (status = 409, description = "The node is not Online", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn start_session(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    extensions: Extensions,
    ApiJson(body): ApiJson<StartSession>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let view = state.sessions.start(&caller, &body, source_address(&extensions), state.heartbeat_gap).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The client's end of a session: a WebSocket of binary frames (see the protocol's
/// `session` module). Only the token that opened the session may attach.
#[utoipa::path(get, path = "/v1/sessions/{id}/stream", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses(
    (status = 101, description = "The session's frames"),
    (status = 404, description = "No such session for this token", body = ErrorBody),
    (status = 409, description = "The session has ended", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn stream(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let session = state
        .store
        .get_session(&id)?
        .filter(|s| s.owner == caller)
        .ok_or_else(|| ApiError::not_found(format!("no session {id} opened by this token")))?;
    if session.ended_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("session {id} has ended: {}", session.reason.unwrap_or_default()),
        ));
    }
    let hub = state.sessions.clone();
    Ok(session_socket(upgrade).on_upgrade(move |socket| async move { hub.attach(&id, End::Client, socket).await }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// Only this node's sessions.
    pub target: Option<String>,
    /// Only sessions with this status: Connecting, Connected, Terminated, Failed.
    pub status: Option<String>,
    /// The most sessions, the latest first (default 100, at most 10000).
    pub limit: Option<usize>,
}

/// Sessions, the latest first (a scoped token sees its own).
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(SessionQuery), responses(
    (status = 200, description = "Sessions", body = Vec<SessionView>),
    (status = 400, description = "A bad query parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    query: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("limit {limit} is not between 1 and 10000")).with_field("limit")
        );
    }
    let mut sessions = state.store.list_sessions(query.target.as_deref(), query.status.as_deref(), limit)?;
    if state.store.session_scopes(&caller)? != SessionScopes::Unrestricted {
        sessions.retain(|s| s.owner == caller);
    }
    Ok(Json(sessions))
}

/// One session.
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses(
    (status = 200, description = "The session", body = SessionView),
    (status = 404, description = "No such session", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_session(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(visible(&state, &caller, &id)?))
}

/// Ends a session; its client is told why and its process on the node is ended.
#[utoipa::path(post, path = "/v1/sessions/{id}/terminate", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses(
    (status = 202, description = "Terminating (a connected session ends through its relay)", body = SessionView),
    (status = 404, description = "No such session", body = ErrorBody),
    (status = 409, description = "The session had ended", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn terminate_session(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let session = visible(&state, &caller, &id)?;
    if session.ended_at.is_some() || !state.sessions.terminate(&id, &caller).await? {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", format!("session {id} had ended")));
    }
    Ok((StatusCode::ACCEPTED, Json(visible(&state, &caller, &id)?)))
}

/// A session's recorded output with its timing, for replay.
#[utoipa::path(get, path = "/v1/sessions/{id}/transcript", tag = "sessions", params(("id" = String, Path, description = "Session id")), responses(
    (status = 200, description = "The recording", body = Transcript),
    (status = 404, description = "No such session", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn transcript(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Transcript>, ApiError> {
    visible(&state, &caller, &id)?;
    let recording = state.store.session_recording(&id)?.ok_or_else(|| ApiError::not_found(format!("no session {id}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let chunks = recording.chunks.into_iter().map(|c| TranscriptChunk { at_ms: c.at_ms, data: b64.encode(&c.data) }).collect();
    Ok(Json(Transcript { session: recording.session, rows: recording.rows, cols: recording.cols, chunks }))
}

/// The session preferences in force.
#[utoipa::path(get, path = "/v1/session-preferences", tag = "sessions", responses(
    (status = 200, description = "The preferences", body = SessionPreferences),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_preferences(State(state): State<AppState>) -> Result<Json<SessionPreferences>, ApiError> {
    Ok(Json(state.store.session_preferences()?))
}

/// Replaces the session preferences (tokens without scopes only); new sessions use them.
#[utoipa::path(put, path = "/v1/session-preferences", tag = "sessions", request_body = SessionPreferences, responses(
    (status = 200, description = "The preferences now", body = SessionPreferences),
    (status = 403, description = "A scoped token", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn put_preferences(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<SessionPreferences>,
) -> Result<Json<SessionPreferences>, ApiError> {
    if state.store.session_scopes(&caller)? != SessionScopes::Unrestricted {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the token {caller} has scopes: only tokens without scopes change session preferences"),
        ));
    }
    body.check().map_err(|(field, message)| ApiError::invalid(field, message))?;
    state.store.set_session_preferences(&body)?;
    Ok(Json(body))
}
