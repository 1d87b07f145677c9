//! Serving the API's router over HTTP/1.1 with hyper directly: one task per
//! connection (upgrades allowed, for the session WebSockets), and a graceful stop
//! that lets open requests finish; the heap is trimmed after connections close
//! (`heap_trim.rs`). `axum::serve`
//! speaks HTTP/2 as well and holds each connection in the larger state of both;
//! with thousands of agents each keeping a long poll open, the per-connection
//! cost is what decides the server's memory.

use std::pin::pin;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{mpsc, oneshot, watch};
use tower::ServiceExt as _;

use crate::heap_trim::HeapTrimmer;

/// The most a connection buffers: hyper's smallest setting. Requests are small JSON;
/// bodies stream past it.
const MAX_BUFFER: usize = 8192;

/// Serves `app` on `listener` until `stop` fires, then waits for open connections to finish.
/// Each request carries its client's address as `ConnectInfo<L::Addr>` (for the audit trail).
pub async fn serve<L: Listener>(mut listener: L, app: Router, stop: oneshot::Receiver<()>)
where
    L::Addr: Clone + Send + Sync + 'static,
{
    // Every connection's task holds a sender: when the last is dropped, all are done.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let (stopping, stopping_seen) = watch::channel(false);
    let trimmer = HeapTrimmer::new();
    let trimming = {
        let mut stopping = stopping_seen.clone();
        tokio::spawn(trimmer.clone().run_until(async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }))
    };
    let mut stop = pin!(stop);
    loop {
        tokio::select! {
            (io, address) = listener.accept() => {
                let app = app.clone().map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(address.clone()));
                    request
                });
                let connection = http1::Builder::new()
                    .max_buf_size(MAX_BUFFER)
                    .writev(true)
                    .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
                    .with_upgrades();
                let (alive, mut stopping, trimmer) = (alive.clone(), stopping_seen.clone(), trimmer.clone());
                tokio::spawn(async move {
                    let _alive = alive;
                    let mut connection = pin!(connection);
                    let finished = tokio::select! {
                        result = connection.as_mut() => Some(result),
                        _ = stopping.wait_for(|stopping| *stopping) => None,
                    };
                    let result = match finished {
                        Some(result) => result,
                        None => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    trimmer.connection_closed();
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    stopping.send_replace(true);
    drop(alive);
    let _ = all_done.recv().await;
    let _ = trimming.await;
}
