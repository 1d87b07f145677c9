//! `bosun association`: State Manager from the command line, through the API: create,
//! list, show (with each node's status, a node's history, or the versions), update,
//! delete, run now, and the fleet's compliance.

use std::process::ExitCode;

use bosun_protocol::association::{
    AssociationDefinition, AssociationDetail, AssociationVersionView, AssociationView, ComplianceSummary, NodeRunView, UpdateAssociation,
};
use bosun_protocol::{Limit, Target};
use clap::Subcommand;

use super::client::Client;
use super::command::{parameters, parse_target};
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

/// The fields create and update share.
#[derive(Debug, clap::Args)]
pub struct DefinitionArgs {
    /// A stored Command document, optionally NAME:VERSION (AWS-RunShellScript works).
    #[arg(long, value_name = "NAME[:VERSION]")]
    pub document: Option<String>,
    /// Which nodes: `ids:ID,ID`, `tag:Key=Value[,Value…]` or `group:NAME`; several are ANDed.
    #[arg(long = "targets", value_name = "SPEC", value_parser = parse_target)]
    pub targets: Vec<Target>,
    /// A parameter value; give a StringList parameter once per item.
    #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
    /// cron(...), rate(...) or at(...); check one with `bosun schedule next`.
    #[arg(long, value_name = "EXPRESSION")]
    pub schedule: Option<String>,
    /// The IANA zone of the schedule (default UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Days after each cron fire (0 to 6).
    #[arg(long, value_name = "DAYS")]
    pub offset: Option<u32>,
    #[arg(long, value_name = "N|N%")]
    pub max_concurrency: Option<Limit>,
    #[arg(long, value_name = "N|N%")]
    pub max_errors: Option<Limit>,
    /// CRITICAL, HIGH, MEDIUM, LOW or UNSPECIFIED.
    #[arg(long, value_name = "SEVERITY")]
    pub severity: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AssociationCommand {
    /// Create an association; it is applied at once to the nodes its targets select.
    Create {
        name: String,
        #[command(flatten)]
        definition: DefinitionArgs,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the associations with their node status counts.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show an association (by id or name) with each node's status and the latest runs.
    Show {
        association: String,
        /// Show this node's runs of the association instead, with their output.
        #[arg(long, value_name = "NODE_ID")]
        node: Option<String>,
        /// Show the association's versions instead.
        #[arg(long, conflicts_with = "node")]
        versions: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Change an association: a new version, applied at once.
    Update {
        association: String,
        #[command(flatten)]
        definition: DefinitionArgs,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete an association (the commands it sent stay).
    Delete { association: String },
    /// Apply an association now.
    RunNow {
        association: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The fleet's compliance: each node's, and counts by severity.
    Compliance {
        #[command(flatten)]
        output: OutputArg,
    },
}

/// NAME[:VERSION] as a name and an optional version.
fn document(text: &str) -> (String, Option<String>) {
    match text.rsplit_once(':') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => (name.to_string(), Some(version.to_string())),
        _ => (text.to_string(), None),
    }
}

fn definition(name: String, args: DefinitionArgs) -> Result<AssociationDefinition, CliError> {
    let (document_name, document_version) = document(&args.document.ok_or_else(|| CliError::usage("give --document"))?);
    if args.targets.is_empty() {
        return Err(CliError::usage("give at least one --targets"));
    }
    Ok(AssociationDefinition {
        name,
        document_name,
        document_version,
        parameters: parameters(&args.parameters)?,
        targets: args.targets,
        schedule_expression: args.schedule,
        schedule_timezone: args.tz,
        schedule_offset: args.offset.unwrap_or(0),
        max_concurrency: args.max_concurrency,
        max_errors: args.max_errors,
        compliance_severity: args.severity,
    })
}

fn update(args: DefinitionArgs) -> Result<UpdateAssociation, CliError> {
    let (document_name, document_version) = match args.document {
        Some(text) => {
            let (name, version) = document(&text);
            (Some(name), version)
        }
        None => (None, None),
    };
    Ok(UpdateAssociation {
        document_name,
        document_version,
        parameters: (!args.parameters.is_empty()).then(|| parameters(&args.parameters)).transpose()?,
        targets: (!args.targets.is_empty()).then_some(args.targets),
        schedule_expression: args.schedule,
        schedule_timezone: args.tz,
        schedule_offset: args.offset,
        max_concurrency: args.max_concurrency,
        max_errors: args.max_errors,
        compliance_severity: args.severity,
    })
}

fn counts(view: &AssociationView) -> String {
    let parts: Vec<String> = view.status_counts.iter().map(|(status, n)| format!("{status}={n}")).collect();
    if parts.is_empty() { "-".into() } else { parts.join(" ") }
}

pub(crate) fn print_view(view: &AssociationView) {
    let d = &view.definition;
    crate::outln!("Association  {} ({})", d.name, view.association_id);
    crate::outln!("Version      {}", view.version);
    crate::outln!("Document     {}{}", d.document_name, d.document_version.as_deref().map(|v| format!(":{v}")).unwrap_or_default());
    crate::outln!("Targets      {}", d.targets.iter().map(Target::to_string).collect::<Vec<_>>().join(" AND "));
    let zone = d.schedule_timezone.as_deref().unwrap_or("UTC");
    crate::outln!("Schedule     {}", d.schedule_expression.as_deref().map(|s| format!("{s} in {zone}")).unwrap_or_else(|| "-".into()));
    crate::outln!("Next fire    {}", view.next_fire_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()));
    crate::outln!("Severity     {}", d.compliance_severity.as_deref().unwrap_or("UNSPECIFIED"));
    crate::outln!("Nodes        {}", counts(view));
}

pub async fn run(ctx: &Context, command: AssociationCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let json = |value: serde_json::Value| print_json(&value);
    match command {
        AssociationCommand::Create { name, definition: args, output } => {
            let view: AssociationView = client.post("/v1/associations", &definition(name, args)?).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&view).unwrap_or_default()),
                OutputFormat::Text => print_view(&view),
            }
        }
        AssociationCommand::Update { association, definition: args, output } => {
            let view: AssociationView = client.patch(&format!("/v1/associations/{}", segment(&association)), &update(args)?).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&view).unwrap_or_default()),
                OutputFormat::Text => print_view(&view),
            }
        }
        AssociationCommand::List { output } => {
            let views: Vec<AssociationView> = client.get("/v1/associations").await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&views).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = views
                        .iter()
                        .map(|v| {
                            vec![
                                v.definition.name.clone(),
                                v.version.to_string(),
                                v.definition.document_name.clone(),
                                v.definition.schedule_expression.clone().unwrap_or_else(|| "-".into()),
                                v.next_fire_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()),
                                counts(v),
                            ]
                        })
                        .collect();
                    print_table(&["NAME", "VERSION", "DOCUMENT", "SCHEDULE", "NEXT FIRE", "NODES"], &rows);
                }
            }
        }
        AssociationCommand::Show { association, node: Some(node), output, .. } => {
            let runs: Vec<NodeRunView> =
                client.get(&format!("/v1/associations/{}/nodes/{}", segment(&association), segment(&node))).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&runs).unwrap_or_default()),
                OutputFormat::Text => {
                    for run in &runs {
                        let ended = run.ended_at.as_deref().map(short_time).unwrap_or_else(|| "-".into());
                        let code = run.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
                        crate::outln!("{}  v{}  {}  {}  exit {}  {}", run.run_id, run.version, run.trigger, run.status, code, ended);
                        for line in run.stdout.lines().chain(run.stderr.lines()) {
                            crate::outln!("    {line}");
                        }
                    }
                }
            }
        }
        AssociationCommand::Show { association, versions: true, output, .. } => {
            let versions: Vec<AssociationVersionView> = client.get(&format!("/v1/associations/{}/versions", segment(&association))).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&versions).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = versions
                        .iter()
                        .map(|v| {
                            let d = &v.definition;
                            vec![
                                v.version.to_string(),
                                short_time(&v.created_at),
                                d.document_name.clone(),
                                d.schedule_expression.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect();
                    print_table(&["VERSION", "CREATED", "DOCUMENT", "SCHEDULE"], &rows);
                }
            }
        }
        AssociationCommand::Show { association, output, .. } => {
            let detail: AssociationDetail = client.get(&format!("/v1/associations/{}", segment(&association))).await?;
            print_detail(&detail, output);
        }
        AssociationCommand::Delete { association } => {
            let () = client.delete(&format!("/v1/associations/{}", segment(&association))).await?;
            crate::outln!("association {association} deleted");
        }
        AssociationCommand::RunNow { association, output } => {
            let detail: AssociationDetail =
                client.post(&format!("/v1/associations/{}/run", segment(&association)), &serde_json::json!({})).await?;
            print_detail(&detail, output);
        }
        AssociationCommand::Compliance { output } => {
            let summary: ComplianceSummary = client.get("/v1/compliance").await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&summary).unwrap_or_default()),
                OutputFormat::Text => {
                    crate::outln!(
                        "Nodes: {} compliant, {} non-compliant, {} unknown",
                        summary.nodes_compliant,
                        summary.nodes_non_compliant,
                        summary.nodes_unknown
                    );
                    let rows: Vec<Vec<String>> = summary
                        .nodes
                        .iter()
                        .map(|n| {
                            vec![
                                n.node_id.clone(),
                                n.compliance.clone(),
                                n.counts.compliant.to_string(),
                                n.counts.non_compliant.to_string(),
                                n.highest_severity.clone().unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect();
                    print_table(&["NODE", "COMPLIANCE", "COMPLIANT", "NON-COMPLIANT", "WORST SEVERITY"], &rows);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_detail(detail: &AssociationDetail, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(detail).unwrap_or_default()),
        OutputFormat::Text => {
            print_view(&detail.association);
            crate::outln!();
            let rows: Vec<Vec<String>> = detail
                .nodes
                .iter()
                .map(|n| vec![n.node_id.clone(), n.status.clone(), n.compliance.clone(), n.detail.clone(), short_time(&n.updated_at)])
                .collect();
            print_table(&["NODE", "STATUS", "COMPLIANCE", "DETAIL", "UPDATED"], &rows);
            crate::outln!();
            let rows: Vec<Vec<String>> = detail
                .runs
                .iter()
                .map(|r| {
                    vec![
                        r.run_id.clone(),
                        r.version.to_string(),
                        r.trigger.clone(),
                        r.state.clone(),
                        short_time(&r.created_at),
                        r.detail.clone(),
                    ]
                })
                .collect();
            print_table(&["RUN", "VERSION", "TRIGGER", "STATE", "CREATED", "DETAIL"], &rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_versions_and_missing_flags() {
        assert_eq!(document("Web-Setup:3"), ("Web-Setup".to_string(), Some("3".to_string())));
        assert_eq!(document("Web-Setup"), ("Web-Setup".to_string(), None));
        assert_eq!(document(":3"), (":3".to_string(), None));
        let args = |document: Option<&str>, targets: Vec<Target>| DefinitionArgs {
            document: document.map(str::to_string),
            targets,
            parameters: vec![],
            schedule: None,
            tz: None,
            offset: None,
            max_concurrency: None,
            max_errors: None,
            severity: None,
        };
        assert_eq!(definition("a".into(), args(None, vec![])).unwrap_err().message, "give --document");
        assert_eq!(definition("a".into(), args(Some("D"), vec![])).unwrap_err().message, "give at least one --targets");
        let only_schedule = update(DefinitionArgs { schedule: Some("rate(1 day)".into()), ..args(None, vec![]) }).unwrap();
        assert_eq!((only_schedule.document_name, only_schedule.targets, only_schedule.parameters), (None, None, None));
    }
}
