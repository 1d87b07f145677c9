//! `GET /v1/agent/plugins/{name}/{version}` (node credential): an installed plugin
//! version for the agent's plugin host: the component's bytes, the component
//! precompiled for the agent's engine (compiled once per component, see
//! [`crate::plugins::NodeArtifacts`]), and the operator's grants and limits as
//! they are now.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bosun_protocol::agent::PluginArtifact;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::plugins::NodeArtifacts;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ArtifactQuery {
    /// The agent's engine key (`bosun_plugin_host::engine_key` of its host).
    engine_key: String,
    /// False: grants and limits only (the agent has the bytes already).
    #[serde(default = "yes")]
    bytes: bool,
}

fn yes() -> bool {
    true
}

/// A plugin version for a node's plugin host, precompiled for the node's engine.
#[utoipa::path(get, path = "/v1/agent/plugins/{name}/{version}", tag = "agent", security(("node" = [])),
    params(("name" = String, Path, description = "Plugin name"), ("version" = String, Path, description = "Plugin version"), ArtifactQuery),
    responses(
    (status = 200, description = "The plugin, its artifact and its grants", body = PluginArtifact),
    (status = 404, description = "No such plugin version", body = ErrorBody),
    (status = 409, description = "This server cannot compile for the agent's engine (another wasmtime version or architecture)", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn plugin_artifact(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<ArtifactQuery>,
) -> Result<Json<PluginArtifact>, ApiError> {
    let server_key = NodeArtifacts::engine_key();
    if query.engine_key != server_key {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "engine_mismatch",
            format!(
                "this server compiles plugins for agents with engine {server_key}; the agent's engine is {}: run an agent of this server's version on this architecture",
                query.engine_key
            ),
        ));
    }
    let missing = || ApiError::not_found(format!("no plugin {name} with version {version} is installed"));
    let installed = tokio::task::block_in_place(|| state.store.get_plugin(&name, Some(&version)))?.ok_or_else(missing)?;
    let mut answer = PluginArtifact {
        name: installed.name,
        version: installed.version,
        sha256: installed.sha256,
        wasm: String::new(),
        artifact: String::new(),
        engine_key: server_key,
        grants: installed.grants,
        limits: match installed.limits.as_deref() {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| ApiError::internal(format!("stored limits of {name}: {e}")))?),
            None => None,
        },
    };
    if query.bytes {
        let wasm = tokio::task::block_in_place(|| state.store.plugin_wasm(&name, &version))?.ok_or_else(missing)?;
        if bosun_plugin_host::sha256_hex(&wasm) != answer.sha256 {
            return Err(ApiError::internal(format!("the bytes of {name}@{version} no longer match the sha256 recorded at install")));
        }
        answer.wasm = STANDARD.encode(&wasm);
        let artifact = state.node_artifacts.artifact(&answer.sha256, wasm).await.map_err(|e| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "compile_failed", format!("{name}@{version} does not compile: {e}"))
        })?;
        answer.artifact = STANDARD.encode(artifact.as_slice());
    }
    Ok(Json(answer))
}
