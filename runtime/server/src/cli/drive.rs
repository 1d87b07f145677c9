//! Driving the executions of a data directory, shared by `bosun dev` and `bosun
//! server`: take the engine lock, load the built-ins, resume unfinished executions,
//! and keep picking up those other processes create until shutdown.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bosun_engine::{Engine, ExecutionStore};
use bosun_store::Store;
use tokio::sync::broadcast;

use super::{CliError, Context, EngineLock, LockHolder, engine, open_store_with_builtins, take_engine_lock};
use crate::run_command::RunCommand;

/// How often the data directory is checked for executions to drive.
const POLL: Duration = Duration::from_millis(250);

/// The one driver of a data directory's executions.
pub struct Driver {
    _lock: EngineLock,
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub run_command: Arc<RunCommand>,
    /// The Parameter Store's master key, when one is configured.
    pub param_key: Option<Arc<bosun_store::MasterKey>>,
    driving: HashSet<String>,
}

impl Driver {
    /// Takes the lock, opens the store with the built-ins and resumes unfinished executions.
    pub async fn start(ctx: &Context) -> Result<Self, CliError> {
        let lock = take_engine_lock(&ctx.data_dir, LockHolder::Dev)?;
        let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
        let run_command = RunCommand::new(store.clone());
        let engine = engine(&store, &ctx.data_dir, Some(run_command.clone()))?;
        tracing::info!(path = %store.path().display(), durability = ?ctx.durability, "store open");
        log_endings(&engine);
        let param_key = crate::params::key::configured(&ctx.data_dir)?;
        let mut driver = Self { _lock: lock, store, engine, run_command, param_key, driving: HashSet::new() };
        driver.pick_up(true).await?;
        Ok(driver)
    }

    /// Picks up new executions every [`POLL`] until `shutdown` resolves.
    pub async fn run_until(mut self, shutdown: impl Future<Output = &'static str>) {
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
                    if let Err(error) = self.pick_up(false).await {
                        tracing::warn!(error = %error.message, "cannot look for executions to drive");
                    }
                }
            }
        }
    }

    /// Drives every unfinished execution; logs the ones seen for the first time.
    async fn pick_up(&mut self, first: bool) -> Result<(), CliError> {
        let unfinished = ExecutionStore::unfinished(self.store.as_ref()).await?;
        for id in &unfinished {
            if !self.driving.contains(id) {
                if first {
                    tracing::info!(execution = %id, "resuming execution");
                } else {
                    tracing::info!(execution = %id, "driving new execution");
                }
            }
        }
        self.driving = unfinished.into_iter().collect();
        self.engine.resume_all().await?;
        Ok(())
    }
}

/// Logs the end of every execution.
fn log_endings(engine: &Engine) {
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
}

/// Resolves on Ctrl-C or SIGTERM with the signal's name. The handlers are installed
/// when this is called, not when the future is first polled, so a signal that arrives
/// while the server is still starting its loops stops it cleanly instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = signal(SignalKind::interrupt()).and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
        async move {
            match handlers {
                Ok((mut int, mut term)) => tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                },
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
