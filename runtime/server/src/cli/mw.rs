//! `bosun mw`: Maintenance Windows from the command line, through the API: create a
//! window, register targets and tasks, list, show, read its history, delete.

use std::process::ExitCode;

use bosun_protocol::window::{
    AUTOMATION, CreateWindow, RUN_COMMAND, RegisterTarget, RegisterTask, WindowExecutionView, WindowTargetView, WindowTaskView, WindowView,
};
use bosun_protocol::{Limit, Target};
use clap::{Subcommand, ValueEnum};

use super::client::Client;
use super::command::{parameters, parse_target};
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskKind {
    /// A Command document sent through Run Command to the task's targets.
    RunCommand,
    /// An Automation runbook, started once.
    Automation,
}

#[derive(Debug, Subcommand)]
pub enum MwCommand {
    /// Create a window: when it opens, how long it stays open, and the cutoff.
    Create {
        name: String,
        /// cron(...), rate(...) or at(...).
        #[arg(long, value_name = "EXPRESSION")]
        schedule: String,
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Hours the window stays open (1 to 24).
        #[arg(long, value_name = "HOURS")]
        duration: u32,
        /// No task starts within this many hours of the close.
        #[arg(long, value_name = "HOURS", default_value_t = 0)]
        cutoff: u32,
        /// Let tasks name targets of their own.
        #[arg(long)]
        allow_unassociated_targets: bool,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Register targets with a window, under a name tasks refer to.
    RegisterTarget {
        window: String,
        name: String,
        /// `ids:ID,ID`, `tag:Key=Value[,Value…]` or `group:NAME`; several are ANDed.
        #[arg(long = "targets", value_name = "SPEC", required = true, value_parser = parse_target)]
        targets: Vec<Target>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Register a task: a Run Command document or an Automation runbook, with a priority.
    RegisterTask {
        window: String,
        name: String,
        #[arg(long = "type", value_enum, default_value_t = TaskKind::RunCommand)]
        kind: TaskKind,
        /// A stored document, optionally NAME:VERSION.
        #[arg(long, value_name = "NAME[:VERSION]")]
        document: String,
        #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE")]
        parameters: Vec<String>,
        /// A registered target of the window (name or id).
        #[arg(long, value_name = "TARGET")]
        window_target: Option<String>,
        /// Targets of the task's own (if the window allows unassociated targets).
        #[arg(long = "targets", value_name = "SPEC", value_parser = parse_target)]
        targets: Vec<Target>,
        /// Lower runs first; tasks of one priority run together.
        #[arg(long, default_value_t = 1)]
        priority: u32,
        #[arg(long, value_name = "N|N%")]
        max_concurrency: Option<Limit>,
        #[arg(long, value_name = "N|N%")]
        max_errors: Option<Limit>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the windows with their next opening.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a window with its targets and tasks.
    Show {
        window: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// A window's executions, newest first, with each task and node.
    History {
        window: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete a window with its targets, tasks and history.
    Delete { window: String },
}

fn json<T: serde::Serialize>(value: &T) {
    print_json(&serde_json::to_value(value).unwrap_or_default());
}

fn targets_text(targets: &[Target]) -> String {
    targets.iter().map(Target::to_string).collect::<Vec<_>>().join(" AND ")
}

fn print_window(window: &WindowView) {
    let d = &window.definition;
    crate::outln!("Window       {} ({})", d.name, window.window_id);
    crate::outln!("Schedule     {} in {}", d.schedule_expression, d.schedule_timezone.as_deref().unwrap_or("UTC"));
    crate::outln!("Duration     {} h, cutoff {} h", d.duration_hours, d.cutoff_hours);
    crate::outln!("Next opening {}", window.next_open_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()));
    let rows: Vec<Vec<String>> =
        window.targets.iter().map(|t| vec![t.name.clone(), t.window_target_id.clone(), targets_text(&t.targets)]).collect();
    if !rows.is_empty() {
        crate::outln!();
        print_table(&["TARGET", "ID", "SELECTS"], &rows);
    }
    let rows: Vec<Vec<String>> = window
        .tasks
        .iter()
        .map(|t| vec![t.task.priority.to_string(), t.task.name.clone(), t.task.task_type.clone(), t.task.document_name.clone()])
        .collect();
    if !rows.is_empty() {
        crate::outln!();
        print_table(&["PRIORITY", "TASK", "TYPE", "DOCUMENT"], &rows);
    }
}

pub async fn run(ctx: &Context, command: MwCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        MwCommand::Create { name, schedule, tz, duration, cutoff, allow_unassociated_targets, description, output } => {
            let request = CreateWindow {
                name,
                description,
                schedule_expression: schedule,
                schedule_timezone: tz,
                duration_hours: duration,
                cutoff_hours: cutoff,
                allow_unassociated_targets,
            };
            let window: WindowView = client.post("/v1/windows", &request).await?;
            match output.output {
                OutputFormat::Json => json(&window),
                OutputFormat::Text => print_window(&window),
            }
        }
        MwCommand::RegisterTarget { window, name, targets, output } => {
            let target: WindowTargetView =
                client.post(&format!("/v1/windows/{}/targets", segment(&window)), &RegisterTarget { name, targets }).await?;
            match output.output {
                OutputFormat::Json => json(&target),
                OutputFormat::Text => crate::outln!("target {} registered ({})", target.name, target.window_target_id),
            }
        }
        MwCommand::RegisterTask {
            window,
            name,
            kind,
            document,
            parameters: given,
            window_target,
            targets,
            priority,
            max_concurrency,
            max_errors,
            output,
        } => {
            let (document_name, document_version) = match document.rsplit_once(':') {
                Some((n, v)) if !n.is_empty() && !v.is_empty() => (n.to_string(), Some(v.to_string())),
                _ => (document, None),
            };
            let request = RegisterTask {
                name,
                task_type: match kind {
                    TaskKind::RunCommand => RUN_COMMAND,
                    TaskKind::Automation => AUTOMATION,
                }
                .into(),
                document_name,
                document_version,
                parameters: parameters(&given)?,
                window_target,
                targets,
                priority,
                max_concurrency,
                max_errors,
            };
            let task: WindowTaskView = client.post(&format!("/v1/windows/{}/tasks", segment(&window)), &request).await?;
            match output.output {
                OutputFormat::Json => json(&task),
                OutputFormat::Text => {
                    crate::outln!("task {} registered ({}), priority {}", task.task.name, task.window_task_id, task.task.priority)
                }
            }
        }
        MwCommand::List { output } => {
            let windows: Vec<WindowView> = client.get("/v1/windows").await?;
            match output.output {
                OutputFormat::Json => json(&windows),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = windows
                        .iter()
                        .map(|w| {
                            let d = &w.definition;
                            vec![
                                d.name.clone(),
                                d.schedule_expression.clone(),
                                format!("{} h / {} h", d.duration_hours, d.cutoff_hours),
                                w.next_open_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()),
                                w.tasks.len().to_string(),
                            ]
                        })
                        .collect();
                    print_table(&["WINDOW", "SCHEDULE", "DURATION / CUTOFF", "NEXT OPENING", "TASKS"], &rows);
                }
            }
        }
        MwCommand::Show { window, output } => {
            let window: WindowView = client.get(&format!("/v1/windows/{}", segment(&window))).await?;
            match output.output {
                OutputFormat::Json => json(&window),
                OutputFormat::Text => print_window(&window),
            }
        }
        MwCommand::History { window, limit, output } => {
            let executions: Vec<WindowExecutionView> =
                client.get(&format!("/v1/windows/{}/executions?limit={limit}", segment(&window))).await?;
            match output.output {
                OutputFormat::Json => json(&executions),
                OutputFormat::Text => {
                    for execution in &executions {
                        crate::outln!(
                            "{}  opened {}  closes {}  {}",
                            execution.window_execution_id,
                            short_time(&execution.opened_at),
                            short_time(&execution.closes_at),
                            execution.status
                        );
                        for task in &execution.tasks {
                            let detail = if task.detail.is_empty() { String::new() } else { format!("  ({})", task.detail) };
                            crate::outln!("  {} {} [{}] {}{}", task.priority, task.name, task.task_type, task.status, detail);
                            for node in &task.nodes {
                                crate::outln!("      {} {}", node.node_id, node.status);
                            }
                        }
                    }
                }
            }
        }
        MwCommand::Delete { window } => {
            let () = client.delete(&format!("/v1/windows/{}", segment(&window))).await?;
            crate::outln!("maintenance window {window} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
