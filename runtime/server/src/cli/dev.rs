//! `bosun dev`: Bosun on one machine. Takes the engine lock of the data
//! directory, loads the built-ins, resumes unfinished executions, keeps picking
//! up executions that other processes create, and serves the HTTP API with an
//! admin token written to `<data-dir>/env`, with a local agent as a node (see
//! `dev_agent.rs`), until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use clap::Args;

use super::dev_env::{dev_token, env_path, export_lines, write_env};
use super::drive::Driver;
use super::server::{Listen, WebhookArgs, serve};
use super::{CliError, Context, dev_agent};

#[derive(Debug, Args)]
pub struct DevArgs {
    /// The address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub webhook: WebhookArgs,
}

pub async fn run(ctx: &Context, args: DevArgs) -> Result<ExitCode, CliError> {
    crate::params::key::configured_or_generated(&ctx.data_dir)?;
    crate::packages::check_configuration(&ctx.data_dir).map_err(CliError::usage)?;
    let driver = Driver::start(ctx).await?;
    let token = dev_token(&driver.store, &ctx.data_dir)?;
    let webhook = args.webhook.webhook(&ctx.data_dir)?;
    let data_dir = ctx.data_dir.clone();
    let store = driver.store.clone();
    let agent: Arc<Mutex<Option<LocalAgent>>> = Arc::default();
    let started = agent.clone();
    let code = serve(driver, Listen { address: args.listen, tls: None }, crate::api::ApiSettings::default(), webhook, move |address| {
        let config = dev_agent::config(&store, &data_dir, &format!("http://{address}"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bosun_agent::run(config, async move {
            let _ = stopped.await;
        }));
        *started.lock().unwrap_or_else(|e| e.into_inner()) = Some(LocalAgent { task, stop });
        let lines = export_lines(address, &token);
        write_env(&data_dir, &lines)?;
        let dir = data_dir.display();
        crate::outln!("Bosun is running on data directory {dir}, with its HTTP API on http://{address}");
        crate::outln!(
            "A local agent runs as a node tagged {}={} (state in {}).",
            dev_agent::LOCAL_TAG.0,
            dev_agent::LOCAL_TAG.1,
            dev_agent::state_dir(&data_dir).display()
        );
        crate::outln!("For the API (also in {}):", env_path(&data_dir).display());
        for line in lines.lines() {
            crate::outln!("  {line}");
        }
        crate::outln!("Start an execution from another terminal:");
        crate::outln!("  bosun automation start --data-dir {dir} --document Bosun-HelloWorld -p Name=operator");
        crate::outln!("  bosun automation list --data-dir {dir}");
        crate::outln!("Run a command on the local node (after the export lines above):");
        crate::outln!("  bosun command send --document AWS-RunShellScript --targets tag:Name=local -p commands=uptime --wait");
        crate::outln!("Press Ctrl-C to stop.");
        Ok(())
    })
    .await;
    let local = agent.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(local) = local {
        local.stop_and_wait().await;
    }
    code
}

/// The local agent's task and the way to stop it.
struct LocalAgent {
    task: JoinHandle<Result<(), bosun_agent::AgentError>>,
    stop: oneshot::Sender<()>,
}

impl LocalAgent {
    /// Stops the agent; its in-flight state stays on disk for the next start.
    async fn stop_and_wait(self) {
        let _ = self.stop.send(());
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Err(error))) => tracing::warn!(%error, "the local agent stopped with an error"),
            Err(_) => tracing::warn!("the local agent did not stop within 5 s"),
            _ => {}
        }
    }
}
