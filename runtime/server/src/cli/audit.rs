//! `bosun audit list`: the audit trail (who did what, when, from where, with what
//! outcome), through the HTTP API.

use std::process::ExitCode;

use bosun_protocol::events::AuditEntry;
use clap::Subcommand;

use super::client::Client;
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit rows, oldest first.
    List {
        /// Only this principal (a token name, hook:NAME or rule:NAME).
        #[arg(long, value_name = "P")]
        principal: Option<String>,
        /// Only rows from this time on (RFC 3339, e.g. 2026-01-31T00:00:00Z).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// The most rows (the latest).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        limit: u64,
        #[command(flatten)]
        output: OutputArg,
    },
}

pub async fn run(ctx: &Context, command: AuditCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let AuditCommand::List { principal, since, limit, output } = command;
    let mut path = format!("/v1/audit?limit={limit}");
    if let Some(principal) = principal {
        path.push_str(&format!("&principal={}", segment(&principal)));
    }
    if let Some(since) = since {
        path.push_str(&format!("&since={}", segment(&since)));
    }
    let rows: Vec<AuditEntry> = client.get(&path).await?;
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(&rows).unwrap_or_default()),
        OutputFormat::Text => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| vec![short_time(&r.time), r.principal.clone(), r.action.clone(), r.source_address.clone(), r.outcome.clone()])
                .collect();
            print_table(&["TIME", "PRINCIPAL", "ACTION", "FROM", "OUTCOME"], &table);
        }
    }
    Ok(ExitCode::SUCCESS)
}
