//! Shared set-up: hosts, the hostile test plugin loaded with given grants, and
//! the check that a host still serves a normal call.

use std::sync::{Arc, OnceLock};

use bosun_plugin_host::{CallError, CallOutcome, Grant, HostConfig, HostKind, Limits, Plugin, PluginHost, StaticParameters};
use serde_json::{Value, json};

pub const HOSTILE_ACTION: &str = "plugin:hostile";

/// One artifact cache for the whole test binary, so each component compiles once.
fn shared_cache() -> &'static std::path::Path {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

pub fn host(kind: HostKind) -> PluginHost {
    let mut params = std::collections::HashMap::new();
    params.insert("/app/dev/db".to_string(), "db.internal".to_string());
    params.insert("/app/prod/db".to_string(), "secret-prod".to_string());
    let mut config = HostConfig::new(kind);
    config.slots = 128;
    config.cache_dir = Some(shared_cache().to_path_buf());
    config.parameters = Arc::new(StaticParameters(params));
    PluginHost::new(config).unwrap()
}

pub fn grants(texts: &[&str]) -> Vec<Grant> {
    texts.iter().map(|g| Grant::parse(g).unwrap()).collect()
}

pub async fn hostile(host: &PluginHost, grant_texts: &[&str], limits: Option<Limits>) -> Plugin {
    host.load(bosun_builtin_plugins::HOSTILE, grants(grant_texts), limits).await.unwrap()
}

pub async fn call(host: &PluginHost, plugin: &Plugin, inputs: Value) -> CallOutcome {
    host.call(plugin, HOSTILE_ACTION, &inputs).await
}

pub fn error(outcome: &CallOutcome) -> CallError {
    match &outcome.result {
        Ok(outputs) => panic!("expected a failure, got outputs {outputs:?}"),
        Err(e) => e.clone(),
    }
}

/// The host answers a normal call after whatever came before.
pub async fn assert_serves_next_call(host: &PluginHost, plugin: &Plugin) {
    let outcome = call(host, plugin, json!({"Case": "noop"})).await;
    assert_eq!(outcome.result, Ok(serde_json::Map::new()), "the next call failed: {outcome:?}");
}
