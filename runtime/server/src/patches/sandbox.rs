//! The built-in `patch-baseline` plugin loaded into a plugin host of the node
//! kind (exec allowed, the agent's engine settings), with the grants given:
//! the same component and sandbox an agent runs `aws:runPatchBaseline` in.

use bosun_plugin_host::{CallOutcome, Grant, HostConfig, Plugin, PluginHost};
use serde_json::Value;

/// The plugin's name and action.
pub const PLUGIN: &str = "patch-baseline";
pub const ACTION: &str = "aws:runPatchBaseline";

pub struct Sandbox {
    host: PluginHost,
    plugin: Plugin,
}

impl Sandbox {
    /// Compiles and loads the built-in plugin with `grants` (`fs:ro:/x`, `exec:/usr/bin/apt-get **`).
    pub async fn new(grants: &[String]) -> Result<Sandbox, String> {
        let builtin = bosun_builtin_plugins::get(PLUGIN).ok_or_else(|| format!("this build carries no {PLUGIN} plugin"))?;
        let grants = grants.iter().map(|g| Grant::parse(g).map_err(|e| format!("grant {g}: {e}"))).collect::<Result<Vec<_>, _>>()?;
        let host = PluginHost::new(HostConfig::node()).map_err(|e| e.to_string())?;
        let plugin = host.load(builtin.bytes, grants, None).await.map_err(|e| e.to_string())?;
        Ok(Sandbox { host, plugin })
    }

    /// Runs the action once.
    pub async fn run(&self, inputs: &Value) -> CallOutcome {
        self.host.call(&self.plugin, ACTION, inputs).await
    }
}
