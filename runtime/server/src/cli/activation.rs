//! `bosun activation`: create, list and delete the activations that node agents
//! register with, through the HTTP API. A new activation's code is printed once.

use std::process::ExitCode;

use bosun_protocol::fleet::{ActivationCreated, ActivationView, CreateActivation, MAX_ACTIVATION_SECONDS};
use clap::Subcommand;

use super::client::Client;
use super::fleet::{parse_duration, print_table, segment, short_time, tag_map, tags_text};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum ActivationCommand {
    /// Create an activation and print its id and code (the code only this once).
    Create {
        /// A tag every node registered with it gets (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// How many nodes may register with it (1 to 1000).
        #[arg(long, default_value_t = 1, value_name = "N")]
        count: u32,
        /// How long the code is valid, e.g. 1h or 7d (at most 30d).
        #[arg(long, default_value = "24h", value_name = "DURATION")]
        expires: String,
        #[arg(long, default_value = "", value_name = "TEXT")]
        description: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the activations, newest first (never their codes).
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete an activation: no more nodes register with it; those that did stay registered.
    Delete { activation_id: String },
}

pub async fn run(ctx: &Context, command: ActivationCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        ActivationCommand::Create { tags, count, expires, description, output } => {
            let lifetime = parse_duration(&expires).map_err(|e| CliError::usage(format!("--expires: {e}")))?;
            if lifetime.as_secs() == 0 || lifetime.as_secs() > MAX_ACTIVATION_SECONDS {
                return Err(CliError::usage(format!("--expires: an activation lasts 1 second to 30 days, not {expires}")));
            }
            let request = CreateActivation {
                description,
                tags: tag_map(&tags)?,
                registration_limit: Some(count),
                expires_in_seconds: Some(lifetime.as_secs()),
            };
            let created: ActivationCreated = client.post("/v1/activations", &request).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&created).unwrap_or_default()),
                OutputFormat::Text => {
                    crate::outln!("Activation ID    {}", created.activation_id);
                    crate::outln!("Activation code  {}", created.activation_code);
                    crate::outln!("Expires          {}", short_time(&created.expires_at));
                    crate::outln!("Registrations    up to {}", created.registration_limit);
                    crate::errln!("the code is shown only this once: give the id and the code to the node agents that register with it");
                }
            }
        }
        ActivationCommand::List { output } => {
            let list: Vec<ActivationView> = client.get("/v1/activations").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&list).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|a| {
                            let state = if a.expired {
                                "expired"
                            } else if a.registrations_count >= a.registration_limit {
                                "used up"
                            } else {
                                "active"
                            };
                            vec![
                                a.activation_id.clone(),
                                state.into(),
                                format!("{}/{}", a.registrations_count, a.registration_limit),
                                short_time(&a.expires_at),
                                tags_text(&a.tags),
                                if a.description.is_empty() { "-".into() } else { a.description.clone() },
                            ]
                        })
                        .collect();
                    print_table(&["ACTIVATION", "STATE", "REGISTERED", "EXPIRES", "TAGS", "DESCRIPTION"], &rows);
                }
            }
        }
        ActivationCommand::Delete { activation_id } => {
            let () = client.delete(&format!("/v1/activations/{}", segment(&activation_id))).await?;
            crate::outln!("activation {activation_id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
