//! Maintenance Windows' API (`/v1/windows`): a schedule with a duration and a cutoff,
//! registered targets, and tasks (Run Command documents or Automation runbooks) run by
//! priority while the window is open; each opening's history per task and node.

use serde::{Deserialize, Serialize};

use crate::JsonMap;
use crate::rate::Limit;
use crate::target::Target;

/// A task that sends a Command document through Run Command.
pub const RUN_COMMAND: &str = "RUN_COMMAND";
/// A task that starts an Automation runbook.
pub const AUTOMATION: &str = "AUTOMATION";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWindow {
    /// 1 to 128 letters, digits, '_', '.' or '-'; unique.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// When the window opens: `cron(...)`, `rate(...)` or `at(...)`.
    pub schedule_expression: String,
    /// The IANA zone of the schedule (default UTC).
    pub schedule_timezone: Option<String>,
    /// How long the window stays open, 1 to 24 hours.
    pub duration_hours: u32,
    /// No task starts within this many hours of the close (0 to duration - 1).
    pub cutoff_hours: u32,
    /// Whether tasks may name targets of their own instead of a registered target.
    #[serde(default)]
    pub allow_unassociated_targets: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterTarget {
    pub name: String,
    /// Several targets are ANDed.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterTask {
    pub name: String,
    /// RUN_COMMAND or AUTOMATION.
    pub task_type: String,
    /// A stored Command document (RUN_COMMAND) or Automation runbook (AUTOMATION).
    pub document_name: String,
    pub document_version: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
    /// A registered target of the window (its id or name), for RUN_COMMAND.
    pub window_target: Option<String>,
    /// Targets of the task's own (only if the window allows unassociated targets).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
    pub targets: Vec<Target>,
    /// Lower runs first; tasks of one priority run together (default 1).
    #[serde(default = "default_priority")]
    pub priority: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_concurrency: Option<Limit>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_errors: Option<Limit>,
}

fn default_priority() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WindowTargetView {
    pub window_target_id: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::target::TargetJson>))]
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WindowTaskView {
    pub window_task_id: String,
    pub task: RegisterTask,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WindowView {
    pub window_id: String,
    pub definition: CreateWindow,
    pub created_at: String,
    /// The next opening; none once an at() schedule has opened.
    pub next_open_at: Option<String>,
    pub targets: Vec<WindowTargetView>,
    pub tasks: Vec<WindowTaskView>,
}

/// One node's invocation in a Run Command task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskNodeView {
    pub node_id: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionView {
    pub task_execution_id: String,
    pub window_task_id: String,
    pub name: String,
    pub task_type: String,
    pub priority: u32,
    /// Pending, InProgress, Success, Failed, TimedOut (still running at the close) or Skipped (not started before the cutoff).
    pub status: String,
    /// The Run Command command (whose id is this task execution's) or the Automation execution.
    pub run_id: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub detail: String,
    /// Each node's invocation, for Run Command tasks.
    pub nodes: Vec<TaskNodeView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WindowExecutionView {
    pub window_execution_id: String,
    pub window_id: String,
    /// The scheduled opening.
    pub opened_at: String,
    pub cutoff_at: String,
    pub closes_at: String,
    /// InProgress, Success, Failed or TimedOut (a task was still running at the close).
    pub status: String,
    pub ended_at: Option<String>,
    pub tasks: Vec<TaskExecutionView>,
}
