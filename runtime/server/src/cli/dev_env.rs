//! The env file of `bosun dev`: `<data-dir>/env` (owner-only) holds the
//! `export BOSUN_ENDPOINT=…` and `export BOSUN_TOKEN=…` lines. Its token is
//! reused while the store still accepts it, and replaced by a new one otherwise.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bosun_store::Store;

use super::token::new_token;
use super::{CliError, write_owner_only};

pub fn env_path(data_dir: &Path) -> PathBuf {
    data_dir.join("env")
}

/// The token an env file holds, if it has one.
fn token_in(text: &str) -> Option<&str> {
    text.lines().find_map(|line| line.trim().strip_prefix("export BOSUN_TOKEN=")).map(str::trim).filter(|t| !t.is_empty())
}

/// The token of the env file when the store still accepts it, else a new one.
pub fn dev_token(store: &Store, data_dir: &Path) -> Result<String, CliError> {
    if let Ok(text) = std::fs::read_to_string(env_path(data_dir))
        && let Some(token) = token_in(&text)
        && store.verify_token(token)?.is_some()
    {
        return Ok(token.to_string());
    }
    let token = new_token()?;
    let hash = bosun_store::token_hash(&token);
    // Named after its hash, so each token of `bosun dev` has a name of its own.
    let name = format!("dev-{}", hex::encode(&hash[..6]));
    store.create_token(&name, hash)?;
    tracing::info!(token = %name, "created an admin token for bosun dev");
    Ok(token)
}

/// The export lines for an endpoint and a token.
pub fn export_lines(address: SocketAddr, token: &str) -> String {
    format!("export BOSUN_ENDPOINT=http://{address}\nexport BOSUN_TOKEN={token}\n")
}

/// Writes the env file, readable by its owner only.
pub fn write_env(data_dir: &Path, lines: &str) -> Result<(), CliError> {
    write_owner_only(&env_path(data_dir), lines, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_back_from_the_export_lines() {
        let lines = export_lines("127.0.0.1:8470".parse().unwrap(), "bosun_abc");
        assert_eq!(lines, "export BOSUN_ENDPOINT=http://127.0.0.1:8470\nexport BOSUN_TOKEN=bosun_abc\n");
        assert_eq!(token_in(&lines), Some("bosun_abc"));
        assert_eq!(token_in("export BOSUN_TOKEN=\n"), None);
        assert_eq!(token_in("nothing"), None);
    }

    #[test]
    fn a_token_is_reused_while_valid_and_replaced_when_revoked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), bosun_store::Durability::Normal).unwrap();
        let address: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let first = dev_token(&store, dir.path()).unwrap();
        write_env(dir.path(), &export_lines(address, &first)).unwrap();
        assert_eq!(std::fs::metadata(env_path(dir.path())).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(dev_token(&store, dir.path()).unwrap(), first, "reused");
        let name = store.verify_token(&first).unwrap().unwrap();
        store.revoke_token(&name).unwrap();
        let second = dev_token(&store, dir.path()).unwrap();
        assert_ne!(second, first);
        assert!(store.verify_token(&second).unwrap().is_some());
    }
}
