//! The HTTP API (axum) over the store and the engine: one module per resource,
//! bearer-token authentication on every route but `/v1/health`, JSON bodies with a
//! size limit, and an OpenAPI document generated from the handlers (utoipa).

mod auth;
mod body;
mod commands;
mod documents;
mod error;
mod executions;
mod health;
mod plugins;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Json, Router};
use bosun_engine::Engine;
use bosun_store::Store;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use body::DEFAULT_LIMIT;
use crate::run_command::RunCommand;
use error::ApiError;

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub run_command: Arc<RunCommand>,
    /// When each token's use was last recorded.
    touched: Arc<Mutex<HashMap<String, Instant>>>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Bosun", description = "Bosun's control-plane API. Every route but /v1/health needs `Authorization: Bearer TOKEN` (`bosun token create NAME`)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The OpenAPI document of this API. It is served behind the token like every
/// route but `/v1/health`: deny by default, and an operator who can call the API
/// can read its description.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", responses((status = 200, description = "This API's OpenAPI document", body = Object)))]
async fn openapi_json(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// The whole API, with `body_limit` bytes as the largest request body.
pub fn router(store: Arc<Store>, engine: Arc<Engine>, run_command: Arc<RunCommand>, body_limit: usize) -> Router {
    let state = AppState { store, engine, run_command, touched: Arc::default() };
    let (public, public_doc) = OpenApiRouter::new().routes(routes!(health::health)).split_for_parts();
    let (protected, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(documents::list_documents, documents::create_document))
        .routes(routes!(documents::get_document))
        .routes(routes!(executions::list_executions, executions::start_execution))
        .routes(routes!(executions::get_execution))
        .routes(routes!(executions::signal))
        .routes(routes!(plugins::list_plugins))
        .routes(routes!(commands::list_commands, commands::send_command))
        .routes(routes!(commands::get_command))
        .routes(routes!(commands::cancel_command))
        .routes(routes!(openapi_json))
        .split_for_parts();
    doc.merge(public_doc);
    let protected = protected
        .fallback(not_found)
        .layer(Extension(Arc::new(doc)))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    public.merge(protected).layer(DefaultBodyLimit::max(body_limit)).with_state(state)
}
