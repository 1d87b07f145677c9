//! The HTTP API (axum) over the store and the engine: one module per resource,
//! admin bearer-token authentication on every route but `/v1/health`, agent
//! registration and the agent routes (node credential), JSON bodies with a size
//! limit, and an OpenAPI document generated from the handlers (utoipa).

mod activations;
mod agent;
mod agent_packages;
mod agent_plugins;
mod agent_sessions;
mod agent_work;
mod associations;
mod audit;
mod auth;
mod body;
mod cloud;
mod commands;
mod documents;
mod error;
mod events;
mod executions;
mod groups;
mod health;
mod hooks;
mod inventory;
mod json_lines;
mod node_auth;
mod nodes;
mod opsitems;
mod packages;
mod params;
mod patch;
mod plugins;
mod rules;
mod sessions;
mod windows;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Json, Router};
use bosun_engine::Engine;
use bosun_store::Store;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::bus::EventBus;
use crate::run_command::RunCommand;
pub use body::DEFAULT_LIMIT;
use error::ApiError;

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub run_command: Arc<RunCommand>,
    /// Routes logged events to rule targets.
    pub bus: Arc<EventBus>,
    /// Plugins compiled for node agents.
    pub node_artifacts: Arc<crate::plugins::NodeArtifacts>,
    /// How long a node may stay silent and still be Online.
    pub heartbeat_gap: Duration,
    /// Parameter Store, read with each caller's scopes.
    pub params: Arc<crate::params::Parameters>,
    /// Session Manager's open sessions and relays.
    pub sessions: Arc<crate::sessions::SessionHub>,
    /// Distributor: package versions and the content store of their archives.
    pub packages: Arc<crate::packages::Packages>,
    /// The cloud configuration read at start, as the engine uses it (or why it cannot be read).
    pub cloud: Arc<Result<crate::cloud::CloudConfig, String>>,
    /// When each token's use was last recorded.
    touched: Arc<Mutex<HashMap<String, Instant>>>,
    /// When each node's contact was last recorded.
    nodes_seen: Arc<Mutex<HashMap<String, Instant>>>,
}

/// The server's settings that the API sees.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// How long a node may stay silent and still be Online; past it, ConnectionLost.
    pub heartbeat_gap: Duration,
    /// The Parameter Store's master key, for SecureString values.
    pub param_key: Option<Arc<bosun_store::MasterKey>>,
}

/// The default heartbeat gap.
pub const DEFAULT_HEARTBEAT_GAP: Duration = Duration::from_secs(60);

impl Default for ApiSettings {
    fn default() -> Self {
        Self { body_limit: DEFAULT_LIMIT, heartbeat_gap: DEFAULT_HEARTBEAT_GAP, param_key: None }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Bosun", description = "Bosun's control-plane API. Every route but /v1/health and /v1/agent/* needs `Authorization: Bearer TOKEN` (`bosun token create NAME`); the agent routes but /v1/agent/register need `Authorization: Bearer NODE_CREDENTIAL` instead."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("node", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
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

/// The routes a node agent calls with its node credential: [`node_auth::require_node`]
/// checks `Authorization: Bearer NODE_CREDENTIAL` (admin tokens are refused here) and
/// puts the caller's [`node_auth::NodeCaller`] in the request's extensions.
fn agent_routes() -> OpenApiRouter<AppState> {
    // Reports carry an invocation's whole output: they get a larger body limit of their own.
    OpenApiRouter::new()
        .routes(routes!(agent_work::report))
        .layer(DefaultBodyLimit::max(agent_work::REPORT_BODY_LIMIT))
        .routes(routes!(agent::heartbeat))
        .routes(routes!(agent_work::poll))
        .routes(routes!(agent_plugins::plugin_artifact))
        .routes(routes!(agent_packages::package_for_node))
        .routes(routes!(agent_packages::package_file))
        .merge(OpenApiRouter::new().routes(routes!(inventory::upload)).layer(DefaultBodyLimit::max(inventory::UPLOAD_BODY_LIMIT)))
        .merge(OpenApiRouter::new().routes(routes!(patch::upload)).layer(DefaultBodyLimit::max(patch::UPLOAD_BODY_LIMIT)))
        .routes(routes!(patch::snapshot))
        .routes(routes!(agent_sessions::stream))
}

/// The webhook triggers, which check the sender's signature instead of a token, and
/// read the body themselves under each hook's own limit.
fn hook_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(hooks::receive)).layer(DefaultBodyLimit::disable())
}

/// The whole API, with the server's settings.
pub fn router(store: Arc<Store>, engine: Arc<Engine>, run_command: Arc<RunCommand>, bus: Arc<EventBus>, settings: ApiSettings) -> Router {
    let params = crate::params::Parameters::new(store.clone(), settings.param_key.clone());
    let state = AppState {
        sessions: crate::sessions::SessionHub::new(store.clone(), run_command.clone()),
        packages: crate::packages::Packages::open(store.clone(), params.clone())
            .unwrap_or_else(|e| panic!("the package content store: {e}")),
        params,
        cloud: Arc::new(crate::cloud::CloudConfig::load(&crate::cloud::view::data_dir_of(&store))),
        store,
        engine,
        run_command,
        bus,
        node_artifacts: Arc::default(),
        heartbeat_gap: settings.heartbeat_gap,
        touched: Arc::default(),
        nodes_seen: Arc::default(),
    };
    // Public: the activation code is register's credential.
    let (public, public_doc) = OpenApiRouter::new().routes(routes!(health::health)).routes(routes!(agent::register)).split_for_parts();
    let (agent, agent_doc) = agent_routes().split_for_parts();
    let (hook, hook_doc) = hook_routes().split_for_parts();
    let (protected, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(documents::list_documents, documents::create_document))
        .routes(routes!(documents::get_document))
        .routes(routes!(executions::list_executions, executions::start_execution))
        .routes(routes!(executions::get_execution))
        .routes(routes!(executions::signal))
        .routes(routes!(plugins::list_plugins))
        .routes(routes!(activations::list_activations, activations::create_activation))
        .routes(routes!(activations::delete_activation))
        .routes(routes!(nodes::list_nodes))
        .routes(routes!(nodes::get_node))
        .routes(routes!(nodes::change_tags))
        .routes(routes!(nodes::deregister))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(groups::get_group, groups::delete_group))
        .routes(routes!(commands::list_commands, commands::send_command))
        .routes(routes!(commands::get_command))
        .routes(routes!(commands::cancel_command))
        .routes(routes!(hooks::list_hooks, hooks::create_hook))
        .routes(routes!(hooks::delete_hook))
        .routes(routes!(hooks::rotate_secret))
        .routes(routes!(rules::list_rules, rules::create_rule))
        .routes(routes!(rules::get_rule, rules::delete_rule))
        .routes(routes!(rules::enable_rule))
        .routes(routes!(rules::disable_rule))
        .routes(routes!(events::list_events))
        .routes(routes!(events::list_dead_letters))
        .routes(routes!(events::replay_dead_letters))
        .routes(routes!(opsitems::list_opsitems))
        .routes(routes!(opsitems::get_opsitem, opsitems::update_opsitem))
        .routes(routes!(opsitems::run_runbook))
        .routes(routes!(audit::list_audit))
        .routes(routes!(params::put))
        .routes(routes!(params::get))
        .routes(routes!(params::get_many))
        .routes(routes!(params::get_by_path))
        .routes(routes!(params::history))
        .routes(routes!(params::label))
        .routes(routes!(params::unlabel))
        .routes(routes!(params::delete))
        .routes(routes!(associations::list_associations, associations::create_association))
        .routes(routes!(associations::get_association, associations::update_association, associations::delete_association))
        .routes(routes!(associations::run_association))
        .routes(routes!(associations::association_versions))
        .routes(routes!(associations::node_history))
        .routes(routes!(associations::compliance))
        .routes(routes!(windows::list_windows, windows::create_window))
        .routes(routes!(windows::get_window, windows::delete_window))
        .routes(routes!(windows::register_target))
        .routes(routes!(windows::register_task))
        .routes(routes!(windows::window_history))
        .routes(routes!(inventory::types))
        .routes(routes!(inventory::query))
        .routes(routes!(inventory::summary))
        .routes(routes!(inventory::node))
        .routes(routes!(inventory::export))
        .routes(routes!(patch::list_baselines, patch::create_baseline))
        .routes(routes!(patch::get_baseline, patch::update_baseline, patch::delete_baseline))
        .routes(routes!(patch::set_default))
        .routes(routes!(patch::list_groups, patch::register_group))
        .routes(routes!(patch::deregister_group))
        .routes(routes!(patch::get_settings, patch::put_settings))
        .routes(routes!(patch::compliance))
        .routes(routes!(patch::summary))
        .routes(routes!(patch::export))
        .routes(routes!(cloud::show))
        .routes(routes!(cloud::check))
        .routes(routes!(sessions::list_sessions, sessions::start_session))
        .routes(routes!(sessions::get_session))
        .routes(routes!(sessions::terminate_session))
        .routes(routes!(sessions::transcript))
        .routes(routes!(sessions::stream))
        .routes(routes!(sessions::get_preferences, sessions::put_preferences))
        .routes(routes!(packages::put_content))
        .routes(routes!(packages::content_store))
        .routes(routes!(packages::list_packages))
        .routes(routes!(packages::get_package, packages::delete_package))
        .routes(routes!(packages::list_versions, packages::create_version))
        .routes(routes!(openapi_json))
        .split_for_parts();
    doc.merge(public_doc);
    doc.merge(agent_doc);
    doc.merge(hook_doc);
    let agent = agent.layer(axum::middleware::from_fn_with_state(state.clone(), node_auth::require_node));
    let protected = protected
        .fallback(not_found)
        .layer(Extension(Arc::new(doc)))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token));
    public.merge(agent).merge(hook).merge(protected).layer(DefaultBodyLimit::max(settings.body_limit)).with_state(state)
}
