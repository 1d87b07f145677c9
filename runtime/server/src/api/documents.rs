//! `/v1/documents`: list, read and create documents. A new document is validated
//! against what this server can run; problems come back as `file:line:col` lines.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bosun_document::Severity;
use bosun_store::{NewDocument, validate_document_name};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use crate::output::document_info_json;

/// A new document.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDocument {
    /// The document's name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The document itself, YAML or JSON text.
    pub content: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A version number, `$LATEST` or `$DEFAULT` (the default).
    pub version: Option<String>,
}

/// The default version of every document.
#[utoipa::path(get, path = "/v1/documents", tag = "documents", responses(
    (status = 200, description = "Document listings", body = Vec<Object>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn list_documents(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Array(state.store.list_documents()?.iter().map(document_info_json).collect())))
}

/// One document version, with its content.
#[utoipa::path(get, path = "/v1/documents/{name}", tag = "documents", params(("name" = String, Path, description = "Document name"), VersionQuery), responses(
    (status = 200, description = "The document and its content", body = Object),
    (status = 404, description = "No such document or version", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn get_document(
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let Some((info, snapshot)) = state.store.get_document(&name, query.version.as_deref())? else {
        return Err(ApiError::not_found(match &query.version {
            Some(v) => format!("document \"{name}\" has no version {v}"),
            None => format!("no document named \"{name}\""),
        }));
    };
    let mut value = document_info_json(&info);
    if let Value::Object(map) = &mut value {
        map.insert("content".into(), Value::String(snapshot.text));
    }
    Ok(Json(value))
}

/// Stores version 1 of a new document.
#[utoipa::path(post, path = "/v1/documents", tag = "documents", request_body = CreateDocument, responses(
    (status = 201, description = "The stored document", body = Object),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 409, description = "A document of that name exists", body = ErrorBody),
    (status = 422, description = "A field is not valid; document problems are in details as file:line:col lines", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn create_document(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateDocument>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    validate_document_name(&body.name, false).map_err(|e| ApiError::invalid("name", e.0))?;
    if state.store.document_info(&body.name, None)?.is_some() {
        return Err(
            ApiError::new(StatusCode::CONFLICT, "conflict", format!("document \"{}\" exists already", body.name)).with_field("name")
        );
    }
    let extension = if body.content.trim_start().starts_with('{') { "json" } else { "yaml" };
    let file_name = format!("{}.{extension}", body.name);
    let loaded = bosun_document::load(&file_name, &body.content, state.engine.as_ref());
    let errors: Vec<String> = loaded.diagnostics.0.iter().filter(|d| d.severity == Severity::Error).map(|d| d.render(&file_name)).collect();
    let document = match loaded.document {
        Some(document) if errors.is_empty() => document,
        _ => return Err(ApiError::invalid("content", format!("{file_name} is not a valid document")).with_details(errors)),
    };
    let (document_type, schema_version) = (document.kind.as_str().to_string(), document.schema_version.clone());
    let new = NewDocument {
        name: &body.name,
        file_name: &file_name,
        content: &body.content,
        document_type: &document_type,
        schema_version: &schema_version,
    };
    let info = tokio::task::block_in_place(|| state.store.create_document(&new)).map_err(|e| ApiError::invalid("name", e.0))?;
    Ok((StatusCode::CREATED, Json(document_info_json(&info))))
}
