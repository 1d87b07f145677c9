//! The node's record of an installed package: `<root>/<name>/installed.json`
//! holds the version, the archive it came from, and every unpacked file with
//! its sha256, so a later run can tell an intact installation (nothing to do)
//! from one whose files were removed or changed by hand (install again).

use std::io::Read;
use std::path::Path;

use bosun_package::UnpackedFile;
use bosun_plugin_sdk::PluginError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Layout;

const RECORD: &str = "installed.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub version: String,
    /// The archive's name in the manifest, and its sha256.
    pub file: String,
    pub sha256: String,
    pub files: Vec<UnpackedFile>,
}

/// The record, if the package is installed. A record that cannot be read is
/// treated as absent (the package is installed again), and said so.
pub fn read(layout: &Layout) -> Result<Option<Record>, PluginError> {
    let path = layout.package_dir().join(RECORD);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok().filter(|r: &Record| r.name == layout.name)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PluginError::failed(format!("cannot read {}: {e}", path.display()))),
    }
}

pub fn write(layout: &Layout, record: &Record) -> Result<(), PluginError> {
    let path = layout.package_dir().join(RECORD);
    let partial = layout.package_dir().join(format!("{RECORD}.partial"));
    let text = serde_json::to_vec_pretty(record).map_err(|e| PluginError::failed(e.to_string()))?;
    std::fs::write(&partial, text).map_err(|e| PluginError::failed(format!("cannot write {}: {e}", partial.display())))?;
    std::fs::rename(&partial, &path).map_err(|e| PluginError::failed(format!("cannot write {}: {e}", path.display())))
}

pub fn remove(layout: &Layout) -> Result<(), PluginError> {
    let path = layout.package_dir().join(RECORD);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PluginError::failed(format!("cannot remove {}: {e}", path.display()))),
        _ => Ok(()),
    }
}

fn sha256_of(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut chunk).ok()?;
        if n == 0 {
            return Some(hex::encode(hasher.finalize()));
        }
        hasher.update(&chunk[..n]);
    }
}

/// The recorded files under `dir` that are missing or no longer have their sha256.
pub fn drift(dir: &Path, record: &Record) -> Vec<String> {
    record.files.iter().filter(|f| sha256_of(&dir.join(&f.path)).as_deref() != Some(f.sha256.as_str())).map(|f| f.path.clone()).collect()
}
