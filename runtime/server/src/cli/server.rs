//! `bosun server`: drives the executions of the data directory as `bosun dev` does
//! and serves the HTTP API until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::process::ExitCode;
use std::time::Duration;

use axum::serve::Listener;
use clap::Args;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;

use super::drive::{Driver, shutdown_signal};
use super::{CliError, Context};
use crate::api::ApiSettings;
use crate::tls::TlsListener;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = crate::api::DEFAULT_LIMIT, value_name = "BYTES")]
    pub max_body: usize,
    /// How long a node may stay silent (no heartbeat, no poll) and still be Online; past it, ConnectionLost.
    #[arg(long, default_value_t = crate::api::DEFAULT_HEARTBEAT_GAP.as_secs(), value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub heartbeat_gap: u64,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Where and how to listen.
pub struct Listen {
    pub address: SocketAddr,
    /// HTTPS with these settings; plain HTTP when None.
    pub tls: Option<Arc<ServerConfig>>,
}

pub async fn run(ctx: &Context, args: ServerArgs) -> Result<ExitCode, CliError> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key).map_err(CliError::usage)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let driver = Driver::start(ctx).await?;
    let settings = ApiSettings { body_limit: args.max_body, heartbeat_gap: Duration::from_secs(args.heartbeat_gap) };
    serve(driver, Listen { address: args.listen, tls }, settings, |address| {
        crate::outln!("listening on {scheme}://{address}");
        Ok(())
    })
    .await
}

/// Serves `app` on `listener` until `stopped` resolves.
fn spawn_server<L: Listener>(listener: L, app: axum::Router, stopped: oneshot::Receiver<()>) -> JoinHandle<std::io::Result<()>>
where
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    })
}

/// Serves the HTTP API while `driver` drives executions, until Ctrl-C or SIGTERM.
/// `announce` runs once the listener is bound, with its address.
pub async fn serve(
    driver: Driver,
    listen: Listen,
    settings: ApiSettings,
    announce: impl FnOnce(SocketAddr) -> Result<(), CliError>,
) -> Result<ExitCode, CliError> {
    let run_command = driver.run_command.clone();
    let app = crate::api::router(driver.store.clone(), driver.engine.clone(), run_command.clone(), settings);
    let listener = tokio::net::TcpListener::bind(listen.address).await.map_err(|e| {
        let at = listen.address;
        CliError::failed(format!("cannot listen on {at}: {e}; pick another address with --listen (port 0: any free port)"))
    })?;
    let address = listener.local_addr().map_err(|e| CliError::failed(format!("cannot read the listening address: {e}")))?;
    tracing::info!(%address, "serving the HTTP API");
    announce(address)?;
    let _ = std::io::stdout().flush();

    let (stop_dispatching, dispatching_stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = tokio::spawn(run_command.clone().dispatch_until(async move {
        let _ = dispatching_stopped.await;
    }));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = match listen.tls {
        Some(config) => {
            let tls = TlsListener::new(listener, config).map_err(|e| CliError::failed(format!("cannot listen with TLS: {e}")))?;
            spawn_server(tls, app, stopped)
        }
        None => spawn_server(listener, app, stopped),
    };
    driver.run_until(shutdown_signal()).await;
    run_command.stop_polls();
    let _ = stop_dispatching.send(());
    let _ = dispatcher.await;
    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => return Err(CliError::failed(format!("the HTTP server failed: {e}"))),
        Err(_) => tracing::warn!("requests still open after 5 s; stopping anyway"),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}
