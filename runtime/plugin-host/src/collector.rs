//! Inventory collectors: components of the `inventory-plugin` world, loaded and
//! checked like action plugins (manifest, ABI, link once) and called through
//! `collect` with the same limits and capability table. One difference: a
//! read-only directory granted to a collector that does not exist on this host
//! is left out of its sandbox instead of failing the call, so a packages
//! collector granted both the dpkg and the rpm database runs on nodes that have
//! one of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_plugin_manifest::{Grant, Limits, Manifest, PluginKind};

use crate::PluginHost;
use crate::bindings::GuestInventoryItem;
use crate::bindings::inventory::InventoryPluginPre;
use crate::call::{CallOutcome, Sandbox, finish};
use crate::capabilities::Capabilities;
use crate::error::{CallError, LoadError};
use crate::state::CallState;

/// A collector ready to call: linked once, called many times.
pub struct Collector {
    pub manifest: Manifest,
    pub sha256: String,
    pub grants: Vec<Grant>,
    pub limits: Limits,
    name: Arc<str>,
    pre: InventoryPluginPre<CallState>,
    caps: Arc<Capabilities>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").field("name", &self.manifest.name).field("version", &self.manifest.version).finish()
    }
}

/// One inventory item a collector returned: a type such as `AWS:Application`,
/// its schema version, when it was captured (RFC 3339; empty when the collector
/// left it to the caller), and entries of string fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedItem {
    pub type_name: String,
    pub schema_version: String,
    pub capture_time: String,
    pub content: Vec<Vec<(String, String)>>,
}

impl CollectedItem {
    /// The bytes of its text, which the collector's output limit counts.
    fn size(&self) -> usize {
        let fields: usize = self.content.iter().flatten().map(|(k, v)| k.len() + v.len()).sum();
        self.type_name.len() + self.schema_version.len() + self.capture_time.len() + fields
    }
}

impl PluginHost {
    /// Compiles (or loads from the artifact cache) and links a collector, with
    /// the operator's grants and optional limit overrides.
    pub async fn load_collector(&self, wasm: &[u8], grants: Vec<Grant>, limits: Option<Limits>) -> Result<Collector, LoadError> {
        let (manifest, sha256, instance_pre) = self.prepare(wasm, PluginKind::Inventory)?;
        let pre = InventoryPluginPre::new(instance_pre).map_err(|e| LoadError::Abi(format!("{e:#}")))?;
        Ok(Collector {
            name: Arc::from(format!("{}@{}", manifest.name, manifest.version)),
            caps: Arc::new(Capabilities::from_grants(&grants)),
            limits: limits.unwrap_or(manifest.limits),
            manifest,
            sha256,
            grants,
            pre,
        })
    }

    /// Runs a collector with `inputs` (a JSON object of its settings).
    pub async fn collect(&self, collector: &Collector, inputs: &serde_json::Value) -> CallOutcome<Vec<CollectedItem>> {
        let started = Instant::now();
        if !inputs.is_object() {
            return CallOutcome::early(CallError::InvalidInput(format!("inputs must be a map, got {inputs}")), started);
        }
        let _permit = self.slots.acquire().await.expect("the slot semaphore is never closed");
        let sandbox = Sandbox { name: &collector.name, caps: &collector.caps, limits: &collector.limits };
        let (mut store, stdout, stderr) = match self.new_store(sandbox, true) {
            Ok(parts) => parts,
            Err(error) => return CallOutcome::early(error, started),
        };
        let timeout = Duration::from_secs(collector.limits.timeout_seconds.into());
        let inputs_json = inputs.to_string();
        let run = async {
            let instance = collector.pre.instantiate_async(&mut store).await?;
            instance.bosun_plugin_collector().call_collect(&mut store, &inputs_json).await
        };
        let ran = tokio::time::timeout(timeout, run).await;
        finish(started, timeout, ran, store, &stdout, &stderr, |items, state| accept_items(items, state.output_limit))
    }
}

/// The items, unless together they pass the collector's output limit.
fn accept_items(items: Vec<GuestInventoryItem>, limit: usize) -> Result<Vec<CollectedItem>, CallError> {
    let items: Vec<CollectedItem> = items
        .into_iter()
        .map(|i| CollectedItem {
            type_name: i.type_name,
            schema_version: i.schema_version,
            capture_time: i.capture_time,
            content: i.content,
        })
        .collect();
    let size: usize = items.iter().map(CollectedItem::size).sum();
    if size > limit {
        return Err(CallError::OutputTooLarge { size, limit });
    }
    Ok(items)
}
