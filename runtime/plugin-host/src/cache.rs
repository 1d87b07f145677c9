//! The on-disk cache of precompiled components, keyed by the component's
//! sha256 under a directory named for the wasmtime version, the target and the
//! engine's compatibility hash, so an engine only ever loads artifacts built
//! for it. Artifacts are written whole (temporary file, then rename).

#[cfg(feature = "compile")]
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
#[cfg(feature = "compile")]
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::HostError;

pub struct ArtifactCache {
    path: PathBuf,
    dir: Dir,
}

fn cache_error(path: &Path, error: impl std::fmt::Display) -> HostError {
    HostError::Cache { path: path.display().to_string(), message: error.to_string() }
}

/// Names the engine's artifact format: wasmtime version, target, and settings.
#[cfg(feature = "compile")]
pub fn engine_key(engine: &Engine) -> String {
    let mut hasher = DigestHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = hex::encode(hasher.0.finalize());
    format!("wasmtime-48.0.8-{}-{}", std::env::consts::ARCH, &digest[..16])
}

/// Without a compiler the settings hash is not available: artifacts are keyed
/// by version and target, and wasmtime refuses one built under other settings
/// when it is loaded (the cache then discards it).
#[cfg(not(feature = "compile"))]
pub fn engine_key(_engine: &Engine) -> String {
    runtime_engine_key()
}

/// The key a runtime-only host (the node agent) gives its artifacts: wasmtime
/// version and target. The control plane compares an agent's key with it before
/// it ships an artifact compiled for the node's engine settings.
pub fn runtime_engine_key() -> String {
    format!("wasmtime-48.0.8-{}-runtime", std::env::consts::ARCH)
}

/// Feeds `Hash` output into sha256, which is stable across builds and platforms.
#[cfg(feature = "compile")]
struct DigestHasher(Sha256);

#[cfg(feature = "compile")]
impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("a sha256 digest has 32 bytes"))
    }
}

impl ArtifactCache {
    /// Opens (creating, owner-only) the cache directory for this engine under `root`.
    pub fn open(root: &Path, engine: &Engine) -> Result<ArtifactCache, HostError> {
        let path = root.join(engine_key(engine));
        std::fs::create_dir_all(&path).map_err(|e| cache_error(&path, e))?;
        restrict(root).and_then(|()| restrict(&path)).map_err(|e| cache_error(&path, e))?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority()).map_err(|e| cache_error(&path, e))?;
        Ok(ArtifactCache { path, dir })
    }

    /// True when an artifact for `sha256` is stored.
    pub fn contains(&self, sha256: &str) -> bool {
        is_sha256(sha256) && self.dir.exists(Self::file_name(sha256))
    }

    fn file_name(sha256: &str) -> String {
        debug_assert!(sha256.len() == 64 && sha256.chars().all(|c| c.is_ascii_hexdigit()));
        format!("{sha256}.cwasm")
    }

    /// Loads the artifact for `sha256` if present.
    pub fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let name = Self::file_name(sha256);
        if !self.dir.exists(&name) {
            return None;
        }
        // SAFETY: the directory is owner-only and written by `store` alone, with
        // artifacts this engine compiled, named by the hash of their source.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, self.path.join(&name)) };
        match loaded {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(artifact = %name, "discarding an unloadable precompiled artifact: {error:#}");
                let _ = self.dir.remove_file(&name);
                None
            }
        }
    }

    /// Stores a precompiled artifact (compiled here, or by the control plane and checked by hash).
    pub fn store(&self, sha256: &str, artifact: &[u8]) -> Result<(), crate::error::LoadError> {
        let name = Self::file_name(sha256);
        let temporary = format!("{name}.{}.tmp", std::process::id());
        self.dir.write(&temporary, artifact).map_err(|e| cache_error(&self.path, e))?;
        self.dir.rename(&temporary, &self.dir, &name).map_err(|e| cache_error(&self.path, e))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// 64 hex digits: the only names artifacts are stored under.
pub(crate) fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
