//! `bosun server`: drives the executions of the data directory as `bosun dev` does
//! and serves the HTTP API until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use clap::Args;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;

use super::drive::{Driver, shutdown_signal};
use super::{CliError, Context, write_owner_only};
use crate::api::ApiSettings;
use crate::run_command::notify::{self, Webhook};
use crate::tls::TlsListener;
use crate::webhook_sign::Secret;

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
    #[command(flatten)]
    pub webhook: WebhookArgs,
}

/// The file in the data directory that holds the generated secret of --command-webhook.
pub const WEBHOOK_SECRET_FILE: &str = "command-webhook.secret";

/// Completion notifications of Run Command.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// When a command ends, POST a signed `bosun.command.completed` notification
    /// (Standard Webhooks) to this http:// or https:// URL.
    #[arg(long, value_name = "URL", value_parser = notify::parse_url)]
    pub command_webhook: Option<reqwest::Url>,
    /// The signing secret of --command-webhook (a file holding `whsec_<base64>`).
    /// Without it, a secret is generated once into <data-dir>/command-webhook.secret.
    #[arg(long, value_name = "FILE", requires = "command_webhook")]
    pub command_webhook_secret_file: Option<PathBuf>,
}

impl WebhookArgs {
    /// The webhook, with its secret read (or generated), when one is configured.
    pub fn webhook(&self, data_dir: &Path) -> Result<Option<Webhook>, CliError> {
        let Some(url) = &self.command_webhook else { return Ok(None) };
        let secret = webhook_secret(self.command_webhook_secret_file.as_deref(), data_dir)?;
        let webhook = Webhook::new(url.as_str(), secret).map_err(CliError::usage)?;
        tracing::info!(webhook = %webhook.origin(), "command completion notifications go to the webhook");
        Ok(Some(webhook))
    }
}

/// The secret of `file`, or else of `<data_dir>/command-webhook.secret`, generated there the first time.
fn webhook_secret(file: Option<&Path>, data_dir: &Path) -> Result<Secret, CliError> {
    let parse = |path: &Path, text: &str| Secret::parse(text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())));
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read the command webhook secret {}: {e}", path.display())))?;
        let secret = parse(path, &text)?;
        tracing::info!(path = %path.display(), "signing command notifications with the secret in this file");
        return Ok(secret);
    }
    let path = data_dir.join(WEBHOOK_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = parse(&path, &text)?;
            tracing::info!(path = %path.display(), "signing command notifications with the secret in this file");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = Secret::generate().map_err(|e| CliError::failed(e.to_string()))?;
            std::fs::create_dir_all(data_dir)
                .map_err(|e| CliError::failed(format!("cannot create the data directory {}: {e}", data_dir.display())))?;
            write_owner_only(&path, &format!("{}\n", secret.to_text()), false)?;
            tracing::info!(path = %path.display(), "generated the signing secret of command notifications into this file");
            Ok(secret)
        }
        Err(e) => Err(CliError::failed(format!("cannot read the command webhook secret {}: {e}", path.display()))),
    }
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
    crate::packages::check_configuration(&ctx.data_dir).map_err(CliError::usage)?;
    let driver = Driver::start(ctx).await?;
    let webhook = args.webhook.webhook(&ctx.data_dir)?;
    let settings = ApiSettings { body_limit: args.max_body, heartbeat_gap: Duration::from_secs(args.heartbeat_gap), param_key: None };
    serve(driver, Listen { address: args.listen, tls }, settings, webhook, |address| {
        crate::outln!("listening on {scheme}://{address}");
        Ok(())
    })
    .await
}

/// Serves `app` on `listener` until `stopped` resolves.
fn spawn_server<L: Listener>(listener: L, app: axum::Router, stopped: oneshot::Receiver<()>) -> JoinHandle<()>
where
    L::Addr: Clone + Send + Sync + 'static,
{
    tokio::spawn(crate::http_serve::serve(listener, app, stopped))
}

/// Serves the HTTP API while `driver` drives executions and the notifier tells
/// `webhook` (if any) of ended commands, until Ctrl-C or SIGTERM.
/// `announce` runs once the listener is bound, with its address.
pub async fn serve(
    driver: Driver,
    listen: Listen,
    mut settings: ApiSettings,
    webhook: Option<Webhook>,
    announce: impl FnOnce(SocketAddr) -> Result<(), CliError>,
) -> Result<ExitCode, CliError> {
    settings.param_key = driver.param_key.clone();
    let run_command = driver.run_command.clone();
    run_command.set_heartbeat_gap(settings.heartbeat_gap);
    let services = crate::events::targets::Services {
        store: driver.store.clone(),
        engine: driver.engine.clone(),
        run_command: run_command.clone(),
        http: reqwest::Client::builder()
            .timeout(crate::run_command::notify::ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| CliError::failed(e.to_string()))?,
    };
    let bus_settings = crate::events::bus::BusSettings { heartbeat_gap: settings.heartbeat_gap, ..Default::default() };
    let bus = crate::events::bus::EventBus::new(services, bus_settings);
    let ended = driver.store.end_open_sessions("the server stopped while the session was open").await?;
    if ended > 0 {
        tracing::info!(sessions = ended, "ended the sessions left open by the last run");
    }
    let app = crate::api::router(driver.store.clone(), driver.engine.clone(), run_command.clone(), bus.clone(), settings);
    let listener = tokio::net::TcpListener::bind(listen.address).await.map_err(|e| {
        let at = listen.address;
        CliError::failed(format!("cannot listen on {at}: {e}; pick another address with --listen (port 0: any free port)"))
    })?;
    let shutdown = shutdown_signal();
    let address = listener.local_addr().map_err(|e| CliError::failed(format!("cannot read the listening address: {e}")))?;
    tracing::info!(%address, "serving the HTTP API");
    announce(address)?;
    let _ = std::io::stdout().flush();

    let mut loops = Loops::default();
    loops.spawn(|stop| run_command.clone().dispatch_until(stop));
    loops.spawn(|stop| run_command.clone().notify_until(webhook, stop));
    loops.spawn(|stop| bus.run_until(stop));
    loops.spawn(|stop| crate::params::policy_loop::run_until(driver.store.clone(), stop));
    let clock: Arc<dyn crate::associations::Clock> = Arc::new(crate::associations::SystemClock);
    let associations = crate::associations::Associations::new(driver.store.clone(), run_command.clone(), clock.clone());
    loops.spawn(|stop| associations.run_until(stop));
    let windows = crate::windows::MaintenanceWindows::new(driver.store.clone(), run_command.clone(), driver.engine.clone(), clock);
    loops.spawn(|stop| windows.run_until(stop));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = match listen.tls {
        Some(config) => {
            let tls = TlsListener::new(listener, config).map_err(|e| CliError::failed(format!("cannot listen with TLS: {e}")))?;
            spawn_server(tls, app, stopped)
        }
        None => spawn_server(listener, app, stopped),
    };
    driver.run_until(shutdown).await;
    run_command.stop_polls();
    loops.stop().await;
    let _ = stop.send(());
    if tokio::time::timeout(Duration::from_secs(5), server).await.is_err() {
        tracing::warn!("requests still open after 5 s; stopping anyway");
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's background loops, each running until they are stopped together.
#[derive(Default)]
struct Loops {
    stop: Option<tokio::sync::watch::Sender<bool>>,
    running: Vec<tokio::task::JoinHandle<()>>,
}

/// Resolves when the loops are stopped.
type StopSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Loops {
    /// Spawns the loop `start` makes from the stop signal it is given.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&mut self, start: impl FnOnce(StopSignal) -> F) {
        let mut signal = self.stop.get_or_insert_with(|| tokio::sync::watch::channel(false).0).subscribe();
        let stopped: StopSignal = Box::pin(async move {
            let _ = signal.wait_for(|stopped| *stopped).await;
        });
        self.running.push(tokio::spawn(start(stopped)));
    }

    /// Signals every loop to stop and waits for each to end.
    async fn stop(self) {
        if let Some(stop) = self.stop {
            stop.send_replace(true);
        }
        for task in self.running {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_secret_is_generated_once_owner_only_or_read_from_a_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let generated = webhook_secret(None, &data).unwrap();
        let path = data.join(WEBHOOK_SECRET_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), generated.to_text());
        assert_eq!(webhook_secret(None, &data).unwrap(), generated, "the same secret at the next start");

        let file = dir.path().join("given.secret");
        std::fs::write(&file, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap();
        assert_eq!(webhook_secret(Some(&file), &data).unwrap().to_text(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        std::fs::write(&file, "not a secret").unwrap();
        let refused = webhook_secret(Some(&file), &data).unwrap_err();
        assert!(refused.message.contains("whsec_"), "{}", refused.message);
        let missing = webhook_secret(Some(&dir.path().join("missing")), &data).unwrap_err();
        assert!(missing.message.contains("cannot read the command webhook secret"), "{}", missing.message);
    }

    #[test]
    fn the_webhook_flag_takes_only_http_urls() {
        use clap::Parser as _;
        let parse = |args: &[&str]| crate::cli::Cli::try_parse_from([&["bosun", "server"], args].concat());
        assert!(parse(&["--command-webhook", "https://hooks.example.com/x"]).is_ok());
        let refused = parse(&["--command-webhook", "ftp://hooks.example.com/x"]).unwrap_err().to_string();
        assert!(refused.contains("must be an http:// or https:// URL"), "{refused}");
        let refused = parse(&["--command-webhook-secret-file", "s"]).unwrap_err().to_string();
        assert!(refused.contains("--command-webhook"), "{refused}");
    }
}
