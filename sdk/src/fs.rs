//! Filesystem errors as plugin errors. A plugin reads files with `std::fs`
//! through the directories the operator granted (WASI preopens). A path under
//! no granted directory fails like a missing file (ENOENT), so the two are told
//! apart here: a path is granted when it or one of its ancestors can be seen.
//! A path that is not becomes [`PluginError::Denied`] naming the grant to give.

use std::path::Path;

use crate::PluginError;

/// True when `path` lies in a directory granted to the plugin (always true in
/// native tests, where every directory can be seen).
pub fn is_granted(path: &str) -> bool {
    Path::new(path).ancestors().any(|dir| std::fs::metadata(dir).is_ok())
}

/// True when `error`, met on `path`, comes from the path being in no granted directory.
pub fn is_not_granted(path: &str, error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::NotFound && !is_granted(path)
}

/// `error` met while doing `what` (e.g. "read") to `path`, as a plugin error:
/// `Denied` with the grant to give when the path is not granted, else `Failed`.
pub fn io_error(what: &str, path: &str, error: &std::io::Error) -> PluginError {
    if is_not_granted(path, error) {
        PluginError::Denied(format!(
            "{what} {path}: the path is in no directory granted to this plugin; grant it with --grant fs:ro:{path}"
        ))
    } else {
        PluginError::Failed(format!("cannot {what} {path}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_every_path_is_granted_and_a_missing_file_is_a_failure() {
        let dir = std::env::temp_dir().join("bosun-sdk-fs-test-missing");
        let path = dir.join("nothing.conf");
        let path = path.to_str().unwrap();
        assert!(is_granted(path));
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(matches!(io_error("read", path, &missing), PluginError::Failed(m) if m.starts_with("cannot read")));
    }
}
