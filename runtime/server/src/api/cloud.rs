//! `GET /v1/cloud` (the cloud configuration and the aws-api plugin's grants,
//! never a key) and `POST /v1/cloud/check` (one signed, read-only call with the
//! server's configuration and credentials).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::cloud::check::{CheckRequest, CheckResult};
use crate::cloud::config::CloudConfig;
use crate::cloud::view::CloudView;

/// The configuration the server read at its start.
fn config(state: &AppState) -> Result<&CloudConfig, ApiError> {
    state.cloud.as_ref().as_ref().map_err(|e| ApiError::internal(e.clone()))
}

/// The cloud configuration in effect (read at the server's start), with the aws-api plugin's grants.
#[utoipa::path(get, path = "/v1/cloud", tag = "cloud", responses(
    (status = 200, description = "The configuration: region, endpoint overrides, where the credentials come from (never a key), the grants", body = CloudView),
    (status = 500, description = "The configuration file could not be read at start", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn show(State(state): State<AppState>) -> Result<Json<CloudView>, ApiError> {
    let view = tokio::task::block_in_place(|| CloudView::of(config(&state)?, &state.store).map_err(ApiError::internal))?;
    Ok(Json(view))
}

/// Makes one signed, read-only call (EC2 DescribeRegions, or Auto Scaling
/// DescribeAutoScalingGroups) and reports success or the service's error code.
#[utoipa::path(post, path = "/v1/cloud/check", tag = "cloud", request_body = CheckRequest, responses(
    (status = 200, description = "How the call went: ok, or the service's error code and message", body = CheckResult),
    (status = 422, description = "An unknown service", body = ErrorBody),
    (status = 500, description = "The configuration file could not be read at start", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn check(State(state): State<AppState>, ApiJson(body): ApiJson<CheckRequest>) -> Result<Json<CheckResult>, ApiError> {
    let cloud = crate::cloud::ServerCloud::new(config(&state)?.clone(), Some(Arc::clone(&state.params)));
    let result = crate::cloud::check::check(&cloud, &body).await.map_err(|e| ApiError::invalid("service", e.0))?;
    Ok(Json(result))
}
