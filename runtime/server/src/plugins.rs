//! Plugins in the control plane: the built-in plugins kept installed, the
//! routes from action names to installed plugin versions, and the action
//! dispatcher that runs a plugin step in the plugin host (beside `bosun:echo`
//! and `bosun:createOpsItem`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use bosun_document::Availability;
use bosun_engine::action::ECHO;
use bosun_engine::{ActionCall, ActionDispatcher, ActionError, Echo};
use bosun_plugin_host::{CallError, Grant, HostConfig, HostKind, Limits, Manifest, Plugin, PluginHost};
use bosun_plugin_manifest::PluginKind;
use bosun_protocol::agent::PluginRef;
use bosun_store::{InstalledPlugin, NewPlugin, Store};

use crate::opsitem_action::CREATE_OPSITEM;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

/// Where the control plane keeps precompiled plugins, inside the data directory.
pub fn cache_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("plugin-cache")
}

/// A plugin this binary carries, with its manifest read and its hash taken.
struct Builtin {
    bytes: &'static [u8],
    manifest: Manifest,
    sha256: String,
}

/// The built-in plugins, read once per process.
fn builtins() -> Result<&'static [Builtin], String> {
    static BUILTINS: OnceLock<Result<Vec<Builtin>, String>> = OnceLock::new();
    BUILTINS
        .get_or_init(|| {
            bosun_builtin_plugins::builtin()
                .iter()
                .map(|b| {
                    let manifest = bosun_plugin_manifest::extract(b.bytes).map_err(|e| format!("built-in plugin {}: {e}", b.name))?;
                    Ok(Builtin { bytes: b.bytes, manifest, sha256: bosun_plugin_host::sha256_hex(b.bytes) })
                })
                .collect()
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// Installs the plugins this binary carries, keeping the grants an operator
/// gave an earlier build of them.
pub fn load_builtins(store: &Store) -> Result<(), String> {
    for Builtin { bytes, manifest, sha256 } in builtins()? {
        let previous = store.get_plugin(&manifest.name, None).map_err(|e| e.to_string())?;
        if previous.as_ref().is_some_and(|p| p.sha256 == *sha256 && p.version == manifest.version) {
            continue;
        }
        let grants = previous.map(|p| p.grants).unwrap_or_else(|| first_grants(manifest));
        let actions: Vec<String> = manifest.actions.iter().map(|a| a.name.clone()).collect();
        store
            .install_plugin(&NewPlugin {
                name: &manifest.name,
                version: &manifest.version,
                sha256,
                manifest: &manifest.to_json(),
                actions: &actions,
                grants: &grants,
                limits: None,
                builtin: true,
                signed_by: None,
                wasm: bytes,
            })
            .map_err(|e| format!("built-in plugin {}: {e}", manifest.name))?;
    }
    Ok(())
}

/// What a built-in plugin is granted when first installed: a built-in inventory
/// collector gets what its manifest asks for (read-only directories of system
/// databases, `rpm -qa`), so that enabling inventory needs no grant; an action
/// plugin gets nothing. An operator changes either with `bosun plugin grant`.
fn first_grants(manifest: &Manifest) -> Vec<String> {
    if manifest.kind == PluginKind::Inventory { manifest.capabilities.clone() } else { Vec::new() }
}

/// The installed inventory collectors (the highest version of each), as the
/// agent fetches them for an `aws:softwareInventory` step.
pub fn collectors_of(store: &Store) -> Result<Vec<PluginRef>, String> {
    let mut collectors: Vec<PluginRef> = Vec::new();
    for plugin in store.list_plugins().map_err(|e| e.to_string())? {
        let manifest = Manifest::from_json(&plugin.manifest).map_err(|e| format!("installed plugin {}: {e}", plugin.name))?;
        if manifest.kind != PluginKind::Inventory {
            continue;
        }
        // Versions come in ascending order, so the highest one wins.
        collectors.retain(|c| c.name != plugin.name);
        collectors.push(PluginRef {
            action: COLLECT_ACTION.to_string(),
            plugin_action: String::new(),
            name: plugin.name,
            version: plugin.version,
            sha256: plugin.sha256,
        });
    }
    Ok(collectors)
}

/// The agent action that runs the inventory collectors.
pub const COLLECT_ACTION: &str = "aws:softwareInventory";

/// True when a plugin this binary carries implements `action`.
fn is_builtin_action(action: &str) -> bool {
    builtins().is_ok_and(|all| all.iter().any(|b| b.manifest.action(action).is_some()))
}

/// The plugin version an action name leads to.
#[derive(Debug, Clone)]
pub struct Route {
    pub plugin: InstalledPlugin,
    /// The action as the plugin knows it (without an `@version` suffix).
    pub action: String,
    pub idempotent: bool,
}

/// Runs control-plane actions: `bosun:echo` and every installed plugin's actions.
/// Installs, removals and grant changes made by other `bosun` processes are
/// picked up without a restart: routes are reloaded when an action is missing,
/// and every call checks that its plugin version still has the grants, limits
/// and bytes it was loaded with.
pub struct PluginDispatcher {
    store: Arc<Store>,
    data_dir: std::path::PathBuf,
    routes: RwLock<HashMap<String, Route>>,
    host: OnceLock<Result<Arc<PluginHost>, String>>,
    loaded: Mutex<HashMap<(String, String), Loaded>>,
    /// Endpoints and credentials of the calls the host signs.
    cloud: Arc<dyn bosun_plugin_host::CloudAccess>,
}

/// A plugin version in the host, with the installed record it was loaded from.
type Loaded = (InstalledPlugin, Arc<Plugin>);

/// Every action of the installed plugins: the highest version of a plugin
/// answers its plain action names, and `plugin:NAME@VERSION` names one version.
pub fn routes_of(store: &Store) -> Result<HashMap<String, Route>, String> {
    let mut routes = HashMap::new();
    for plugin in store.list_plugins().map_err(|e| e.to_string())? {
        let manifest = Manifest::from_json(&plugin.manifest).map_err(|e| format!("installed plugin {}: {e}", plugin.name))?;
        for spec in &manifest.actions {
            let route = Route { plugin: plugin.clone(), action: spec.name.clone(), idempotent: spec.idempotent };
            if spec.name.starts_with("plugin:") {
                routes.insert(format!("{}@{}", spec.name, plugin.version), route.clone());
            }
            // Versions come in ascending order, so the highest one wins.
            routes.insert(spec.name.clone(), route);
        }
    }
    Ok(routes)
}

impl PluginDispatcher {
    pub fn new(store: Arc<Store>, data_dir: &Path) -> Result<PluginDispatcher, String> {
        let routes = RwLock::new(routes_of(&store)?);
        Ok(PluginDispatcher {
            store,
            data_dir: data_dir.to_path_buf(),
            routes,
            host: OnceLock::new(),
            loaded: Mutex::new(HashMap::new()),
            cloud: Arc::new(bosun_plugin_host::NoCloud),
        })
    }

    /// Signs cloud calls with `cloud` (before the first plugin call).
    pub fn with_cloud(mut self, cloud: Arc<dyn bosun_plugin_host::CloudAccess>) -> Self {
        self.cloud = cloud;
        self
    }

    /// The route of an action, reloading the routes once when it has none.
    fn route(&self, action: &str) -> Option<Route> {
        if let Some(route) = self.routes.read().unwrap_or_else(|e| e.into_inner()).get(action) {
            return Some(route.clone());
        }
        match routes_of(&self.store) {
            Ok(fresh) => {
                let route = fresh.get(action).cloned();
                *self.routes.write().unwrap_or_else(|e| e.into_inner()) = fresh;
                route
            }
            Err(error) => {
                tracing::warn!("cannot reload the plugin routes: {error}");
                None
            }
        }
    }

    fn host(&self) -> Result<Arc<PluginHost>, String> {
        self.host
            .get_or_init(|| {
                let mut config = HostConfig::new(HostKind::Server);
                config.cache_dir = Some(cache_dir(&self.data_dir));
                config.cloud = self.cloud.clone();
                PluginHost::new(config).map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The loaded plugin of a route, as the store has it now.
    async fn plugin(&self, route: &Route) -> Result<Arc<Plugin>, ActionError> {
        let key = (route.plugin.name.clone(), route.plugin.version.clone());
        let unavailable = |e: String| ActionError::Failed(format!("plugin {}@{} cannot be loaded: {e}", key.0, key.1));
        let installed = self
            .store
            .get_plugin(&key.0, Some(&key.1))
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| ActionError::NotAvailable(format!("{} (plugin {}@{} was removed)", route.action, key.0, key.1)))?;
        let mut loaded = self.loaded.lock().await;
        if let Some((was, plugin)) = loaded.get(&key)
            && *was == installed
        {
            return Ok(plugin.clone());
        }
        let host = self.host().map_err(unavailable)?;
        let wasm = self
            .store
            .plugin_wasm(&key.0, &key.1)
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| unavailable("it was removed".into()))?;
        if bosun_plugin_host::sha256_hex(&wasm) != installed.sha256 {
            return Err(unavailable("its bytes no longer match the sha256 recorded at install".into()));
        }
        let grants = parse_grants(&installed.grants).map_err(unavailable)?;
        let limits = parse_limits(installed.limits.as_deref()).map_err(unavailable)?;
        let plugin = Arc::new(host.load(&wasm, grants, limits).await.map_err(|e| unavailable(e.to_string()))?);
        loaded.insert(key, (installed, plugin.clone()));
        Ok(plugin)
    }
}

pub fn parse_grants(grants: &[String]) -> Result<Vec<Grant>, String> {
    grants.iter().map(|g| Grant::parse(g).map_err(|e| e.to_string())).collect()
}

pub fn parse_limits(limits: Option<&str>) -> Result<Option<Limits>, String> {
    limits.map(|text| serde_json::from_str::<Limits>(text).map_err(|e| format!("stored limits: {e}"))).transpose()
}

#[async_trait]
impl ActionDispatcher for PluginDispatcher {
    fn availability(&self, action: &str) -> Availability {
        // Built-in plugins count even in a store that has not loaded them yet:
        // every command that runs executions loads them first.
        if action == ECHO || action == CREATE_OPSITEM || is_builtin_action(action) || self.route(action).is_some() {
            Availability::Available
        } else {
            Availability::NotAvailable
        }
    }

    fn is_idempotent(&self, action: &str) -> bool {
        action == ECHO || action == CREATE_OPSITEM || self.route(action).is_some_and(|r| r.idempotent)
    }

    async fn run(&self, call: ActionCall) -> Result<Map<String, Value>, ActionError> {
        if call.action == ECHO {
            return Echo::echo(&call.inputs);
        }
        if call.action == CREATE_OPSITEM {
            return crate::opsitem_action::create(&self.store, &call).await;
        }
        let route = self.route(&call.action).ok_or_else(|| ActionError::NotAvailable(call.action.clone()))?;
        let plugin = self.plugin(&route).await?;
        let host = self.host().map_err(ActionError::Failed)?;
        let inputs = if call.inputs.is_null() { Value::Object(Map::new()) } else { call.inputs };
        let outcome = host.call(&plugin, &route.action, &inputs).await;
        for line in &outcome.logs {
            tracing::info!(
                execution = %call.execution_id,
                step = %call.step_name,
                plugin = %route.plugin.name,
                level = line.level.as_str(),
                "{}",
                line.message
            );
        }
        outcome.result.map_err(|error| match error {
            CallError::InvalidInput(message) => ActionError::InvalidInput(message),
            other => ActionError::Failed(other.to_string()),
        })
    }
}

/// Compiles installed plugins for node agents' plugin hosts ([`HostConfig::node`]
/// settings), once per component: a fan-out to many nodes compiles once, and
/// concurrent requests for one component wait for the same compilation.
pub struct NodeArtifacts {
    host: OnceLock<Result<Arc<PluginHost>, String>>,
    built: std::sync::Mutex<HashMap<String, Arc<Compiled>>>,
}

/// One component's compilation for node agents: done once, awaited by every request for it.
type Compiled = tokio::sync::OnceCell<Result<Arc<Vec<u8>>, String>>;

/// How many compiled components [`NodeArtifacts`] keeps in memory.
const NODE_ARTIFACTS_KEPT: usize = 32;

impl Default for NodeArtifacts {
    fn default() -> Self {
        NodeArtifacts { host: OnceLock::new(), built: std::sync::Mutex::new(HashMap::new()) }
    }
}

impl NodeArtifacts {
    /// The engine key agents that can load these artifacts send.
    pub fn engine_key() -> String {
        bosun_plugin_host::runtime_engine_key()
    }

    fn host(&self) -> Result<Arc<PluginHost>, String> {
        self.host.get_or_init(|| PluginHost::new(HostConfig::node()).map(Arc::new).map_err(|e| e.to_string())).clone()
    }

    /// The artifact of `wasm` (whose sha256 is `sha256`) for node agents.
    pub async fn artifact(&self, sha256: &str, wasm: Vec<u8>) -> Result<Arc<Vec<u8>>, String> {
        let cell = {
            let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
            if !built.contains_key(sha256) && built.len() >= NODE_ARTIFACTS_KEPT {
                built.retain(|_, cell| !cell.initialized());
                if built.len() >= NODE_ARTIFACTS_KEPT {
                    built.clear();
                }
            }
            built.entry(sha256.to_string()).or_default().clone()
        };
        cell.get_or_init(|| async {
            let host = self.host()?;
            let started = std::time::Instant::now();
            let artifact = tokio::task::spawn_blocking(move || host.precompile(&wasm))
                .await
                .map_err(|e| format!("the compilation stopped: {e}"))?
                .map_err(|e| e.to_string())?;
            tracing::info!(sha256, ms = started.elapsed().as_millis() as u64, bytes = artifact.len(), "compiled a plugin for node agents");
            Ok(Arc::new(artifact))
        })
        .await
        .clone()
    }
}
