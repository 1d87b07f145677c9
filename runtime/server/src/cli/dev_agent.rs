//! `bosun dev`'s local agent: the node agent's library running in the dev process,
//! with its state in `<data-dir>/agent`. On the first start it registers with a
//! one-use activation created for it (tagged `Name=local`); later starts reuse
//! the identity kept there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bosun_agent::{Activation, AgentConfig};
use bosun_protocol::fleet::CreateActivation;
use bosun_store::Store;

use super::CliError;

/// The tag that marks `bosun dev`'s own node.
pub const LOCAL_TAG: (&str, &str) = ("Name", "local");

/// `<data-dir>/agent`, absolute: scripts run in other working directories.
pub fn state_dir(data_dir: &Path) -> PathBuf {
    let dir = data_dir.join("agent");
    std::path::absolute(&dir).unwrap_or(dir)
}

/// The local agent's settings for a server at `url`, with an activation when it has no identity yet.
pub fn config(store: &Store, data_dir: &Path, url: &str) -> Result<AgentConfig, CliError> {
    let state_dir = state_dir(data_dir);
    let mut config = AgentConfig::new(url, &state_dir);
    let known = bosun_agent::identity::load(&state_dir).map_err(|e| CliError::failed(format!("the local agent's state: {e}")))?;
    if known.is_none() {
        let request = CreateActivation {
            description: "bosun dev's local agent".into(),
            tags: BTreeMap::from([(LOCAL_TAG.0.to_string(), LOCAL_TAG.1.to_string())]),
            registration_limit: Some(1),
            expires_in_seconds: Some(3600),
        };
        let created =
            store.create_activation(&request).map_err(|e| CliError::failed(format!("cannot create the local agent's activation: {e}")))?;
        config.activation = Some(Activation { id: created.activation_id, code: created.activation_code });
    }
    Ok(config)
}
