//! `GET /v1/plugins`: the installed plugins, as `bosun plugin list --output json` shows them.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ErrorBody};

/// The installed plugin versions.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", responses(
    (status = 200, description = "The installed plugin versions", body = Vec<Object>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_plugins(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let plugins = state.store.list_plugins()?;
    Ok(Json(Value::Array(plugins.iter().map(crate::cli::plugin::installed_json).collect())))
}
