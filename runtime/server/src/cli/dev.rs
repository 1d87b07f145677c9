//! `bosun dev`: Bosun on one machine. Takes the engine lock of the data
//! directory, loads the built-in documents, resumes unfinished executions and
//! keeps picking up executions that other processes create, until Ctrl-C or SIGTERM.

use std::collections::HashSet;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use bosun_engine::ExecutionStore;
use clap::Args;
use tokio::sync::broadcast;

use super::{CliError, Context, LockHolder, engine, open_store_with_builtins, take_engine_lock};

/// How often the data directory is checked for executions to drive.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Args)]
pub struct DevArgs {}

pub async fn run(ctx: &Context, _args: DevArgs) -> Result<ExitCode, CliError> {
    let _lock = take_engine_lock(&ctx.data_dir, LockHolder::Dev)?;
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    let engine = engine(&store, &ctx.data_dir)?;
    tracing::info!(path = %store.path().display(), durability = ?ctx.durability, "store open");

    let mut events = engine.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) if event.step.is_none() => match &event.message {
                    Some(message) => {
                        tracing::info!(execution = %event.execution_id, status = %event.status, %message, "execution ended")
                    }
                    None => {
                        tracing::info!(execution = %event.execution_id, status = %event.status, "execution ended")
                    }
                },
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    let mut driving: HashSet<String> = HashSet::new();
    pick_up(&engine, store.as_ref(), &mut driving, true).await?;

    let dir = ctx.data_dir.display();
    crate::outln!("Bosun is running on data directory {dir}");
    crate::outln!("Start an execution from another terminal:");
    crate::outln!("  bosun automation start --data-dir {dir} --document Bosun-HelloWorld -p Name=operator");
    crate::outln!("  bosun automation list --data-dir {dir}");
    crate::outln!("Press Ctrl-C to stop.");
    let _ = std::io::stdout().flush();

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            signal = &mut shutdown => {
                tracing::info!(signal = signal, "stopping; unfinished executions resume at the next start");
                break;
            }
            _ = tick.tick() => {
                if let Err(error) = pick_up(&engine, store.as_ref(), &mut driving, false).await {
                    tracing::warn!(error = %error.message, "cannot look for executions to drive");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Drives every unfinished execution; logs the ones seen for the first time.
async fn pick_up(
    engine: &std::sync::Arc<bosun_engine::Engine>,
    store: &dyn ExecutionStore,
    driving: &mut HashSet<String>,
    first: bool,
) -> Result<(), CliError> {
    let unfinished = store.unfinished().await?;
    for id in &unfinished {
        if !driving.contains(id) {
            if first {
                tracing::info!(execution = %id, "resuming execution");
            } else {
                tracing::info!(execution = %id, "driving new execution");
            }
        }
    }
    *driving = unfinished.into_iter().collect();
    engine.resume_all().await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM with the signal's name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
