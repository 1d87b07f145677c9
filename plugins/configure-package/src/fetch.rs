//! What the plugin reads from the control plane, through relative URLs that
//! the host sends with the node's credential: a version's manifest with the
//! node's platform, and an archive, fetched in ranged pieces into the download
//! directory and hashed on the way, so memory stays at one piece and an archive
//! whose sha256 is not the manifest's is deleted before anything uses it.

use std::io::Write;
use std::path::PathBuf;

use bosun_plugin_sdk::{Host, HttpRequest, PluginError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Layout;

use bosun_package::DOWNLOAD_PIECE_BYTES as PIECE;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub platform: String,
    pub version: String,
    pub architecture: String,
}

/// `GET /v1/agent/packages/{name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub version: String,
    pub manifest: serde_json::Value,
    pub node: Node,
}

/// The control plane's answer as an error: its message, or the status.
fn refused(what: &str, status: u16, body: &[u8]) -> PluginError {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    PluginError::failed(format!("{what}: the control plane answered {status}: {message}"))
}

/// A version of a package (the latest when none is named) and the node's platform.
pub fn package(host: &Host, name: &str, version: Option<&str>) -> Result<Package, PluginError> {
    let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
    let response = host.http(&HttpRequest::get(format!("/v1/agent/packages/{name}{query}")))?;
    if !response.is_success() {
        return Err(refused(&format!("package {name} {}", version.unwrap_or("(latest)")), response.status, &response.body));
    }
    response.json()
}

/// The total size in a `Content-Range: bytes START-END/SIZE` header.
fn total_size(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/').and_then(|(_, size)| size.trim().parse().ok())
}

/// Downloads an archive of `version` into the download directory and returns its
/// path once its sha256 is `sha256`; otherwise deletes it and refuses.
pub fn archive(host: &Host, layout: &Layout, version: &str, file: &str, sha256: &str) -> Result<PathBuf, PluginError> {
    let path = layout.downloads().join(format!("{sha256}.zip"));
    let shown = path.display().to_string();
    let mut out = std::fs::File::create(&path).map_err(|e| bosun_plugin_sdk::fs::io_error("create", &shown, &e))?;
    let url = format!("/v1/agent/packages/{}/versions/{version}/files/{file}", layout.name);
    let mut hasher = Sha256::new();
    let mut offset: u64 = 0;
    let mut size: Option<u64> = None;
    while size.is_none_or(|s| offset < s) {
        let range = format!("bytes={offset}-{}", offset + PIECE - 1);
        let response = host.http(&HttpRequest::get(&url).header("Range", range))?;
        let piece_size = match response.status {
            206 => response.header("content-range").and_then(total_size),
            200 => Some(response.body.len() as u64),
            status => {
                drop(out);
                let _ = std::fs::remove_file(&path);
                return Err(refused(&format!("archive {file} of {} {version}", layout.name), status, &response.body));
            }
        };
        let total = piece_size.ok_or_else(|| PluginError::failed("the control plane sent a piece without its total size"))?;
        if size.is_some_and(|s| s != total) || response.body.is_empty() {
            return Err(PluginError::failed(format!("archive {file}: the control plane's answers disagree on its size")));
        }
        size = Some(total);
        hasher.update(&response.body);
        out.write_all(&response.body).map_err(|e| PluginError::failed(format!("cannot write {shown}: {e}")))?;
        offset += response.body.len() as u64;
        if response.status == 200 {
            break;
        }
    }
    drop(out);
    let actual = hex::encode(hasher.finalize());
    if actual != sha256 {
        let _ = std::fs::remove_file(&path);
        return Err(PluginError::failed(format!(
            "archive {file} of {} {version} has sha256 {actual}, the manifest says {sha256}: refused, nothing was installed",
            layout.name
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_give_the_total() {
        assert_eq!(total_size("bytes 0-9/100"), Some(100));
        assert_eq!(total_size("bytes 0-9/*"), None);
        assert_eq!(total_size("nonsense"), None);
    }
}
