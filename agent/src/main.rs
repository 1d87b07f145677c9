//! The `bosun-agent` binary: flags, logging, signals and exit codes around
//! [`bosun_agent::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use bosun_agent::{Activation, AgentConfig, AgentError};
use clap::{Parser, ValueEnum};

/// Exit code when the server revoked this node's credential.
const EXIT_DEREGISTERED: u8 = 3;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Bosun's node agent: registers with the control plane, long-polls for Command
/// invocations, runs them and reports. Outbound connections only.
#[derive(Debug, Parser)]
#[command(name = "bosun-agent", version)]
struct Cli {
    /// The control plane's URL, e.g. http://bosun.example:8080.
    #[arg(long, env = "BOSUN_SERVER", value_name = "URL")]
    server: String,
    /// Where the identity, in-flight invocations and scripts are kept (created 0700).
    #[arg(long, env = "BOSUN_AGENT_STATE_DIR", value_name = "DIR")]
    state_dir: PathBuf,
    /// A CA certificate (PEM) to trust for an https:// server, e.g. a self-signed one.
    #[arg(long, env = "BOSUN_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The activation to register with on first start (ignored once registered).
    #[arg(long, env = "BOSUN_ACTIVATION_ID", value_name = "ID", requires = "activation_code")]
    activation_id: Option<String>,
    /// The activation's code.
    #[arg(long, env = "BOSUN_ACTIVATION_CODE", value_name = "CODE", requires = "activation_id", hide_env_values = true)]
    activation_code: Option<String>,
    /// How long each long poll waits for work, 1 to 30 seconds.
    #[arg(long, default_value_t = bosun_agent::config::DEFAULT_POLL_SECONDS, value_parser = clap::value_parser!(u32).range(1..=30))]
    poll_seconds: u32,
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Run with `/bin/sh -c` when a step exits 194 or 3010 (e.g. "systemctl reboot").
    /// Without it the agent logs the request; the step runs again at the next start.
    #[arg(long, value_name = "CMD")]
    reboot_command: Option<String>,
    /// Run N virtual agents in this process (load benchmarks); identities in DIR/sim-<i>/.
    #[arg(long, value_name = "N", default_value_t = 0)]
    simulate: usize,
    /// At most this many step processes at once (default: no bound; 32 with --simulate).
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_processes: usize,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format;
    init_logging(log_format);
    let mut config = AgentConfig::new(cli.server, cli.state_dir);
    config.activation = cli.activation_id.zip(cli.activation_code).map(|(id, code)| Activation { id, code });
    config.poll_seconds = cli.poll_seconds;
    config.reboot_command = cli.reboot_command;
    config.simulate = cli.simulate;
    config.max_processes = cli.max_processes;
    config.ca_cert = cli.ca_cert;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bosun-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bosun_agent::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match log_format {
                LogFormat::Json => tracing::error!("{e}"),
                LogFormat::Text => eprintln!("bosun-agent: {e}"),
            }
            let deregistered = matches!(&e, AgentError::Deregistered { .. })
                || matches!(&e, AgentError::Simulation { first, failed, total } if failed == total && matches!(**first, AgentError::Deregistered { .. }));
            if deregistered { ExitCode::from(EXIT_DEREGISTERED) } else { ExitCode::FAILURE }
        }
    }
}
