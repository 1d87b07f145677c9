//! `bosun plugin keygen|sign|trust`: signing keys for plugin authors, and the
//! keys an operator trusts; `install` checks signatures against them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bosun_store::Store;
use clap::Subcommand;
use serde_json::json;

use super::plugin::read_component;
use super::{CliError, Context, open_store, write_owner_only};
use crate::outln;
use crate::output::{OutputArg, OutputFormat, print_json};
use crate::signing;

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a public key (its text, or a .pub file) under a name.
    Add { name: String, key: String },
    /// List the trusted keys.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Stop trusting a key.
    Remove { name: String },
}

/// `plugin keygen --out FILE`: FILE gets the secret key (owner-only), FILE.pub the public one.
pub fn keygen(out: &Path) -> Result<ExitCode, CliError> {
    if out.exists() {
        return Err(CliError::usage(format!("{} exists; keys are never overwritten", out.display())));
    }
    let (secret, public) = signing::generate().map_err(CliError::failed)?;
    write_owner_only(out, &format!("{secret}\n"), false)?;
    let public_path = PathBuf::from(format!("{}.pub", out.display()));
    std::fs::write(&public_path, format!("{public}\n"))
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", public_path.display())))?;
    outln!("secret key: {} (keep it private)", out.display());
    outln!("public key: {} = {public}", public_path.display());
    Ok(ExitCode::SUCCESS)
}

fn read_small(path: &Path, what: &str) -> Result<String, CliError> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::usage(format!("cannot read the {what} {}: {e}", path.display())))?;
    if meta.len() > 4096 {
        return Err(CliError::usage(format!("{} is too large to be a {what}", path.display())));
    }
    std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read the {what} {}: {e}", path.display())))
}

/// The default signature file of a component: FILE.sig.
pub fn signature_path(component: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sig", component.display()))
}

/// `plugin sign FILE --key KEY`: writes FILE.sig.
pub fn sign(file: &Path, key: &Path) -> Result<ExitCode, CliError> {
    let bytes = read_component(file)?;
    let secret = read_small(key, "secret key")?;
    let signature = signing::sign(&secret, &bytes).map_err(|e| CliError::usage(format!("{}: {e}", key.display())))?;
    let out = signature_path(file);
    std::fs::write(&out, format!("{signature}\n")).map_err(|e| CliError::failed(format!("cannot write {}: {e}", out.display())))?;
    let public = signing::public_of(&secret).map_err(CliError::usage)?;
    outln!("signed {} -> {} (public key {public})", file.display(), out.display());
    Ok(ExitCode::SUCCESS)
}

/// The name of the trusted key that signed `bytes`, or none when unsigned
/// installs are allowed. With trusted keys, a signature is required unless
/// `allow_unsigned`; a signature given is always checked.
pub fn check_signature(
    store: &Store,
    file: &Path,
    bytes: &[u8],
    signature: Option<&Path>,
    allow_unsigned: bool,
) -> Result<Option<String>, CliError> {
    let default = signature_path(file);
    let path = match signature {
        Some(path) => Some(path.to_path_buf()),
        None => default.exists().then_some(default),
    };
    let trusted: Vec<(String, String)> = store.trusted_keys()?.into_iter().map(|k| (k.name, k.public_key)).collect();
    let Some(path) = path else {
        if trusted.is_empty() || allow_unsigned {
            return Ok(None);
        }
        return Err(CliError::usage(format!(
            "{} is not signed, and signing keys are trusted here: give --signature FILE, or --allow-unsigned",
            file.display()
        )));
    };
    let text = read_small(&path, "signature")?;
    let name = signing::verify(bytes, &text, &trusted).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    Ok(Some(name.to_string()))
}

pub fn trust(ctx: &Context, command: TrustCommand) -> Result<ExitCode, CliError> {
    let store = open_store(&ctx.data_dir, ctx.durability)?;
    match command {
        TrustCommand::Add { name, key } => {
            let text = if Path::new(&key).is_file() { read_small(Path::new(&key), "public key")? } else { key };
            let public = signing::parse_public(&text).map_err(CliError::usage)?;
            store.trust_key(&name, &public).map_err(|e| CliError::usage(e.to_string()))?;
            tracing::info!(key = %name, "signing key trusted");
            outln!("trusting {name} = {public}; from now on plugin install requires a signature from a trusted key");
        }
        TrustCommand::List { output } => {
            let keys = store.trusted_keys()?;
            match output.output {
                OutputFormat::Json => print_json(&json!(keys)),
                OutputFormat::Text => {
                    for key in keys {
                        outln!("{:<20} {}  {}", key.name, key.public_key, key.added_at);
                    }
                }
            }
        }
        TrustCommand::Remove { name } => {
            store.distrust_key(&name).map_err(|e| CliError::usage(e.to_string()))?;
            tracing::info!(key = %name, "signing key no longer trusted");
            outln!("no longer trusting {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_store::Durability;

    fn setup() -> (tempfile::TempDir, Store, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), Durability::Normal).unwrap();
        let component = dir.path().join("p.wasm");
        std::fs::write(&component, b"component bytes").unwrap();
        (dir, store, component)
    }

    #[test]
    fn unsigned_installs_are_allowed_until_a_key_is_trusted() {
        let (_dir, store, component) = setup();
        assert_eq!(check_signature(&store, &component, b"component bytes", None, false), Ok(None));
        let (_, public) = signing::generate().unwrap();
        store.trust_key("release", &public).unwrap();
        let refused = check_signature(&store, &component, b"component bytes", None, false).unwrap_err();
        assert_eq!(refused.code, 2);
        assert!(refused.message.contains("is not signed"), "{}", refused.message);
        assert_eq!(check_signature(&store, &component, b"component bytes", None, true), Ok(None));
    }

    #[test]
    fn a_signature_beside_the_file_is_found_and_checked() {
        let (_dir, store, component) = setup();
        let (secret, public) = signing::generate().unwrap();
        store.trust_key("release", &public).unwrap();
        std::fs::write(signature_path(&component), signing::sign(&secret, b"component bytes").unwrap()).unwrap();
        assert_eq!(check_signature(&store, &component, b"component bytes", None, false), Ok(Some("release".into())));
        let tampered = check_signature(&store, &component, b"component bytez", None, true).unwrap_err();
        assert!(tampered.message.contains("not from a trusted key"), "{}", tampered.message);
        store.distrust_key("release").unwrap();
        let untrusted = check_signature(&store, &component, b"component bytes", None, true).unwrap_err();
        assert!(untrusted.message.contains("no signing key is trusted"), "{}", untrusted.message);
    }

    #[test]
    fn keys_are_never_overwritten_and_secrets_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signing.key");
        keygen(&key).unwrap();
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let public = std::fs::read_to_string(dir.path().join("signing.key.pub")).unwrap();
        assert_eq!(signing::parse_public(&public).unwrap(), public.trim());
        assert_eq!(keygen(&key).unwrap_err().code, 2);
    }

    #[test]
    fn the_same_key_or_name_cannot_be_trusted_twice() {
        let (_dir, store, _) = setup();
        let (_, public) = signing::generate().unwrap();
        store.trust_key("a", &public).unwrap();
        assert!(store.trust_key("b", &public).is_err());
        let (_, other) = signing::generate().unwrap();
        assert!(store.trust_key("a", &other).is_err());
        assert!(store.distrust_key("nobody").is_err());
    }
}
