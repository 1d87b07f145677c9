//! `bosun event`: read the event log, and the dead-letter list of deliveries to
//! rule targets that ran out of attempts (`dlq list`, `dlq replay`), through the HTTP API.

use std::process::ExitCode;

use bosun_protocol::events::{DeadLetter, ReplayDeadLetters, Replayed};
use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::fleet::{print_table, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List events in log order.
    List {
        /// Only events after this place in the log (the SEQ column).
        #[arg(long, default_value_t = 0, value_name = "SEQ")]
        after: i64,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The dead-letter list.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List deliveries that ran out of attempts.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Try dead deliveries again with fresh attempts: these ids, or all with --all.
    Replay {
        #[arg(value_name = "DELIVERY_ID", required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<i64>,
        #[arg(long)]
        all: bool,
    },
}

fn text(event: &Value, key: &str) -> String {
    match &event[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub async fn run(ctx: &Context, command: EventCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        EventCommand::List { after, limit, output } => {
            let events: Vec<Value> = client.get(&format!("/v1/events?after={after}&limit={limit}")).await?;
            match output.output {
                OutputFormat::Json => print_json(&Value::Array(events)),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = events
                        .iter()
                        .map(|e| {
                            vec![text(e, "seq"), short_time(&text(e, "time")), text(e, "source"), text(e, "detail-type"), text(e, "id")]
                        })
                        .collect();
                    print_table(&["SEQ", "TIME", "SOURCE", "DETAIL-TYPE", "ID"], &rows);
                }
            }
        }
        EventCommand::Dlq(DlqCommand::List { output }) => {
            let letters: Vec<DeadLetter> = client.get("/v1/events/dlq").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&letters).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = letters
                        .iter()
                        .map(|d| {
                            vec![
                                d.delivery_id.to_string(),
                                d.rule.clone(),
                                d.target_id.clone(),
                                d.attempts.to_string(),
                                short_time(&d.failed_at),
                                d.last_error.clone(),
                            ]
                        })
                        .collect();
                    print_table(&["DELIVERY", "RULE", "TARGET", "ATTEMPTS", "FAILED", "LAST ERROR"], &rows);
                }
            }
        }
        EventCommand::Dlq(DlqCommand::Replay { ids, all: _ }) => {
            let replayed: Replayed = client.post("/v1/events/dlq/replay", &ReplayDeadLetters { delivery_ids: ids }).await?;
            crate::outln!("{} deliveries sent again", replayed.replayed);
        }
    }
    Ok(ExitCode::SUCCESS)
}
