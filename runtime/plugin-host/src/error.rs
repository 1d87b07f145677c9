//! The host's typed errors: setting up, loading a plugin, and calling it.

use bosun_plugin_manifest::SectionError;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("plugin engine: {0}")]
    Engine(String),
    #[error("plugin artifact cache {path}: {message}")]
    Cache { path: String, message: String },
}

/// Why a plugin cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Section(#[from] SectionError),
    #[error("the component does not compile: {0}")]
    Compile(String),
    #[error("this host cannot compile components and has no precompiled artifact for {sha256}")]
    NotPrecompiled { sha256: String },
    #[error("{0}")]
    Abi(String),
    #[error("the component cannot be linked: {0}")]
    Link(String),
    #[error("the manifest claims {claimed}, which the component does not implement (it implements: {implemented})")]
    ActionsMismatch { claimed: String, implemented: String },
    #[error("the input schema of {action} is not a valid JSON Schema: {message}")]
    Schema { action: String, message: String },
    #[error("this is an inventory collector: it runs in an aws:softwareInventory step, not as an action")]
    NotAnActionPlugin,
    #[error("this is an action plugin, not an inventory collector (its manifest's kind is not \"inventory\")")]
    NotACollector,
    #[error("the plugin could not be started to check its actions: {0}")]
    Probe(String),
    #[error(transparent)]
    Host(#[from] HostError),
}

/// Why a call failed. Each becomes a step failure with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("denied: {0}")]
    Denied(String),
    #[error("{0}")]
    Failed(String),
    #[error("timed out: {0}")]
    TimedOut(String),
    #[error("{0}")]
    MemoryLimit(String),
    #[error("output too large: {size} bytes, the limit is {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("the plugin crashed: {0}")]
    Trap(String),
    #[error("the plugin does not implement {0}")]
    UnknownAction(String),
}
