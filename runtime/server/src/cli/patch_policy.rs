//! `bosun patch policy`: a patch policy is State Manager and Maintenance
//! Windows put together, nothing stored of its own. `create NAME` makes an
//! association `NAME-scan` of Bosun-RunPatchBaseline (Operation=Scan, on the
//! scan schedule) and, with an install schedule, a maintenance window
//! `NAME-install` whose one Run Command task installs (Operation=Install), so
//! installs start only while the window is open; both with the rate control
//! and error threshold given. `delete NAME` removes both.

use bosun_protocol::association::{AssociationDefinition, AssociationView};
use bosun_protocol::window::{CreateWindow, RUN_COMMAND, RegisterTarget, RegisterTask, WindowTargetView, WindowTaskView, WindowView};
use bosun_protocol::{Limit, Target};
use clap::{Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use super::CliError;
use super::client::Client;
use super::command::parse_target;
use super::fleet::segment;
use crate::output::{OutputArg, OutputFormat, print_json};

/// The document a policy runs.
const DOCUMENT: &str = "Bosun-RunPatchBaseline";
/// The window target and task a policy registers.
const WINDOW_TARGET: &str = "patch-targets";
const WINDOW_TASK: &str = "install-patches";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RebootOption {
    #[value(name = "RebootIfNeeded")]
    RebootIfNeeded,
    #[value(name = "NoReboot")]
    NoReboot,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Scans on a schedule (an association NAME-scan) and, with --install-schedule, installs in a
    /// maintenance window NAME-install.
    Create {
        name: String,
        /// Which nodes: `ids:ID,ID`, `tag:Key=Value[,Value…]` or `group:NAME`; several are ANDed.
        #[arg(long = "targets", value_name = "SPEC", value_parser = parse_target, required = true)]
        targets: Vec<Target>,
        /// When to scan: cron(...), rate(...) or at(...).
        #[arg(long, value_name = "EXPRESSION", default_value = "rate(1 day)")]
        scan_schedule: String,
        /// When the install window opens: cron(...), rate(...) or at(...); none: scan only.
        #[arg(long, value_name = "EXPRESSION")]
        install_schedule: Option<String>,
        /// How long the install window stays open, in hours.
        #[arg(long, default_value_t = 3)]
        install_duration: u32,
        /// No install starts within this many hours of the window's close.
        #[arg(long, default_value_t = 1)]
        install_cutoff: u32,
        /// The IANA zone of both schedules (default UTC).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        #[arg(long, value_enum, default_value_t = RebootOption::RebootIfNeeded)]
        reboot_option: RebootOption,
        /// How many nodes run at once: N or N%.
        #[arg(long, value_name = "N|N%")]
        max_concurrency: Option<Limit>,
        /// How many errors stop the run: N or N%.
        #[arg(long, value_name = "N|N%")]
        max_errors: Option<Limit>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Removes a policy's scan association and install window.
    Delete { name: String },
}

fn parameters(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
}

pub async fn run(client: &Client, command: PolicyCommand) -> Result<(), CliError> {
    match command {
        PolicyCommand::Create {
            name,
            targets,
            scan_schedule,
            install_schedule,
            install_duration,
            install_cutoff,
            tz,
            reboot_option,
            max_concurrency,
            max_errors,
            output,
        } => {
            let scan = AssociationDefinition {
                name: format!("{name}-scan"),
                document_name: DOCUMENT.into(),
                document_version: None,
                parameters: parameters(&[("Operation", "Scan")]),
                targets: targets.clone(),
                schedule_expression: Some(scan_schedule),
                schedule_timezone: tz.clone(),
                schedule_offset: 0,
                max_concurrency,
                max_errors,
                compliance_severity: None,
            };
            let association: AssociationView = client.post("/v1/associations", &scan).await?;
            let mut created = json!({"scanAssociation": association});
            if let Some(schedule) = install_schedule {
                let window = CreateWindow {
                    name: format!("{name}-install"),
                    description: format!("Patch policy {name}: installs approved patches with {DOCUMENT}"),
                    schedule_expression: schedule,
                    schedule_timezone: tz,
                    duration_hours: install_duration,
                    cutoff_hours: install_cutoff,
                    allow_unassociated_targets: false,
                };
                let reboot = match reboot_option {
                    RebootOption::RebootIfNeeded => "RebootIfNeeded",
                    RebootOption::NoReboot => "NoReboot",
                };
                let task = RegisterTask {
                    name: WINDOW_TASK.into(),
                    task_type: RUN_COMMAND.into(),
                    document_name: DOCUMENT.into(),
                    document_version: None,
                    parameters: parameters(&[("Operation", "Install"), ("RebootOption", reboot)]),
                    window_target: Some(WINDOW_TARGET.into()),
                    targets: Vec::new(),
                    priority: 1,
                    max_concurrency,
                    max_errors,
                };
                match install_window(client, window, targets, task).await {
                    Ok(window) => created["installWindow"] = window,
                    Err(e) => {
                        // Leave nothing half made.
                        let _ = client.delete::<()>(&format!("/v1/associations/{}", segment(&scan.name))).await;
                        return Err(e);
                    }
                }
            }
            match output.output {
                OutputFormat::Json => print_json(&created),
                OutputFormat::Text => {
                    crate::outln!("association {} scans on {}", scan.name, scan.schedule_expression.as_deref().unwrap_or_default());
                    if let Some(window) = created.get("installWindow") {
                        crate::outln!(
                            "maintenance window {} installs on {}",
                            window["window"]["definition"]["name"],
                            window["window"]["definition"]["scheduleExpression"]
                        );
                    }
                }
            }
        }
        PolicyCommand::Delete { name } => {
            let scan = client.delete::<()>(&format!("/v1/associations/{}", segment(&format!("{name}-scan")))).await;
            let install = client.delete::<()>(&format!("/v1/windows/{}", segment(&format!("{name}-install")))).await;
            match (scan, install) {
                (Err(e), Err(_)) => return Err(CliError::failed(format!("no patch policy {name}: {}", e.message))),
                _ => crate::outln!("deleted patch policy {name}"),
            }
        }
    }
    Ok(())
}

/// The install window: the window, then its target and its task (the window is
/// removed again when either is refused).
async fn install_window(client: &Client, window: CreateWindow, targets: Vec<Target>, task: RegisterTask) -> Result<Value, CliError> {
    let path = segment(&window.name);
    let made: WindowView = client.post("/v1/windows", &window).await?;
    let registered = async {
        let target: WindowTargetView =
            client.post(&format!("/v1/windows/{path}/targets"), &RegisterTarget { name: WINDOW_TARGET.into(), targets }).await?;
        let task: WindowTaskView = client.post(&format!("/v1/windows/{path}/tasks"), &task).await?;
        Ok::<_, CliError>(json!({"window": made, "target": target, "task": task}))
    };
    match registered.await {
        Ok(made) => Ok(made),
        Err(e) => {
            let _ = client.delete::<()>(&format!("/v1/windows/{path}")).await;
            Err(e)
        }
    }
}
