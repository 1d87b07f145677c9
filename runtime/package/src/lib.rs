//! Distributor packages, pure and shared by the control plane, the CLI and the
//! `configure-package` plugin: the manifest in AWS Distributor's format with
//! every check an upload gets (`manifest.rs`), the choice of a node's archive
//! by platform, version and architecture (`platform.rs`), and zip archives read
//! and unpacked without trusting their names or sizes (`archive.rs`).

pub mod archive;
pub mod manifest;
pub mod platform;
#[cfg(test)]
mod properties;

pub use archive::{ArchiveLimits, UnpackedFile};
pub use manifest::{FileEntry, Manifest, ManifestError, Target};
pub use platform::{NodePlatform, Selected};

use sha2::{Digest, Sha256};

/// The bytes a node asks for at a time when it downloads an archive (ranged reads).
pub const DOWNLOAD_PIECE_BYTES: u64 = 4 << 20;

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True when `text` is a lowercase hex SHA-256.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a package name as AWS does (3 to 128 of letters, digits, `_`, `-`, `.`),
/// and that it does not start with a dot, so it is never a path of its own.
pub fn check_package_name(name: &str) -> Result<(), String> {
    check_word(name, "package name", 3)
}

/// Checks a version name: 1 to 128 of letters, digits, `_`, `-`, `.`, starting with a letter or digit.
pub fn check_version_name(version: &str) -> Result<(), String> {
    check_word(version, "version", 1)
}

fn check_word(text: &str, what: &str, min: usize) -> Result<(), String> {
    if text.len() < min || text.len() > 128 {
        return Err(format!("the {what} {:?} must be {min} to 128 characters long", cut(text)));
    }
    if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(format!("the {what} {:?} holds {bad:?}; use letters, digits, '_', '-' and '.'", cut(text)));
    }
    if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("the {what} {:?} must start with a letter or a digit", cut(text)));
    }
    Ok(())
}

/// At most 80 characters of `text`, for error messages about hostile input.
pub(crate) fn cut(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert!(check_package_name("nginx-tools").is_ok());
        assert!(check_package_name("ab").unwrap_err().contains("3 to 128"));
        assert!(check_package_name("../etc").unwrap_err().contains("'/'"));
        assert!(check_package_name(".hidden").unwrap_err().contains("start with"));
        assert!(check_version_name("1.2.3-rc1").is_ok());
        assert!(check_version_name("..").unwrap_err().contains("start with"));
        assert!(check_version_name(&"9".repeat(129)).is_err());
        assert!(check_version_name("1 2").unwrap_err().contains("' '"));
        assert!(is_sha256(&sha256_hex(b"x")));
        assert!(!is_sha256(&sha256_hex(b"x").to_uppercase()));
    }
}
