//! `/v1/parameters/*`: Parameter Store, in SSM's operations (every one a POST with a
//! JSON body): put, get, get-many, get-by-path, history, label, unlabel, delete and
//! delete-many. Reads apply the caller's path scopes; a SecureString is decrypted only
//! with `withDecryption` and the permission to decrypt it.

use axum::http::StatusCode;
use axum::{Extension, Json, extract::State};
use bosun_protocol::params::{
    DeleteParameters, DeleteResult, GetParameter, GetParameterHistory, GetParameters, GetParametersByPath, GetParametersResult,
    HistoryPage, LabelParameterVersion, LabelResult, Parameter, ParametersPage, PutParameter, PutResult, UnlabelParameterVersion,
    UnlabelResult,
};
use bosun_store::ParamError;
use bosun_store::params::{MAX_NAMES_PER_CALL, PathQuery};

use super::AppState;
use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        match e {
            ParamError::Invalid { field, message } => ApiError::invalid(field, message),
            ParamError::NotFound(message) => ApiError::not_found(message),
            ParamError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            ParamError::LimitExceeded(message) => ApiError::new(StatusCode::CONFLICT, "limit_exceeded", message),
            ParamError::Denied(message) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            ParamError::Crypto(message) => {
                tracing::warn!(error = %message, "cannot seal or open a SecureString");
                ApiError::internal(message)
            }
            ParamError::Store(e) => e.into(),
        }
    }
}

/// Runs Parameter Store work that may wait (on the writer, or on a long scan) off the
/// async threads' hot path. Reads of one name (a few indexed reads of microseconds) run
/// in place: handing them to a blocking thread would cost more than the reads.
fn blocking<T>(work: impl FnOnce() -> Result<T, ParamError>) -> Result<T, ApiError> {
    tokio::task::block_in_place(work).map_err(ApiError::from)
}

fn count_names(names: &[String]) -> Result<(), ApiError> {
    if names.is_empty() || names.len() > MAX_NAMES_PER_CALL {
        return Err(ApiError::invalid("names", format!("give 1 to {MAX_NAMES_PER_CALL} names (there are {})", names.len())));
    }
    Ok(())
}

/// Puts a parameter: the first version, or with `overwrite` the next.
#[utoipa::path(post, path = "/v1/parameters/put", tag = "parameters", request_body = PutParameter, responses(
    (status = 200, description = "The new version and its tier", body = PutResult),
    (status = 403, description = "The token's parameter access is scoped, so it may not change parameters", body = ErrorBody),
    (status = 409, description = "The name exists (without overwrite), a version, tier or count limit is reached", body = ErrorBody),
    (status = 422, description = "A field breaks a rule (the field is named)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn put(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<PutParameter>,
) -> Result<Json<PutResult>, ApiError> {
    Ok(Json(state.params.put(Some(&caller), body).await?))
}

/// One parameter: `name`, `name:VERSION` or `name:LABEL`.
#[utoipa::path(post, path = "/v1/parameters/get", tag = "parameters", request_body = GetParameter, responses(
    (status = 200, description = "The parameter", body = Parameter),
    (status = 403, description = "The token may not read (or decrypt) this name", body = ErrorBody),
    (status = 404, description = "No such parameter, version or label", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<GetParameter>,
) -> Result<Json<Parameter>, ApiError> {
    Ok(Json(state.params.get(Some(&caller), &body.name, body.with_decryption)?))
}

/// Up to 10 parameters; names that are invalid, missing or not readable are listed apart.
#[utoipa::path(post, path = "/v1/parameters/get-many", tag = "parameters", request_body = GetParameters, responses(
    (status = 200, description = "The parameters found, and the names that are not", body = GetParametersResult),
    (status = 403, description = "The token may not decrypt one of them", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_many(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<GetParameters>,
) -> Result<Json<GetParametersResult>, ApiError> {
    count_names(&body.names)?;
    let (parameters, invalid_parameters) = state.params.get_many(Some(&caller), &body.names, body.with_decryption)?;
    Ok(Json(GetParametersResult { parameters, invalid_parameters }))
}

/// The latest versions under a path, a page at a time; names the token may not read are left out.
#[utoipa::path(post, path = "/v1/parameters/get-by-path", tag = "parameters", request_body = GetParametersByPath, responses(
    (status = 200, description = "A page of parameters and the token of the next", body = ParametersPage),
    (status = 403, description = "The token may not decrypt one in the page", body = ErrorBody),
    (status = 422, description = "A bad path, filter or page size", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_by_path(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<GetParametersByPath>,
) -> Result<Json<ParametersPage>, ApiError> {
    let query = PathQuery {
        path: body.path,
        recursive: body.recursive,
        filters: body.filters,
        max_results: body.max_results,
        next_token: body.next_token,
    };
    let (parameters, next_token) = blocking(|| state.params.by_path(Some(&caller), &query, body.with_decryption))?;
    Ok(Json(ParametersPage { parameters, next_token }))
}

/// A parameter's versions, oldest first, with the policy firings it has had.
#[utoipa::path(post, path = "/v1/parameters/history", tag = "parameters", request_body = GetParameterHistory, responses(
    (status = 200, description = "A page of versions", body = HistoryPage),
    (status = 403, description = "The token may not read (or decrypt) this name", body = ErrorBody),
    (status = 404, description = "No such parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn history(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<GetParameterHistory>,
) -> Result<Json<HistoryPage>, ApiError> {
    let page = state.params.history(Some(&caller), &body.name, body.with_decryption, body.max_results, body.next_token.as_deref())?;
    Ok(Json(page))
}

/// Puts labels on a version (the latest by default), moving them from other versions.
#[utoipa::path(post, path = "/v1/parameters/label", tag = "parameters", request_body = LabelParameterVersion, responses(
    (status = 200, description = "The version labelled, and labels refused (then none was applied)", body = LabelResult),
    (status = 404, description = "No such parameter or version", body = ErrorBody),
    (status = 409, description = "The version would carry more than 10 labels", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn label(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<LabelParameterVersion>,
) -> Result<Json<LabelResult>, ApiError> {
    blocking(|| {
        state.params.check_may_change(Some(&caller), &body.name)?;
        state.store.label_parameter(&body.name, body.parameter_version, &body.labels)
    })
    .map(Json)
}

/// Takes labels off a version.
#[utoipa::path(post, path = "/v1/parameters/unlabel", tag = "parameters", request_body = UnlabelParameterVersion, responses(
    (status = 200, description = "Labels removed, and those the version did not have", body = UnlabelResult),
    (status = 404, description = "No such parameter", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn unlabel(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<UnlabelParameterVersion>,
) -> Result<Json<UnlabelResult>, ApiError> {
    blocking(|| {
        state.params.check_may_change(Some(&caller), &body.name)?;
        state.store.unlabel_parameter(&body.name, body.parameter_version, &body.labels)
    })
    .map(Json)
}

/// Deletes up to 10 parameters with their history.
#[utoipa::path(post, path = "/v1/parameters/delete", tag = "parameters", request_body = DeleteParameters, responses(
    (status = 200, description = "The names deleted and those that were not there", body = DeleteResult),
    (status = 403, description = "The token's parameter access is scoped", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    ApiJson(body): ApiJson<DeleteParameters>,
) -> Result<Json<DeleteResult>, ApiError> {
    count_names(&body.names)?;
    let (deleted_parameters, invalid_parameters) = blocking(|| {
        for name in &body.names {
            state.params.check_may_change(Some(&caller), name)?;
        }
        state.store.delete_parameters(&body.names)
    })?;
    Ok(Json(DeleteResult { deleted_parameters, invalid_parameters }))
}
