//! The content store in an S3-compatible bucket: archives are objects
//! `<prefix>/<sha256>`, written by a PUT of bytes already checked against the
//! sha256 (`upload.rs`), read by ranged GETs (`reader.rs`), removed by DELETE.
//! Requests are signed with the credentials the cloud configuration names
//! (`client.rs`). Nodes never talk to the bucket: they download through the
//! control plane as from the local store.
//!
//! [`ContentStore`] is synchronous (the server calls it inside
//! `block_in_place` or on blocking threads); the requests run on the server's
//! runtime through [`blocking`].

mod client;
mod reader;
mod upload;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bosun_plugin_host::CloudAccess;
use bosun_store::packages::content::{ContentError, ContentStore, StagedContent, StoredContent, checked};
use reqwest::{Method, StatusCode};

use client::S3Client;
use reader::S3Reader;
use upload::S3Upload;

/// Archives in a bucket.
pub struct S3Content {
    client: Arc<S3Client>,
    /// Where uploads are spooled before they are sent.
    staging: PathBuf,
}

/// Where a bucket is and how to reach it, resolved from the configurations.
pub struct S3Target {
    pub bucket: String,
    /// Without a trailing `/`; empty for the bucket's root.
    pub prefix: String,
    pub region: String,
    pub endpoint: String,
    pub path_style: bool,
}

impl S3Content {
    /// A store in `target`, signing with `cloud`'s credentials and spooling uploads in `staging` (created owner-only).
    pub fn new(cloud: Arc<dyn CloudAccess>, target: &S3Target, staging: &Path) -> Result<S3Content, String> {
        let client = S3Client::new(cloud, target)?;
        std::fs::create_dir_all(staging).map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(staging, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot protect {}: {e}", staging.display()))?;
        }
        Ok(S3Content { client: Arc::new(client), staging: staging.to_path_buf() })
    }
}

/// Runs a request to its end on the server's runtime, from a thread that may block.
fn blocking<T>(future: impl Future<Output = Result<T, ContentError>>) -> Result<T, ContentError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| ContentError::Io("the S3 content store is used outside the server's runtime".into()))?;
    runtime.block_on(future)
}

impl ContentStore for S3Content {
    fn stage(&self, sha256: &str, limit: u64) -> Result<Box<dyn StagedContent>, ContentError> {
        Ok(Box::new(S3Upload::start(self.client.clone(), &self.staging, checked(sha256)?, limit)?))
    }

    fn open(&self, sha256: &str) -> Result<Option<StoredContent>, ContentError> {
        let sha256 = checked(sha256)?;
        let client = &self.client;
        let head = blocking(async {
            let response = client.send(Method::HEAD, sha256, &[], None).await?;
            match response.status() {
                StatusCode::NOT_FOUND => Ok(None),
                status if status.is_success() => Ok(Some(response)),
                _ => Err(client.refused(&Method::HEAD, sha256, response).await),
            }
        })?;
        let Some(head) = head else { return Ok(None) };
        let size = head.headers().get(reqwest::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let size = size.ok_or_else(|| client.failed(&Method::HEAD, sha256, "the answer gives no Content-Length"))?;
        let etag = head.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(String::from);
        Ok(Some((Box::new(S3Reader::new(client.clone(), sha256, etag, size)), size)))
    }

    fn remove(&self, sha256: &str) -> Result<(), ContentError> {
        let sha256 = checked(sha256)?;
        let client = &self.client;
        blocking(async {
            let response = client.send(Method::DELETE, sha256, &[], None).await?;
            match response.status() {
                status if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
                _ => Err(client.refused(&Method::DELETE, sha256, response).await),
            }
        })
    }

    fn location(&self) -> String {
        self.client.location()
    }
}
