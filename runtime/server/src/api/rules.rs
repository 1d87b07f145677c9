//! `/v1/rules`: event-pattern rules and their targets, checked before they are
//! stored (the error names the bad part of the pattern or the target's field).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bosun_protocol::events::{RuleSpec, RuleView};

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

/// Creates a rule.
#[utoipa::path(post, path = "/v1/rules", tag = "events", request_body = RuleSpec, responses(
    (status = 201, description = "The rule", body = RuleView),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 409, description = "A rule of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid (named in `field`, e.g. eventPattern.detail.state[0].prefix)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_rule(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RuleSpec>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    crate::events::rules::check(&body)?;
    let rule = tokio::task::block_in_place(|| state.store.create_rule(&body))?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Every rule, by name.
#[utoipa::path(get, path = "/v1/rules", tag = "events", responses(
    (status = 200, description = "The rules", body = Vec<RuleView>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_rules(State(state): State<AppState>) -> Result<Json<Vec<RuleView>>, ApiError> {
    Ok(Json(state.store.list_rules()?))
}

/// One rule.
#[utoipa::path(get, path = "/v1/rules/{name}", tag = "events", params(("name" = String, Path, description = "Rule name")), responses(
    (status = 200, description = "The rule", body = RuleView),
    (status = 404, description = "No such rule", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_rule(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<RuleView>, ApiError> {
    state.store.get_rule(&name)?.map(Json).ok_or_else(|| ApiError::not_found(format!("no rule named {name}")))
}

/// Deletes a rule; deliveries already recorded still run.
#[utoipa::path(delete, path = "/v1/rules/{name}", tag = "events", params(("name" = String, Path, description = "Rule name")), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such rule", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_rule(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    if tokio::task::block_in_place(|| state.store.delete_rule(&name))? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no rule named {name}")))
    }
}

async fn set_enabled(state: &AppState, name: &str, enabled: bool) -> Result<Json<RuleView>, ApiError> {
    if !tokio::task::block_in_place(|| state.store.set_rule_enabled(name, enabled))? {
        return Err(ApiError::not_found(format!("no rule named {name}")));
    }
    state.store.get_rule(name)?.map(Json).ok_or_else(|| ApiError::not_found(format!("no rule named {name}")))
}

/// Enables a rule: events logged from now on are matched against it.
#[utoipa::path(post, path = "/v1/rules/{name}/enable", tag = "events", params(("name" = String, Path, description = "Rule name")), responses(
    (status = 200, description = "The rule", body = RuleView),
    (status = 404, description = "No such rule", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn enable_rule(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<RuleView>, ApiError> {
    set_enabled(&state, &name, true).await
}

/// Disables a rule.
#[utoipa::path(post, path = "/v1/rules/{name}/disable", tag = "events", params(("name" = String, Path, description = "Rule name")), responses(
    (status = 200, description = "The rule", body = RuleView),
    (status = 404, description = "No such rule", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn disable_rule(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<RuleView>, ApiError> {
    set_enabled(&state, &name, false).await
}
