//! `/v1/hooks`: webhook triggers. The admin routes create, list, rotate and delete
//! hooks (bearer token); `POST /v1/hooks/{name}` is the hook itself, authenticated
//! by the sender's signature instead: 415 unless JSON, 413 past the hook's body
//! limit, 401 for a bad or missing signature or a timestamp more than 5 minutes
//! away, 400 for malformed JSON (with the position), 409 for a message id seen
//! already, and 202 once the event is durably stored, before any rule acts on it.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use bosun_protocol::events::{CreateHook, HookAccepted, HookScheme, HookSecret, HookView, RotateSecret};
use bosun_store::{Ingested, TextEvent};

use super::AppState;
use super::body::{ApiJson, body_error, is_json};
use super::error::{ApiError, ErrorBody};
use crate::events::{hook_body, hook_verify};
use crate::webhook_sign::Secret;

/// How long the old secret stays valid after a rotation, by default.
const DEFAULT_GRACE_SECONDS: u64 = 24 * 3600;

fn new_secret() -> Result<String, ApiError> {
    Secret::generate().map(|s| s.to_text()).map_err(|e| ApiError::internal(e.to_string()))
}

/// Creates a hook; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/v1/hooks", tag = "events", request_body = CreateHook, responses(
    (status = 201, description = "The hook and its secret", body = HookSecret),
    (status = 409, description = "A hook of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_hook(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateHook>,
) -> Result<(StatusCode, Json<HookSecret>), ApiError> {
    let secret = new_secret()?;
    let hook = tokio::task::block_in_place(|| state.store.create_hook(&body, secret.clone()))?;
    Ok((StatusCode::CREATED, Json(HookSecret { hook, secret })))
}

/// Every hook, by name (secrets are not shown).
#[utoipa::path(get, path = "/v1/hooks", tag = "events", responses(
    (status = 200, description = "The hooks", body = Vec<HookView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_hooks(State(state): State<AppState>) -> Result<Json<Vec<HookView>>, ApiError> {
    Ok(Json(state.store.list_hooks()?))
}

/// Gives a hook a new secret; the old one stays valid for the grace period (default a day).
#[utoipa::path(post, path = "/v1/hooks/{name}/rotate-secret", tag = "events", params(("name" = String, Path, description = "Hook name")),
    request_body = RotateSecret, responses(
    (status = 200, description = "The hook and its new secret", body = HookSecret),
    (status = 404, description = "No such hook", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<Json<HookSecret>, ApiError> {
    let secret = new_secret()?;
    let grace = body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    let hook = tokio::task::block_in_place(|| state.store.rotate_hook_secret(&name, secret.clone(), grace))?;
    Ok(Json(HookSecret { hook, secret }))
}

/// Deletes a hook (the events it stored stay).
#[utoipa::path(delete, path = "/v1/hooks/{name}", tag = "events", params(("name" = String, Path, description = "Hook name")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such hook", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_hook(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    if tokio::task::block_in_place(|| state.store.delete_hook(&name))? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no hook named {name}")))
    }
}

/// The event's detail-type: GitHub's event name, a Standard Webhooks payload's `type`, or `Webhook`.
fn detail_type(scheme: HookScheme, headers: &HeaderMap, body_type: Option<String>) -> String {
    let text = match scheme {
        HookScheme::Github => headers.get("x-github-event").and_then(|v| v.to_str().ok()).map(str::to_string),
        HookScheme::StandardWebhooks => body_type,
    };
    text.filter(|t| !t.is_empty() && t.len() <= 128).unwrap_or_else(|| "Webhook".into())
}

/// Receives a signed webhook and stores it as an event.
#[utoipa::path(post, path = "/v1/hooks/{name}", tag = "events", security(()), params(("name" = String, Path, description = "Hook name")),
    request_body(content = Object, description = "Any JSON, signed (Standard Webhooks headers, or X-Hub-Signature-256 for a GitHub hook)"),
    responses(
    (status = 202, description = "Stored durably; rules act on it afterwards", body = HookAccepted),
    (status = 400, description = "Malformed JSON (with its line and column)", body = ErrorBody),
    (status = 401, description = "Missing or bad signature, or a timestamp more than 5 minutes away", body = ErrorBody),
    (status = 404, description = "No such hook", body = ErrorBody),
    (status = 409, description = "This message id was received already", body = ErrorBody),
    (status = 413, description = "Larger than the hook's body limit", body = ErrorBody),
    (status = 415, description = "Not JSON", body = ErrorBody),
))]
pub async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<(StatusCode, Json<HookAccepted>), ApiError> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let keys = state.store.hook_keys(&name)?.ok_or_else(|| ApiError::not_found(format!("no hook named {name}")))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !is_json(content_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let limit = keys.view.body_limit as usize;
    let too_large =
        || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("the body is larger than this hook's limit ({limit} bytes)"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| too_large())?;
    let now = chrono::Utc::now().timestamp();
    let message_id = hook_verify::verify(keys.view.scheme, &keys.secrets, &headers, &bytes, now)
        .map_err(|refusal| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", refusal.to_string()))?;
    let body = hook_body::check(&bytes).map_err(body_error)?;
    let event = TextEvent {
        source: keys.view.source.clone(),
        detail_type: detail_type(keys.view.scheme, &headers, body.kind),
        detail_json: body.text.to_string(),
    };
    let source_address = super::audit::source_address(&parts.extensions);
    match state.store.ingest_hook_event(&name, &message_id, now, event, &source_address).await? {
        Ingested::Stored(event_id) => {
            state.bus.poke();
            Ok((StatusCode::ACCEPTED, Json(HookAccepted { event_id })))
        }
        Ingested::Replayed => Err(ApiError::new(StatusCode::CONFLICT, "replayed", format!("message {message_id} was received already"))),
    }
}
