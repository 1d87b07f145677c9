//! An upload into the bucket: the bytes are spooled to an unnamed file in the
//! data directory while they are hashed (memory stays flat whatever the
//! archive's size), and only when they hash to the sha256 claimed are they
//! sent, streamed from that file in one PUT signed with that sha256, so the
//! service checks the bytes too. Until then, the bucket holds nothing of it.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use bosun_store::packages::content::{ContentError, StagedContent};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::blocking;
use super::client::{Payload, S3Client};

pub struct S3Upload {
    client: Arc<S3Client>,
    spool: File,
    expected: String,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

impl S3Upload {
    /// An upload of content that must hash to `sha256`, spooled in `staging`.
    pub fn start(client: Arc<S3Client>, staging: &Path, sha256: &str, limit: u64) -> Result<S3Upload, ContentError> {
        let spool = tempfile::tempfile_in(staging)
            .map_err(|e| ContentError::Io(format!("cannot create a spool file in {}: {e}", staging.display())))?;
        Ok(S3Upload { client, spool, expected: sha256.to_string(), hasher: Sha256::new(), size: 0, limit })
    }
}

impl StagedContent for S3Upload {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ContentError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(ContentError::TooLarge { limit: self.limit });
        }
        self.hasher.update(bytes);
        self.spool.write_all(bytes).map_err(|e| ContentError::Io(format!("cannot spool the upload: {e}")))
    }

    fn commit(mut self: Box<Self>) -> Result<(u64, bool), ContentError> {
        let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if actual != self.expected {
            return Err(ContentError::Mismatch { expected: self.expected.clone(), actual });
        }
        self.spool.seek(SeekFrom::Start(0)).map_err(|e| ContentError::Io(format!("cannot read the spooled upload: {e}")))?;
        let spool = self.spool.try_clone().map_err(|e| ContentError::Io(format!("cannot read the spooled upload: {e}")))?;
        let (client, sha256, size) = (&self.client, self.expected.as_str(), self.size);
        blocking(async move {
            let head = client.send(Method::HEAD, sha256, &[], None).await?;
            let created = match head.status() {
                StatusCode::OK => false,
                StatusCode::NOT_FOUND => true,
                _ => return Err(client.refused(&Method::HEAD, sha256, head).await),
            };
            // Stored again even when present: an object changed in the bucket is repaired by uploading it anew.
            let body = reqwest::Body::from(tokio::fs::File::from_std(spool));
            let payload = Payload { sha256: sha256.to_string(), length: size, body };
            let put = client.send(Method::PUT, sha256, &[], Some(payload)).await?;
            if !put.status().is_success() {
                return Err(client.refused(&Method::PUT, sha256, put).await);
            }
            Ok((size, created))
        })
    }
}
