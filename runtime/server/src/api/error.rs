//! API errors: an HTTP status with a JSON body `{"error", "message", "field"?, "details"?}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bosun_engine::{EngineError, StoreError};
use bosun_store::FleetError;
use serde::Serialize;

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A short code: unauthorized, bad_request, invalid, not_found, conflict, too_large, unsupported_media_type, internal.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// One line per problem, e.g. document diagnostics as `file:line:col: path: message`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody { error: code.into(), message: message.into(), field: None, details: Vec::new() } }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422: the request is well-formed but a field's value is not acceptable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_field(field)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.body.details = details;
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store error while serving a request");
        Self::internal(e.to_string())
    }
}

impl From<FleetError> for ApiError {
    fn from(e: FleetError) -> Self {
        match e {
            FleetError::Invalid { field, message } => Self::invalid(field, message),
            FleetError::NotFound(message) => Self::not_found(message),
            FleetError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            FleetError::Refused => Self::new(StatusCode::UNAUTHORIZED, "unauthorized", FleetError::Refused.to_string()),
            FleetError::Store(e) => e.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidDocument(lines) => Self::invalid("document", "the document is not valid").with_details(lines),
            EngineError::InvalidParameters(errors) => {
                let field = errors.first().map(|p| format!("parameters.{}", p.parameter)).unwrap_or_else(|| "parameters".into());
                let details: Vec<String> = errors.iter().map(ToString::to_string).collect();
                Self::invalid(field, details.join("; ")).with_details(details)
            }
            EngineError::InvalidRequest(message) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message),
            EngineError::NotFound(_) => Self::not_found(e.to_string()),
            EngineError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            EngineError::Store(e) => e.into(),
        }
    }
}

/// Refusals given before the request body is read.
fn body_may_be_unread(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if body_may_be_unread(self.status) {
            // The connection is closed after this answer, since the body it did not read
            // is still on the wire; saying so keeps clients from reusing it.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
