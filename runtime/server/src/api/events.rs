//! `/v1/events`: the event log, read in order, and the dead-letter list of
//! deliveries to rule targets that ran out of attempts, which can be sent again.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use bosun_protocol::events::{DeadLetter, ReplayDeadLetters, Replayed};
use bosun_store::Event;
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Events after this place in the log (default 0, the start).
    pub after: Option<i64>,
    /// The most events (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// Events in log order, each with its `seq` (pass the last as `after` to read on).
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventsQuery), responses(
    (status = 200, description = "Events, in EventBridge's envelope plus `seq`", body = Vec<Object>),
    (status = 400, description = "A bad query parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_events(
    State(state): State<AppState>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let events = state.store.events_after(query.after.unwrap_or(0), query.limit.unwrap_or(100).min(1000))?;
    Ok(Json(events.iter().map(with_seq).collect()))
}

fn with_seq(event: &Event) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(fields) = value.as_object_mut() {
        fields.insert("seq".into(), event.seq.into());
    }
    value
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DlqQuery {
    /// The most dead letters (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// Deliveries that ran out of attempts, oldest first.
#[utoipa::path(get, path = "/v1/events/dlq", tag = "events", params(DlqQuery), responses(
    (status = 200, description = "Dead letters", body = Vec<DeadLetter>),
    (status = 400, description = "A bad query parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    query: Result<Query<DlqQuery>, QueryRejection>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    Ok(Json(state.store.dead_letters(query.limit.unwrap_or(100).min(1000))?))
}

/// Sends dead letters again with fresh attempts (all of them when no ids are given).
#[utoipa::path(post, path = "/v1/events/dlq/replay", tag = "events", request_body = ReplayDeadLetters, responses(
    (status = 200, description = "How many were sent again", body = Replayed),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn replay_dead_letters(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ReplayDeadLetters>,
) -> Result<Json<Replayed>, ApiError> {
    let replayed = tokio::task::block_in_place(|| state.store.replay_dead_letters(&body.delivery_ids))?;
    state.bus.poke();
    Ok(Json(Replayed { replayed }))
}
