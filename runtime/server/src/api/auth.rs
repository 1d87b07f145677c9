//! Bearer-token authentication: every route but `/v1/health` passes through
//! [`require_token`]. The token is compared by hash with the active tokens in
//! constant time, and is never logged.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// How often a token's `last_used` is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The name of the token a request was authenticated with.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// The token of an `Authorization: Bearer TOKEN` header.
pub(super) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let header = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(token) = header.and_then(bearer) else {
        return ApiError::unauthorized("an Authorization: Bearer TOKEN header is required (see `bosun token create`)").into_response();
    };
    // One indexed read of microseconds: done in place, since every call makes it.
    let name = match state.store.verify_token(token) {
        Ok(Some(name)) => name,
        Ok(None) => return ApiError::unauthorized("the token is unknown or revoked").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    touch(&state, &name);
    request.extensions_mut().insert(Caller(name));
    next.run(request).await
}

/// Records the use of a token, at most once per [`TOUCH_EVERY`].
fn touch(state: &AppState, name: &str) {
    let now = Instant::now();
    {
        let mut touched = state.touched.lock().unwrap_or_else(|e| e.into_inner());
        if touched.get(name).is_some_and(|at| now.duration_since(*at) < TOUCH_EVERY) {
            return;
        }
        touched.insert(name.to_string(), now);
    }
    if let Err(error) = tokio::task::block_in_place(|| state.store.touch_token(name)) {
        tracing::warn!(token = name, %error, "cannot record the use of a token");
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }
}
