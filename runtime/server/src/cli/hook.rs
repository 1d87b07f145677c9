//! `bosun hook`: create, list, rotate the secret of, and delete webhook triggers
//! (through the HTTP API). A secret is printed once, when it is made.

use std::process::ExitCode;

use bosun_protocol::events::{CreateHook, HookScheme, HookSecret, HookView, RotateSecret};
use clap::{Subcommand, ValueEnum};

use super::client::Client;
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemeArg {
    /// webhook-id, webhook-timestamp and webhook-signature headers.
    StandardWebhooks,
    /// X-Hub-Signature-256 and X-GitHub-Delivery headers.
    Github,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Create POST /v1/hooks/NAME with a generated secret (printed once).
    Create {
        /// 1 to 64 letters, digits, '_', '.' or '-'.
        name: String,
        /// The `source` of the events it records (default hook.NAME).
        #[arg(long, value_name = "SOURCE")]
        source: Option<String>,
        /// How senders sign.
        #[arg(long, value_enum, default_value_t = SchemeArg::StandardWebhooks)]
        scheme: SchemeArg,
        /// The largest body accepted, in bytes (default 262144).
        #[arg(long, value_name = "BYTES")]
        body_limit: Option<u64>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the hooks (without secrets).
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Give a hook a new secret (printed once); the old one stays valid for the grace period.
    RotateSecret {
        name: String,
        /// How long the old secret stays valid, in seconds.
        #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
        grace_seconds: u64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete a hook (the events it stored stay).
    Delete { name: String },
}

fn show_secret(created: &HookSecret, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(created).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("Hook      POST /v1/hooks/{}", created.hook.name);
            crate::outln!("Source    {}", created.hook.source);
            crate::outln!("Scheme    {}", created.hook.scheme.as_str());
            crate::outln!("Secret    {}", created.secret);
            if let Some(until) = &created.hook.previous_secret_valid_until {
                crate::outln!("The previous secret stays valid until {until}.");
            }
            crate::outln!("The secret is shown this once.");
        }
    }
}

pub async fn run(ctx: &Context, command: HookCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        HookCommand::Create { name, source, scheme, body_limit, output } => {
            let scheme = match scheme {
                SchemeArg::StandardWebhooks => HookScheme::StandardWebhooks,
                SchemeArg::Github => HookScheme::Github,
            };
            let created: HookSecret = client.post("/v1/hooks", &CreateHook { name, source, scheme, body_limit }).await?;
            show_secret(&created, output);
        }
        HookCommand::List { output } => {
            let hooks: Vec<HookView> = client.get("/v1/hooks").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&hooks).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = hooks
                        .iter()
                        .map(|h| {
                            vec![
                                h.name.clone(),
                                h.source.clone(),
                                h.scheme.as_str().into(),
                                h.body_limit.to_string(),
                                short_time(&h.created_at),
                            ]
                        })
                        .collect();
                    print_table(&["HOOK", "SOURCE", "SCHEME", "BODY LIMIT", "CREATED"], &rows);
                }
            }
        }
        HookCommand::RotateSecret { name, grace_seconds, output } => {
            let path = format!("/v1/hooks/{}/rotate-secret", segment(&name));
            let rotated: HookSecret = client.post(&path, &RotateSecret { grace_seconds: Some(grace_seconds) }).await?;
            show_secret(&rotated, output);
        }
        HookCommand::Delete { name } => {
            let () = client.delete(&format!("/v1/hooks/{}", segment(&name))).await?;
            crate::outln!("hook {name} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}
