//! The JSON body extractor: 415 unless the content type is JSON, 413 past the body
//! limit, 400 for malformed JSON (serde's message, with line and column), 422 for a
//! body of the wrong shape (an unknown or missing field is named).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest request body accepted by default.
pub const DEFAULT_LIMIT: usize = 1024 * 1024;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

pub(super) fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The field a serde message names (`unknown field `x``, `missing field `x``).
fn named_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("missing field `"))?;
    rest.split('`').next().map(str::to_string)
}

/// Turns a body into a value, or the error the API answers with.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(body_error)
}

/// The API's answer to a body that does not parse: 400 for malformed JSON, 422 for
/// JSON that does not fit (naming the field when the parser does).
pub fn body_error(e: serde_json::Error) -> ApiError {
    let message = e.to_string();
    match e.classify() {
        serde_json::error::Category::Data => {
            let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message.clone());
            match named_field(&message) {
                Some(field) => error.with_field(field),
                None => error,
            }
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("malformed JSON: {message}")),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !is_json(content_type) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "too_large", format!("the body is larger than the limit ({DEFAULT_LIMIT} bytes by default)"))
            } else {
                ApiError::new(status, "bad_request", rejection.body_text())
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
    }

    #[test]
    fn errors_name_the_field_or_the_position() {
        let unknown = parse::<Body>(br#"{"name": "a", "colour": 1}"#).unwrap_err();
        assert_eq!((unknown.status, unknown.body.field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("colour")));
        let missing = parse::<Body>(b"{}").unwrap_err();
        assert_eq!(missing.body.field.as_deref(), Some("name"));
        let malformed = parse::<Body>(b"{\n  \"name\": }").unwrap_err();
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert!(malformed.body.message.contains("line 2 column"), "{}", malformed.body.message);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
