//! Maintenance Windows' driver: every second (on a [`Clock`]) it opens the windows
//! that are due, then moves each open window on. Tasks run by priority (lower first;
//! tasks of one priority together, the next priority once they have all ended); no
//! task starts at or after the cutoff (it is Skipped); at the close, a task still
//! running is cancelled (its Run Command command, or its Automation execution) and
//! ends TimedOut, and so does the window's execution. A Run Command task's command has
//! the task execution's id, so a task is sent once even when the server dies mid-send;
//! an Automation task caught between being marked InProgress and recording its
//! execution ends Failed rather than start twice.

use std::sync::Arc;
use std::time::Duration;

use bosun_document::params::ParamInput;
use bosun_engine::{Engine, SignalKind, StartRequest, StoreError};
use bosun_protocol::CommandStatus;
use bosun_protocol::command::SendCommand;
use bosun_protocol::window::{AUTOMATION, RUN_COMMAND};
use bosun_store::{OpenTask, OpenWindow, Store};
use chrono::{DateTime, Utc};

use crate::associations::Clock;
use crate::run_command::{RunCommand, SendError};

const TICK: Duration = Duration::from_secs(1);
/// Who cancels a task at the close.
const ACTOR: &str = "maintenance-window";

/// What runs maintenance windows.
pub struct MaintenanceWindows {
    store: Arc<Store>,
    run_command: Arc<RunCommand>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
}

/// A task's status after an attempt to move it on.
type Moved = (String, String);

impl MaintenanceWindows {
    pub fn new(store: Arc<Store>, run_command: Arc<RunCommand>, engine: Arc<Engine>, clock: Arc<dyn Clock>) -> Self {
        Self { store, run_command, engine, clock }
    }

    /// Opens due windows and moves every open window on.
    pub async fn tick(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        tokio::task::block_in_place(|| self.store.open_due_windows(now))?;
        for window in tokio::task::block_in_place(|| self.store.open_window_executions())? {
            self.advance(window, now).await?;
        }
        Ok(())
    }

    fn set(&self, task: &OpenTask, status: &str, run_id: Option<&str>, detail: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        tokio::task::block_in_place(|| self.store.set_window_task(&task.task_execution_id, status, run_id, detail, now))
    }

    async fn advance(&self, mut window: OpenWindow, now: DateTime<Utc>) -> Result<(), StoreError> {
        // What became of the running tasks.
        for task in window.tasks.iter_mut().filter(|t| t.status == "InProgress") {
            if let Some((status, detail)) = self.outcome(task, now).await? {
                self.set(task, &status, None, &detail, now)?;
                task.status = status;
            }
        }
        if now >= window.closes_at {
            let mut timed_out = false;
            for task in &window.tasks {
                match task.status.as_str() {
                    "InProgress" => {
                        self.cancel(task).await;
                        self.set(
                            task,
                            "TimedOut",
                            None,
                            &format!("still running when the window closed at {}; cancelled", window.closes_at.to_rfc3339()),
                            now,
                        )?;
                        timed_out = true;
                    }
                    "Pending" => self.set(task, "Skipped", None, "the window closed before the task could start", now)?,
                    _ => {}
                }
            }
            let status = if timed_out { "TimedOut" } else { overall(&window.tasks) };
            tracing::info!(window = %window.window_name, status, "maintenance window closed");
            return tokio::task::block_in_place(|| self.store.end_window_execution(&window.execution_id, status, now));
        }
        if window.tasks.iter().any(|t| t.status == "InProgress") {
            return Ok(());
        }
        let Some(priority) = window.tasks.iter().filter(|t| t.status == "Pending").map(|t| t.task.priority).min() else {
            return tokio::task::block_in_place(|| self.store.end_window_execution(&window.execution_id, overall(&window.tasks), now));
        };
        if now >= window.cutoff_at {
            for task in window.tasks.iter_mut().filter(|t| t.status == "Pending") {
                let detail = format!("not started: the cutoff ({}) had passed", window.cutoff_at.to_rfc3339());
                self.set(task, "Skipped", None, &detail, now)?;
                task.status = "Skipped".into();
            }
            return tokio::task::block_in_place(|| self.store.end_window_execution(&window.execution_id, overall(&window.tasks), now));
        }
        for task in window.tasks.iter().filter(|t| t.status == "Pending" && t.task.priority == priority) {
            self.start(task, now).await?;
        }
        Ok(())
    }

    /// Starts a task: marked InProgress first, then sent, then its run recorded.
    async fn start(&self, task: &OpenTask, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.set(task, "InProgress", None, "", now)?;
        let started = match task.task.task_type.as_str() {
            RUN_COMMAND => self.send(task).await?,
            AUTOMATION => self.start_automation(task).await,
            other => Err(format!("unknown task type {other}")),
        };
        match started {
            Ok(run) => self.set(task, "InProgress", Some(&run), "", now),
            Err(reason) => self.set(task, "Failed", None, &reason, now),
        }
    }

    async fn send(&self, task: &OpenTask) -> Result<Result<String, String>, StoreError> {
        let definition = &task.task;
        let request = SendCommand {
            document_name: Some(definition.document_name.clone()),
            document_version: definition.document_version.clone(),
            document: None,
            targets: task.targets.clone(),
            parameters: definition.parameters.clone(),
            max_concurrency: definition.max_concurrency,
            max_errors: definition.max_errors,
            timeout_seconds: None,
            delivery_timeout_seconds: None,
            comment: format!("maintenance window task {}", definition.name),
        };
        let id = task.task_execution_id.clone();
        match self.run_command.send_with_id(&request, ACTOR, Some(id.clone())).await {
            Ok(_) => Ok(Ok(id)),
            Err(SendError::Store(message)) => Err(StoreError(message)),
            Err(SendError::Invalid { message, .. } | SendError::NotFound(message)) => Ok(Err(message)),
        }
    }

    async fn start_automation(&self, task: &OpenTask) -> Result<String, String> {
        let definition = &task.task;
        let found =
            tokio::task::block_in_place(|| self.store.get_document(&definition.document_name, definition.document_version.as_deref()))
                .map_err(|e| e.to_string())?;
        let (_, document) = found.ok_or_else(|| format!("no document named {}", definition.document_name))?;
        let parameters = definition.parameters.iter().map(|(k, v)| (k.clone(), ParamInput::Json(v.clone()))).collect();
        self.engine.create(StartRequest { document, parameters, mocks: Default::default() }).await.map_err(|e| e.to_string())
    }

    /// A running task's final status and detail, once it has ended.
    async fn outcome(&self, task: &mut OpenTask, now: DateTime<Utc>) -> Result<Option<Moved>, StoreError> {
        let Some(run) = &task.run_id else {
            // Marked InProgress, then the server stopped before its run was recorded.
            let sent = task.task.task_type == RUN_COMMAND
                && tokio::task::block_in_place(|| self.store.get_command(&task.task_execution_id))?.is_some();
            if sent {
                self.set(task, "InProgress", Some(&task.task_execution_id), "", now)?;
                task.run_id = Some(task.task_execution_id.clone());
                return Ok(None);
            }
            return Ok(Some(("Failed".into(), "the server stopped while starting the task".into())));
        };
        let ended = if task.task.task_type == RUN_COMMAND {
            let command = tokio::task::block_in_place(|| self.store.get_command(run))?;
            command
                .and_then(|c| CommandStatus::parse(&c.status))
                .filter(|s| s.is_terminal())
                .map(|s| (s == CommandStatus::Success, s.to_string()))
        } else {
            match self.engine.get(run).await {
                Ok(execution) if execution.record.status.is_terminal() => {
                    let status = execution.record.status;
                    Some((status == bosun_engine::ExecutionStatus::Success, status.as_str().to_string()))
                }
                Ok(_) => None,
                Err(e) => Some((false, e.to_string())),
            }
        };
        Ok(ended.map(|(success, detail)| (if success { "Success" } else { "Failed" }.to_string(), detail)))
    }

    /// Stops a running task at the close.
    async fn cancel(&self, task: &OpenTask) {
        let Some(run) = &task.run_id else { return };
        let result = if task.task.task_type == RUN_COMMAND {
            self.run_command.cancel(run).await.map(|_| ()).map_err(|e| e.to_string())
        } else {
            self.engine
                .signal(run, SignalKind::Cancel, ACTOR, Some("the maintenance window closed".into()))
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(error) = result {
            tracing::warn!(task = %task.task_execution_id, %error, "cannot cancel a task at the window's close");
        }
    }

    /// Ticks every second until `stop` resolves.
    pub async fn run_until(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "maintenance windows cannot move on; trying again");
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

/// A window execution's status from its tasks' (none timed out): Failed if any failed.
fn overall(tasks: &[OpenTask]) -> &'static str {
    if tasks.iter().any(|t| t.status == "Failed") { "Failed" } else { "Success" }
}

#[cfg(test)]
mod tests;
