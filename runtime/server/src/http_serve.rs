//! Serving the API's router over HTTP/1.1 with hyper directly: one task per
//! connection, and a graceful stop that lets open requests finish. `axum::serve`
//! speaks HTTP/2 as well and holds each connection in the larger state of both;
//! with thousands of agents each keeping a long poll open, the per-connection
//! cost is what decides the server's memory.

use std::pin::pin;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

/// The most a connection buffers: hyper's smallest setting. Requests are small JSON;
/// bodies stream past it.
const MAX_BUFFER: usize = 8192;

/// Serves `app` on `listener` until `stop` fires, then waits for open connections to finish.
/// Each request carries its client's address as `ConnectInfo<L::Addr>` (for the audit trail).
pub async fn serve<L: Listener>(mut listener: L, app: Router, stop: oneshot::Receiver<()>)
where
    L::Addr: Clone + Send + Sync + 'static,
{
    let graceful = GracefulShutdown::new();
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
                    .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
