//! `GET /v1/health`: the one route that needs no token.

use axum::Json;
use serde_json::{Value, json};

/// Whether the server is up. Needs no token.
#[utoipa::path(get, path = "/v1/health", tag = "health", security(()), responses((status = 200, description = "The server is up", body = Object)))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
