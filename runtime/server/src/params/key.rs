//! Where the Parameter Store's master key comes from: `BOSUN_PARAM_KEY` (64 hex
//! digits), else the file `BOSUN_PARAM_KEY_FILE` names, else `<data-dir>/param.key`.
//! `bosun dev` writes that file (mode 0600) when no key is configured at all. The
//! key is never logged; only its id is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bosun_store::MasterKey;

use crate::cli::{CliError, write_owner_only};

/// The environment variable holding the key itself.
pub const KEY_ENV: &str = "BOSUN_PARAM_KEY";
/// The environment variable naming a key file.
pub const KEY_FILE_ENV: &str = "BOSUN_PARAM_KEY_FILE";
/// The key file of a data directory.
pub const DATA_DIR_KEY_FILE: &str = "param.key";

/// Reads a key file; the message names the file, never its content.
pub fn read_key_file(path: &Path) -> Result<Arc<MasterKey>, CliError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::failed(format!("cannot read the master key file {}: {e}", path.display())))?;
    MasterKey::from_hex(&text).map(Arc::new).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// The key file in use when the key does not come from [`KEY_ENV`].
fn key_file(data_dir: &Path) -> PathBuf {
    std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| data_dir.join(DATA_DIR_KEY_FILE))
}

/// The configured master key, if any. A key that is configured but unreadable is an error.
pub fn configured(data_dir: &Path) -> Result<Option<Arc<MasterKey>>, CliError> {
    if let Some(text) = std::env::var(KEY_ENV).ok().filter(|v| !v.is_empty()) {
        return MasterKey::from_hex(&text).map(|k| Some(Arc::new(k))).map_err(|e| CliError::usage(format!("{KEY_ENV}: {e}")));
    }
    let path = key_file(data_dir);
    let explicit = std::env::var_os(KEY_FILE_ENV).is_some_and(|v| !v.is_empty());
    if !explicit && !path.exists() {
        return Ok(None);
    }
    read_key_file(&path).map(Some)
}

/// The configured key, or a new one written to `<data-dir>/param.key` (0600) when
/// none is configured: what `bosun dev` uses.
pub fn configured_or_generated(data_dir: &Path) -> Result<Arc<MasterKey>, CliError> {
    if let Some(key) = configured(data_dir)? {
        return Ok(key);
    }
    let key = MasterKey::generate().map_err(|e| CliError::failed(e.to_string()))?;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| CliError::failed(format!("cannot create the data directory {}: {e}", data_dir.display())))?;
    let path = data_dir.join(DATA_DIR_KEY_FILE);
    write_owner_only(&path, &format!("{}\n", key.to_hex().as_str()), false)?;
    tracing::info!(path = %path.display(), key_id = key.id(), "generated the Parameter Store master key into this file");
    Ok(Arc::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_key_is_generated_once_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        if std::env::var_os(KEY_ENV).is_some() || std::env::var_os(KEY_FILE_ENV).is_some() {
            println!("skipped: a master key is configured in this environment");
            return;
        }
        assert!(configured(dir.path()).unwrap().is_none());
        let key = configured_or_generated(dir.path()).unwrap();
        let path = dir.path().join(DATA_DIR_KEY_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(configured_or_generated(dir.path()).unwrap().id(), key.id(), "the same key at the next start");
        std::fs::write(&path, "garbage-key-material").unwrap();
        let refused = configured(dir.path()).unwrap_err().message;
        assert!(refused.contains("param.key") && !refused.contains("garbage"), "{refused}");
    }
}
