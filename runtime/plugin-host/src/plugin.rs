//! Loading a plugin: read its manifest, get its compiled form (artifact cache
//! or compiler), check the ABI it was built for, link it once (`InstancePre`),
//! check its actions against the manifest, and compile its input schemas.

use std::collections::HashMap;
use std::sync::Arc;

use bosun_plugin_manifest::{Grant, Limits, Manifest, PluginKind, SUPPORTED_ABI, abi_major, extract};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre};

use crate::PluginHost;
use crate::bindings::ActionPluginPre;
use crate::capabilities::Capabilities;
use crate::error::LoadError;
use crate::state::CallState;

/// A plugin ready to call: linked once, called many times.
pub struct Plugin {
    pub manifest: Manifest,
    pub sha256: String,
    pub grants: Vec<Grant>,
    pub limits: Limits,
    pub(crate) name: Arc<str>,
    pub(crate) pre: ActionPluginPre<CallState>,
    pub(crate) caps: Arc<Capabilities>,
    pub(crate) schemas: HashMap<String, jsonschema::Validator>,
}

impl Plugin {
    pub(crate) fn sandbox(&self) -> crate::call::Sandbox<'_> {
        crate::call::Sandbox { name: &self.name, caps: &self.caps, limits: &self.limits }
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("name", &self.manifest.name).field("version", &self.manifest.version).finish()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a component imports and exports, e.g. `bosun:plugin/host@0.1.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interfaces {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

fn interfaces_of(host: &PluginHost, component: &Component) -> Interfaces {
    let ty = component.component_type();
    Interfaces {
        imports: ty.imports(&host.engine).map(|(name, _)| name.to_string()).collect(),
        exports: ty.exports(&host.engine).map(|(name, _)| name.to_string()).collect(),
    }
}

/// Refuses a component built for an ABI major this host does not speak, or
/// importing something the host does not provide.
fn check_abi(names: &[String]) -> Result<(), LoadError> {
    for name in names {
        let Some(rest) = name.strip_prefix("bosun:plugin/") else {
            if name.starts_with("wasi:") {
                continue;
            }
            return Err(LoadError::Abi(format!("the component uses {name}, which this host does not provide")));
        };
        let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
        let major = abi_major(version);
        if !major.as_deref().is_some_and(|m| SUPPORTED_ABI.contains(&m)) {
            return Err(LoadError::Abi(format!(
                "the plugin was built for ABI bosun:plugin@{version}, which this host does not speak (it speaks {}); rebuild the plugin against a supported SDK",
                SUPPORTED_ABI.join(", ")
            )));
        }
    }
    Ok(())
}

impl PluginHost {
    /// Compiles (or loads from the artifact cache) and links a plugin, with the
    /// operator's grants and optional limit overrides.
    pub async fn load(&self, wasm: &[u8], grants: Vec<Grant>, limits: Option<Limits>) -> Result<Plugin, LoadError> {
        let (manifest, sha256, instance_pre) = self.prepare(wasm, PluginKind::Action)?;
        let pre = ActionPluginPre::new(instance_pre).map_err(|e| LoadError::Abi(format!("{e:#}")))?;
        let mut schemas = HashMap::new();
        for action in &manifest.actions {
            if let Some(schema) = &action.input_schema {
                let validator = jsonschema::validator_for(schema)
                    .map_err(|e| LoadError::Schema { action: action.name.clone(), message: e.to_string() })?;
                schemas.insert(action.name.clone(), validator);
            }
        }
        let limits = limits.unwrap_or(manifest.limits);
        if limits.fuel.is_some() && !self.fuel {
            tracing::warn!(plugin = %manifest.name, "the plugin sets a fuel budget, but this host does not meter fuel; its deadline still applies");
        }
        let plugin = Plugin {
            name: Arc::from(format!("{}@{}", manifest.name, manifest.version)),
            caps: Arc::new(Capabilities::from_grants(&grants)),
            manifest,
            sha256,
            grants,
            limits,
            pre,
            schemas,
        };
        let implemented = self.implemented_actions(&plugin).await.map_err(|e| LoadError::Probe(e.to_string()))?;
        let missing: Vec<&str> =
            plugin.manifest.actions.iter().map(|a| a.name.as_str()).filter(|a| !implemented.iter().any(|i| i == a)).collect();
        if !missing.is_empty() {
            return Err(LoadError::ActionsMismatch { claimed: missing.join(", "), implemented: implemented.join(", ") });
        }
        Ok(plugin)
    }

    /// The manifest (of the kind expected), the sha256, and the component linked once.
    pub(crate) fn prepare(&self, wasm: &[u8], kind: PluginKind) -> Result<(Manifest, String, InstancePre<CallState>), LoadError> {
        let manifest = extract(wasm)?;
        match (kind, manifest.kind) {
            (PluginKind::Action, PluginKind::Inventory) => return Err(LoadError::NotAnActionPlugin),
            (PluginKind::Inventory, PluginKind::Action) => return Err(LoadError::NotACollector),
            _ => {}
        }
        let sha256 = sha256_hex(wasm);
        let component = self.component(wasm, &sha256)?;
        let interfaces = interfaces_of(self, &component);
        check_abi(&interfaces.imports)?;
        check_abi(&interfaces.exports)?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| LoadError::Link(format!("{e:#}")))?;
        Ok((manifest, sha256, instance_pre))
    }

    /// What a component imports and exports, compiling it if needed.
    pub fn interfaces(&self, wasm: &[u8]) -> Result<Interfaces, LoadError> {
        let component = self.component(wasm, &sha256_hex(wasm))?;
        Ok(interfaces_of(self, &component))
    }

    /// The compiled component, from the artifact cache or compiled now (and cached).
    pub(crate) fn component(&self, wasm: &[u8], sha256: &str) -> Result<Component, LoadError> {
        if let Some(cache) = &self.cache
            && let Some(component) = cache.load(&self.engine, sha256)
        {
            return Ok(component);
        }
        self.compile(wasm, sha256)
    }

    #[cfg(feature = "compile")]
    fn compile(&self, wasm: &[u8], sha256: &str) -> Result<Component, LoadError> {
        let started = std::time::Instant::now();
        let artifact = self.engine.precompile_component(wasm).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        tracing::info!(sha256, ms = started.elapsed().as_millis() as u64, "compiled a plugin");
        if let Some(cache) = &self.cache {
            cache.store(sha256, &artifact)?;
            if let Some(component) = cache.load(&self.engine, sha256) {
                return Ok(component);
            }
        }
        // SAFETY: the artifact was produced a moment ago by this engine.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(&self.engine, &artifact) };
        component.map_err(|e| LoadError::Compile(format!("{e:#}")))
    }

    #[cfg(not(feature = "compile"))]
    fn compile(&self, _wasm: &[u8], sha256: &str) -> Result<Component, LoadError> {
        Err(LoadError::NotPrecompiled { sha256: sha256.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_checks_name_the_versions() {
        let ok = vec!["wasi:cli/environment@0.2.0".to_string(), "bosun:plugin/host@0.1.0".into(), "bosun:plugin/action@0.1.3".into()];
        assert!(check_abi(&ok).is_ok());
        let newer = vec!["bosun:plugin/action@1.0.0".to_string()];
        let message = check_abi(&newer).unwrap_err().to_string();
        assert!(message.contains("bosun:plugin@1.0.0") && message.contains("speaks 0.1"), "{message}");
        let foreign = vec!["acme:evil/thing".to_string()];
        assert!(check_abi(&foreign).unwrap_err().to_string().contains("acme:evil/thing"));
    }
}
