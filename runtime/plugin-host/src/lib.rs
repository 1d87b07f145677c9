//! The sandboxed WebAssembly plugin host, shared by the control plane and the
//! node agent: one wasmtime engine with the pooling allocator and epoch
//! deadlines, a precompiled-artifact cache, plugins linked once and called
//! many times, and the `host` interface checked against each plugin's grants.

mod bindings;
mod cache;
mod call;
mod capabilities;
mod cloud;
mod collector;
mod control_plane;
mod engine;
mod error;
mod exec;
mod host_api;
mod http;
mod limiter;
mod plugin;
mod services;
#[cfg(feature = "cloud")]
pub mod sigv4;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, Linker};

pub use bosun_plugin_manifest::{Grant, Limits, Manifest};
pub use cache::{engine_key, runtime_engine_key};
pub use call::CallOutcome;
pub use capabilities::Denial;
pub use cloud::{CloudAccess, CloudCredentials, NoCloud, default_endpoint};
pub use collector::{CollectedItem, Collector};
pub use control_plane::ControlPlaneLink;
pub use error::{CallError, HostError, LoadError};
pub use plugin::{Interfaces, Plugin, sha256_hex};
pub use services::{HostKind, ParameterSource, StaticParameters};
#[cfg(feature = "cloud")]
pub use sigv4::{Unsigned as UnsignedRequest, signing_headers};
pub use state::{LogLevel, LogLine};

use crate::bindings::ActionPlugin;
use crate::cache::ArtifactCache;
use crate::engine::{EpochTicker, build_engine};
use crate::services::Services;
use crate::state::CallState;

/// How a host is set up.
pub struct HostConfig {
    pub kind: HostKind,
    /// Where precompiled artifacts are kept; none compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// How many plugin calls may run at once; more wait for a slot.
    pub slots: u32,
    /// Counts instructions so manifests may set a fuel budget (slower calls).
    pub fuel: bool,
    /// The largest HTTP response body or exec output stream a plugin receives.
    pub max_transfer_bytes: usize,
    pub parameters: Arc<dyn ParameterSource>,
    /// Endpoints, default region and credentials of signed cloud calls.
    pub cloud: Arc<dyn CloudAccess>,
}

/// How many plugin calls a node agent runs at once. The control plane compiles
/// node artifacts with a host built from [`HostConfig::node`], so both sides
/// build their engine from the same settings.
pub const NODE_SLOTS: u32 = 8;

impl HostConfig {
    /// The node agent's host: exec allowed, few slots, no fuel metering. The
    /// control plane compiles the artifacts it ships to agents under these settings.
    pub fn node() -> HostConfig {
        HostConfig { slots: NODE_SLOTS, fuel: false, ..HostConfig::new(HostKind::Node) }
    }

    pub fn new(kind: HostKind) -> HostConfig {
        HostConfig {
            kind,
            cache_dir: None,
            slots: 256,
            fuel: false,
            max_transfer_bytes: 16 << 20,
            parameters: Arc::new(StaticParameters::default()),
            cloud: Arc::new(NoCloud),
        }
    }
}

pub struct PluginHost {
    engine: wasmtime::Engine,
    linker: Linker<CallState>,
    cache: Option<ArtifactCache>,
    services: Arc<Services>,
    slots: Semaphore,
    fuel: bool,
    // Last: the ticker thread holds an engine clone and stops when this drops.
    _ticker: EpochTicker,
}

impl PluginHost {
    pub fn new(config: HostConfig) -> Result<PluginHost, HostError> {
        let slots = config.slots.max(1);
        let engine = build_engine(slots, config.fuel)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        ActionPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let cache = config.cache_dir.as_deref().map(|dir| ArtifactCache::open(dir, &engine)).transpose()?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HostError::Engine(format!("HTTP client: {e}")))?;
        let services = Arc::new(Services {
            kind: config.kind,
            http,
            params: config.parameters,
            cloud: config.cloud,
            max_transfer_bytes: config.max_transfer_bytes,
        });
        let ticker = EpochTicker::start(&engine)?;
        Ok(PluginHost { engine, linker, cache, services, slots: Semaphore::new(slots as usize), fuel: config.fuel, _ticker: ticker })
    }

    /// Names this host's artifact format (see [`engine_key`]).
    pub fn engine_key(&self) -> String {
        engine_key(&self.engine)
    }

    /// Compiles a component for hosts with this host's engine settings, without
    /// caching it: the control plane ships the result to node agents.
    #[cfg(feature = "compile")]
    pub fn precompile(&self, wasm: &[u8]) -> Result<Vec<u8>, LoadError> {
        self.engine.precompile_component(wasm).map_err(|e| LoadError::Compile(format!("{e:#}")))
    }

    /// True when the artifact cache holds a precompiled `sha256`.
    pub fn has_artifact(&self, sha256: &str) -> bool {
        self.cache.as_ref().is_some_and(|c| c.contains(sha256))
    }

    /// Puts an artifact compiled elsewhere (the control plane, for this
    /// engine's settings) into the artifact cache, for [`PluginHost::load`].
    /// The caller has checked `sha256` against the component's bytes, and got
    /// the artifact from the control plane it trusts: wasmtime trusts artifacts.
    pub fn store_artifact(&self, sha256: &str, artifact: &[u8]) -> Result<(), LoadError> {
        let Some(cache) = &self.cache else {
            return Err(LoadError::Host(HostError::Engine("this host has no artifact cache to store an artifact in".into())));
        };
        if !cache::is_sha256(sha256) {
            return Err(LoadError::Compile(format!("\"{sha256}\" is not a sha256")));
        }
        cache.store(sha256, artifact)
    }

    /// The directory of precompiled artifacts, when there is one.
    pub fn cache_path(&self) -> Option<&std::path::Path> {
        self.cache.as_ref().map(|c| c.path())
    }
}
