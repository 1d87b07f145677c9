//! The node's identity: the node id and credential the server gave at
//! registration, kept in `<state-dir>/identity.json` (mode 0600).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::fsutil;

pub const IDENTITY_FILE: &str = "identity.json";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub node_id: String,
    pub credential: String,
    /// The server it registered with, for the operator's information.
    #[serde(default)]
    pub server: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("node_id", &self.node_id).field("credential", &"<redacted>").field("server", &self.server).finish()
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(IDENTITY_FILE)
}

/// The stored identity, if the node registered before.
pub fn load(state_dir: &Path) -> Result<Option<Identity>, AgentError> {
    let path = path(state_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AgentError::state(path, e)),
    };
    let identity: Identity =
        serde_json::from_str(&text).map_err(|e| AgentError::BadIdentity { path: path.clone(), message: e.to_string() })?;
    if identity.node_id.is_empty() || identity.credential.is_empty() {
        return Err(AgentError::BadIdentity { path, message: "the node id or the credential is empty".into() });
    }
    Ok(Some(identity))
}

pub fn save(state_dir: &Path, identity: &Identity) -> Result<(), AgentError> {
    let path = path(state_dir);
    let bytes = serde_json::to_vec_pretty(identity).map_err(|e| AgentError::BadIdentity { path: path.clone(), message: e.to_string() })?;
    fsutil::write_private(&path, &bytes, true).map_err(|e| AgentError::state(path, e))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn round_trip_owner_only_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let id = Identity { node_id: "mi-1".into(), credential: "secret".into(), server: "http://s".into() };
        save(dir.path(), &id).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(id.clone()));
        assert_eq!(std::fs::metadata(path(dir.path())).unwrap().mode() & 0o777, 0o600);
        assert!(!format!("{id:?}").contains("secret"));
    }

    #[test]
    fn a_broken_identity_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "{not json").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("identity.json is not valid"), "{err}");
    }
}
