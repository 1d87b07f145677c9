//! `bosun cloud`: show the server's cloud configuration (never a key) and check
//! it with one signed call, through the HTTP API.

use std::process::ExitCode;

use clap::Subcommand;

use super::client::Client;
use super::{CliError, Context};
use crate::cloud::check::CheckResult;
use crate::cloud::view::CloudView;
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Show the cloud configuration: region, endpoint overrides, where the credentials come from (never a key), the aws-api plugin's grants.
    Show {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Make one signed, read-only call with the server's configuration and report success or the service's error code (exit 1 when it fails).
    Check {
        /// The service to call: ec2 (DescribeRegions) or autoscaling (DescribeAutoScalingGroups).
        #[arg(long, default_value = "ec2")]
        service: String,
        #[command(flatten)]
        output: OutputArg,
    },
}

fn or_dash(text: Option<&str>) -> &str {
    text.filter(|t| !t.is_empty()).unwrap_or("-")
}

fn print_view(view: &CloudView) {
    crate::outln!("Configuration   {}{}", view.config_file, if view.config_found { "" } else { " (absent)" });
    match (&view.region, &view.region_from) {
        (Some(region), Some(from)) => crate::outln!("Region          {region} (from {from})"),
        _ => crate::outln!("Region          - (set \"region\", or AWS_REGION)"),
    }
    let c = &view.credentials;
    let credentials = match c.source.as_str() {
        "parameter" => format!("SecureString parameter {}", or_dash(c.parameter.as_deref())),
        "environment" => format!(
            "environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY {})",
            if c.available == Some(true) { "set" } else { "not set" }
        ),
        _ => "inline, in the configuration file".to_string(),
    };
    crate::outln!("Credentials     {credentials}{}", if c.session_token == Some(true) { ", with a session token" } else { "" });
    if view.endpoints.is_empty() {
        crate::outln!("Endpoints       AWS's (https://SERVICE.REGION.amazonaws.com)");
    }
    for (i, (key, url)) in view.endpoints.iter().enumerate() {
        crate::outln!("{}{key} = {url}", if i == 0 { "Endpoints       " } else { "                " });
    }
    crate::outln!(
        "Grants          {}",
        if view.grants.is_empty() { "none (bosun plugin grant aws-api --grant aws:SERVICE:REGION)".into() } else { view.grants.join(", ") }
    );
}

fn print_check(result: &CheckResult) {
    let at = format!("{} {} in {} at {}", result.service, result.api, or_dash(Some(&result.region)), or_dash(Some(&result.endpoint)));
    if result.ok {
        crate::outln!("ok: {at}");
    } else {
        let code = result.error_code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default();
        let status = result.http_status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        crate::outln!("failed: {at}: {code}{}{status}", or_dash(result.message.as_deref()));
    }
}

pub async fn run(ctx: &Context, command: CloudCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        CloudCommand::Show { output } => {
            let view: CloudView = client.get("/v1/cloud").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&view).unwrap_or_default()),
                OutputFormat::Text => print_view(&view),
            }
            Ok(ExitCode::SUCCESS)
        }
        CloudCommand::Check { service, output } => {
            let result: CheckResult = client.post("/v1/cloud/check", &serde_json::json!({"service": service})).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&result).unwrap_or_default()),
                OutputFormat::Text => print_check(&result),
            }
            Ok(if result.ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
