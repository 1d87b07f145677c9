//! Paged exports streamed as JSON Lines. The caller reads the first page itself, so
//! that a bad request is an error status and not a broken stream; the other pages
//! are read on a blocking thread as the client takes them.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use super::error::ApiError;

/// Streams `first`, then the pages `page(cursor)` returns while it gives a next cursor.
/// `what` names the export in the log line of a read that fails mid-stream.
pub(super) fn stream<Row, Cursor, Failure>(
    what: &'static str,
    first: Vec<Row>,
    mut next: Option<Cursor>,
    mut page: impl FnMut(Cursor) -> Result<(Vec<Row>, Option<Cursor>), Failure> + Send + 'static,
) -> Result<Response, ApiError>
where
    Row: Serialize + Send + 'static,
    Cursor: Send + 'static,
    Failure: std::fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        let lines = |rows: Vec<Row>| {
            let mut out = Vec::new();
            for row in rows {
                serde_json::to_writer(&mut out, &row).expect("a row serialises");
                out.push(b'\n');
            }
            out
        };
        if tx.blocking_send(Ok(lines(first))).is_err() {
            return;
        }
        while let Some(cursor) = next.take() {
            match page(cursor) {
                Ok((rows, after)) => {
                    next = after;
                    if tx.blocking_send(Ok(lines(rows))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "{what} export stopped");
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}
