//! `bosun opsitem`: list, show and update OpsItems, and run a runbook from one
//! (through the HTTP API).

use std::process::ExitCode;

use bosun_protocol::JsonMap;
use bosun_protocol::events::{OpsItemView, RunRunbook, UpdateOpsItem};
use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum OpsItemCommand {
    /// List OpsItems, newest first.
    List {
        /// Only this status: Open, InProgress or Resolved.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show one OpsItem with its operational data, runbooks and executions.
    Show {
        id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Change an OpsItem's status, severity, title or description, or associate a runbook.
    Update {
        id: String,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A runbook (Automation document name) to associate; repeatable.
        #[arg(long = "add-runbook", value_name = "DOCUMENT")]
        add_runbooks: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Start an Automation runbook from an OpsItem; the execution is recorded on it.
    RunRunbook {
        id: String,
        document: String,
        /// A parameter, NAME=VALUE; repeatable.
        #[arg(long = "parameter", short = 'p', value_name = "NAME=VALUE")]
        parameters: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
}

fn parameters(flags: &[String]) -> Result<JsonMap, CliError> {
    flags
        .iter()
        .map(|flag| {
            let (name, value) = flag.split_once('=').ok_or_else(|| CliError::usage(format!("--parameter {flag:?}: write NAME=VALUE")))?;
            Ok((name.to_string(), Value::String(value.to_string())))
        })
        .collect()
}

fn show(item: &OpsItemView, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(item).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("OpsItem      {}", item.id);
            crate::outln!("Title        {}", item.title);
            crate::outln!("Status       {}", item.status);
            crate::outln!("Severity     {}", item.severity);
            crate::outln!("Source       {}", item.source);
            if !item.category.is_empty() {
                crate::outln!("Category     {}", item.category);
            }
            if !item.description.is_empty() {
                crate::outln!("Description  {}", item.description);
            }
            if let Some(dedup) = &item.deduplication {
                crate::outln!("Dedup        {dedup} ({} occurrences)", item.occurrences);
            }
            crate::outln!("Resources    {}", item.related_resources.join(", "));
            crate::outln!("Runbooks     {}", item.runbooks.join(", "));
            crate::outln!("Executions   {}", item.executions.join(", "));
            crate::outln!("Created      {}", short_time(&item.created_at));
            crate::outln!("Updated      {}", short_time(&item.updated_at));
        }
    }
}

pub async fn run(ctx: &Context, command: OpsItemCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        OpsItemCommand::List { status, output } => {
            let path = match &status {
                Some(status) => format!("/v1/opsitems?status={}", segment(status)),
                None => "/v1/opsitems".into(),
            };
            let items: Vec<OpsItemView> = client.get(&path).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&items).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = items
                        .iter()
                        .map(|i| {
                            vec![
                                i.id.clone(),
                                i.status.clone(),
                                i.severity.clone(),
                                i.occurrences.to_string(),
                                short_time(&i.updated_at),
                                i.title.clone(),
                            ]
                        })
                        .collect();
                    print_table(&["OPSITEM", "STATUS", "SEVERITY", "SEEN", "UPDATED", "TITLE"], &rows);
                }
            }
        }
        OpsItemCommand::Show { id, output } => {
            let item: OpsItemView = client.get(&format!("/v1/opsitems/{}", segment(&id))).await?;
            show(&item, output);
        }
        OpsItemCommand::Update { id, status, severity, title, description, add_runbooks, output } => {
            let update = UpdateOpsItem { status, severity, title, description, add_runbooks };
            let item: OpsItemView = client.patch(&format!("/v1/opsitems/{}", segment(&id)), &update).await?;
            show(&item, output);
        }
        OpsItemCommand::RunRunbook { id, document, parameters: flags, output } => {
            let request = RunRunbook { document_name: document, parameters: parameters(&flags)? };
            let item: OpsItemView = client.post(&format!("/v1/opsitems/{}/run-runbook", segment(&id)), &request).await?;
            show(&item, output);
        }
    }
    Ok(ExitCode::SUCCESS)
}
