//! `/v1/agent/packages` (node credential): what `aws:configurePackage` reads on a
//! node: a version's manifest with the node's platform as Distributor names it,
//! and the version's archives, by their name in the manifest (never by a path),
//! whole or by one `Range: bytes=START-END`, so a plugin can fetch a large archive
//! in pieces without holding it in memory.

use std::io::{Read, Seek, SeekFrom};

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bosun_protocol::packages::AgentPackage;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::node_auth::NodeCaller;
use super::packages::VersionQuery;

/// The most bytes one ranged read returns; a larger range is cut to it (the answer says which bytes it holds).
const MAX_RANGE: u64 = 8 << 20;
/// The size of the pieces a whole archive is streamed in.
const PIECE: usize = 256 << 10;

/// A version of a package for the calling node: its manifest and the node's platform.
#[utoipa::path(get, path = "/v1/agent/packages/{name}", tag = "agent", security(("node" = [])),
    params(("name" = String, Path, description = "Package name"), VersionQuery), responses(
    (status = 200, description = "The version and the node's platform", body = AgentPackage),
    (status = 404, description = "No such package or version", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn package_for_node(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    Path(name): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<AgentPackage>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.packages.for_node(&node, &name, query.version.as_deref()))?))
}

/// `bytes=START-END` or `bytes=START-`, within `size`: the first and last byte.
fn parse_range(text: &str, size: u64) -> Result<(u64, u64), String> {
    let spec = text.trim().strip_prefix("bytes=").ok_or_else(|| format!("Range {text:?}: only bytes=START-END is served"))?;
    let (start, end) = spec.split_once('-').ok_or_else(|| format!("Range {text:?}: expected bytes=START-END"))?;
    let start: u64 = start.trim().parse().map_err(|_| format!("Range {text:?}: one range with a first byte is served"))?;
    let end: u64 = match end.trim() {
        "" => size.saturating_sub(1),
        end => end.parse().map_err(|_| format!("Range {text:?}: the last byte is not a number"))?,
    };
    if start >= size || end < start {
        return Err(format!("Range {text:?}: outside the archive's {size} bytes"));
    }
    Ok((start, end.min(size - 1).min(start + MAX_RANGE - 1)))
}

/// An archive of a version, by its file name in the manifest.
#[utoipa::path(get, path = "/v1/agent/packages/{name}/versions/{version}/files/{file}", tag = "agent", security(("node" = [])),
    params(
        ("name" = String, Path, description = "Package name"),
        ("version" = String, Path, description = "Version"),
        ("file" = String, Path, description = "The archive's name in the manifest"),
        ("Range" = Option<String>, Header, description = "bytes=START-END: a piece of at most 8 MiB"),
    ),
    responses(
    (status = 200, description = "The whole archive", content_type = "application/zip"),
    (status = 206, description = "The piece asked for (Content-Range says which)", content_type = "application/zip"),
    (status = 404, description = "No such package, version or archive", body = ErrorBody),
    (status = 416, description = "A range outside the archive", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn package_file(
    State(state): State<AppState>,
    Path((name, version, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let archive = tokio::task::block_in_place(|| state.packages.open_file(&name, &version, &file))?;
    let size = archive.size;
    let read_error = |e: std::io::Error| ApiError::internal(format!("cannot read the archive {file} of {name} {version}: {e}"));
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        let (start, end) =
            parse_range(range, size).map_err(|m| ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", m))?;
        let mut reader = archive.reader;
        let piece = tokio::task::block_in_place(|| {
            reader.seek(SeekFrom::Start(start))?;
            let mut piece = vec![0u8; (end - start + 1) as usize];
            reader.read_exact(&mut piece)?;
            Ok::<_, std::io::Error>(piece)
        })
        .map_err(read_error)?;
        let mut response = (StatusCode::PARTIAL_CONTENT, piece).into_response();
        let range = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).map_err(|e| ApiError::internal(e.to_string()))?;
        response.headers_mut().insert(header::CONTENT_RANGE, range);
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
        return Ok(response);
    }
    // Whole, the archive is checked against its sha256 as it streams (a piece cannot be): each piece is
    // sent only once the next one is read, so the last goes out only after the check at the end passed,
    // and an archive changed in the store reaches the node short, as a failed download.
    let pieces = futures_util::stream::unfold(Some((archive.checked(), None::<Vec<u8>>)), |state| async move {
        let (mut reader, mut held) = state?;
        loop {
            match read_piece(reader).await {
                Err(e) => return Some((Err(e), None)),
                Ok((piece, _)) if piece.is_empty() => return held.map(|last| (Ok(last), None)),
                Ok((piece, back)) => {
                    reader = back;
                    if let Some(ready) = held.replace(piece) {
                        return Some((Ok(ready), Some((reader, held))));
                    }
                }
            }
        }
    });
    let mut response = Body::from_stream(pieces).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

/// The next piece of `reader` (empty at its end), read on a blocking thread.
async fn read_piece<R: Read + Send + 'static>(mut reader: R) -> std::io::Result<(Vec<u8>, R)> {
    tokio::task::spawn_blocking(move || {
        let mut piece = vec![0u8; PIECE];
        let n = reader.read(&mut piece)?;
        piece.truncate(n);
        Ok((piece, reader))
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_and_cut() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Ok((90, 99)));
        assert_eq!(parse_range("bytes=90-500", 100), Ok((90, 99)));
        assert_eq!(parse_range("bytes=0-", 1 << 30), Ok((0, MAX_RANGE - 1)));
        for bad in ["bytes=100-", "bytes=5-1", "bytes=-5", "items=0-1", "bytes=0-1,4-5", "bytes=x-1"] {
            assert!(parse_range(bad, 100).is_err(), "{bad}");
        }
    }
}
