//! `/v1/packages` (token): Distributor packages. An archive is uploaded by
//! content (`PUT /v1/packages/content/{sha256}`, the raw bytes, refused unless
//! they hash to the sha256 in the path), then a version is created from its
//! manifest, which names archives by that sha256; versions are listed, shown
//! and deleted (refused while an association names them).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use bosun_protocol::packages::{ContentStoreView, ContentStored, CreatePackageVersion, PackageDeleted, PackageSummary, PackageVersionView};
use futures_util::StreamExt;
use serde::Deserialize;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::packages::{MAX_ARCHIVE_BYTES, PackageError};

impl From<PackageError> for ApiError {
    fn from(e: PackageError) -> Self {
        match e {
            PackageError::Fleet(e) => e.into(),
            PackageError::Invalid { field, message, details } => ApiError::invalid(field, message).with_details(details),
            PackageError::TooLarge(message) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message),
            PackageError::Internal(message) => ApiError::internal(message),
        }
    }
}

/// `?version=V`: one version; without it, the latest (or, for delete, every version).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    pub version: Option<String>,
}

/// Uploads an archive by content. The body is the archive's bytes; they must hash to
/// the path's sha256 and be at most 512 MiB. Uploading content the store has already
/// answers 200 with `created: false`.
#[utoipa::path(put, path = "/v1/packages/content/{sha256}", tag = "packages",
    params(("sha256" = String, Path, description = "The archive's SHA-256, 64 lowercase hex digits")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
    (status = 200, description = "Stored", body = ContentStored),
    (status = 413, description = "Larger than the limit", body = ErrorBody),
    (status = 422, description = "The bytes do not hash to the sha256, or it is not one", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn put_content(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ContentStored>, ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_ARCHIVE_BYTES) {
        return Err(PackageError::TooLarge(format!("the archive is larger than {MAX_ARCHIVE_BYTES} bytes")).into());
    }
    let mut staged = tokio::task::block_in_place(|| state.packages.stage(&sha256))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("the upload broke off: {e}")))?;
        tokio::task::block_in_place(|| staged.write(&chunk)).map_err(PackageError::from)?;
    }
    let (size, created) = tokio::task::block_in_place(|| staged.commit()).map_err(PackageError::from)?;
    Ok(Json(ContentStored { sha256, size, created }))
}

/// Where archives are kept: the data directory or an S3-compatible bucket (`content-store.json`).
#[utoipa::path(get, path = "/v1/packages/content/store", tag = "packages", responses(
    (status = 200, description = "The content store", body = ContentStoreView),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn content_store(State(state): State<AppState>) -> Json<ContentStoreView> {
    let location = state.packages.location();
    let kind = if location.starts_with("s3://") { "s3" } else { "local" };
    Json(ContentStoreView { kind: kind.into(), location })
}

/// Creates a version of a package (and the package, for its first version) from a
/// manifest in AWS Distributor's format; every archive it names must have been uploaded
/// and holds install.sh and uninstall.sh at its root.
#[utoipa::path(post, path = "/v1/packages/{name}/versions", tag = "packages",
    params(("name" = String, Path, description = "Package name")), request_body = CreatePackageVersion, responses(
    (status = 201, description = "The version", body = PackageVersionView),
    (status = 409, description = "The version exists", body = ErrorBody),
    (status = 422, description = "The manifest or an archive is not valid; `details` lists every problem", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_version(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CreatePackageVersion>,
) -> Result<(StatusCode, Json<PackageVersionView>), ApiError> {
    let view = tokio::task::block_in_place(|| state.packages.create_version(&name, &body.manifest))?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Every package with its latest version.
#[utoipa::path(get, path = "/v1/packages", tag = "packages", responses(
    (status = 200, description = "The packages", body = Vec<PackageSummary>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_packages(State(state): State<AppState>) -> Result<Json<Vec<PackageSummary>>, ApiError> {
    Ok(Json(state.store.list_packages()?))
}

/// The versions of a package, oldest first.
#[utoipa::path(get, path = "/v1/packages/{name}/versions", tag = "packages", params(("name" = String, Path, description = "Package name")), responses(
    (status = 200, description = "The versions", body = Vec<PackageVersionView>),
    (status = 404, description = "No such package", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_versions(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Vec<PackageVersionView>>, ApiError> {
    Ok(Json(state.store.package_versions(&name)?))
}

/// One version of a package (the latest unless `version` is given), with its manifest.
#[utoipa::path(get, path = "/v1/packages/{name}", tag = "packages", params(("name" = String, Path, description = "Package name"), VersionQuery), responses(
    (status = 200, description = "The version", body = PackageVersionView),
    (status = 404, description = "No such package or version", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_package(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<PackageVersionView>, ApiError> {
    Ok(Json(state.store.package_version(&name, query.version.as_deref())?))
}

/// Deletes one version, or every version of a package; archives no version uses any
/// more leave the content store. Refused while a State Manager association names the
/// version (or the package with no version while the version is the latest).
#[utoipa::path(delete, path = "/v1/packages/{name}", tag = "packages", params(("name" = String, Path, description = "Package name"), VersionQuery), responses(
    (status = 200, description = "What was deleted", body = PackageDeleted),
    (status = 404, description = "No such package or version", body = ErrorBody),
    (status = 409, description = "An association uses it", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn delete_package(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<PackageDeleted>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.packages.delete(&name, query.version.as_deref()))?))
}
