//! Reading an object of the bucket as a seekable file: pieces of it are
//! fetched on demand with ranged GETs pinned to the object's ETag (an object
//! replaced while it is read fails the read rather than mixing two contents),
//! so a large archive is never held whole.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use reqwest::{Method, StatusCode};

use super::blocking;
use super::client::S3Client;

/// The smallest piece fetched: small reads (a zip's directory) share one request.
const MIN_FETCH: usize = 1 << 20;
/// The largest piece fetched at once.
const MAX_FETCH: usize = 8 << 20;

pub struct S3Reader {
    client: Arc<S3Client>,
    sha256: String,
    etag: Option<String>,
    size: u64,
    position: u64,
    /// Bytes fetched, starting at `piece_start`.
    piece: Vec<u8>,
    piece_start: u64,
}

impl S3Reader {
    pub fn new(client: Arc<S3Client>, sha256: &str, etag: Option<String>, size: u64) -> S3Reader {
        S3Reader { client, sha256: sha256.to_string(), etag, size, position: 0, piece: Vec::new(), piece_start: 0 }
    }

    /// Fetches `[start, start + length)`.
    fn fetch(&self, start: u64, length: usize) -> std::io::Result<Vec<u8>> {
        let last = start + length as u64 - 1;
        let mut headers = vec![("range".to_string(), format!("bytes={start}-{last}"))];
        if let Some(etag) = &self.etag {
            headers.push(("if-match".to_string(), etag.clone()));
        }
        let client = &self.client;
        let bytes = blocking(async {
            let response = client.send(Method::GET, &self.sha256, &headers, None).await?;
            if !matches!(response.status(), StatusCode::PARTIAL_CONTENT | StatusCode::OK) {
                return Err(client.refused(&Method::GET, &self.sha256, response).await);
            }
            let whole = response.status() == StatusCode::OK;
            let bytes = response.bytes().await.map_err(|e| client.failed(&Method::GET, &self.sha256, &e.without_url().to_string()))?;
            // A service that ignores Range answers the whole object: keep the piece asked for.
            Ok(if whole { bytes.slice((start as usize).min(bytes.len())..(last as usize + 1).min(bytes.len())) } else { bytes })
        })
        .map_err(std::io::Error::other)?;
        if bytes.len() != length {
            let message = format!("{}/{}: asked for {length} bytes at {start}, got {}", client.location(), self.sha256, bytes.len());
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, message));
        }
        Ok(bytes.to_vec())
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.position >= self.size {
            return Ok(0);
        }
        let piece_end = self.piece_start + self.piece.len() as u64;
        if self.position < self.piece_start || self.position >= piece_end {
            let left = (self.size - self.position).min(MAX_FETCH as u64) as usize;
            let length = buf.len().clamp(MIN_FETCH, MAX_FETCH).min(left);
            self.piece = self.fetch(self.position, length)?;
            self.piece_start = self.position;
        }
        let offset = (self.position - self.piece_start) as usize;
        let n = buf.len().min(self.piece.len() - offset);
        buf[..n].copy_from_slice(&self.piece[offset..offset + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for S3Reader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position =
            target.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a seek before the start of the archive"))?;
        Ok(self.position)
    }
}
