//! `bosun inventory`: enable gathering (a State Manager association of
//! Bosun-GatherSoftwareInventory), query entries across the fleet with filters,
//! show a node's inventory, summarise the fleet, list the types, and export a
//! type as JSON Lines, all through the API.

use std::process::ExitCode;

use bosun_protocol::Target;
use bosun_protocol::association::{AssociationDefinition, AssociationView};
use bosun_protocol::inventory::{InventoryQueryResult, InventorySummary, InventoryTypeSchema, NodeInventoryItem};
use clap::Subcommand;

use super::client::Client;
use super::command::{parameters, parse_target};
use super::fleet::{print_table, segment};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

/// The built-in document that gathers inventory.
pub const DOCUMENT: &str = "Bosun-GatherSoftwareInventory";
/// The association `enable` creates, unless named otherwise.
pub const DEFAULT_ASSOCIATION: &str = "bosun-inventory";

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Gather inventory on nodes: creates a State Manager association of Bosun-GatherSoftwareInventory,
    /// applied at once and then on its schedule.
    Enable {
        /// Which nodes: `ids:ID,ID`, `tag:Key=Value[,Value…]` or `group:NAME`; several are ANDed.
        #[arg(long = "targets", value_name = "SPEC", value_parser = parse_target, required = true)]
        targets: Vec<Target>,
        /// cron(...), rate(...) or at(...).
        #[arg(long, value_name = "EXPRESSION", default_value = "rate(30 minutes)")]
        schedule: String,
        /// A parameter of the document, e.g. `services=Disabled` or `files=[{"Path":"/etc/app","Pattern":["*.conf"]}]`.
        #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE")]
        parameters: Vec<String>,
        /// The association's name.
        #[arg(long, default_value = DEFAULT_ASSOCIATION)]
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Entries of one type across the fleet that pass every filter.
    Query {
        /// The type, e.g. AWS:Application (Application works too) or Custom:RackInfo.
        #[arg(long = "type", value_name = "TYPE")]
        type_name: String,
        /// `Key OP Value`, OP one of = != < <= > >= ^= (begins with); repeat for more, all must hold.
        #[arg(long = "filter", value_name = "FILTER")]
        filters: Vec<String>,
        /// The most rows shown (at most 10000).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The fleet's inventory at a glance: nodes, types, top OS versions and applications.
    Summary {
        /// How many OS versions and applications to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// A node's inventory, every type or one.
    Show {
        node: String,
        #[arg(long = "type", value_name = "TYPE")]
        type_name: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The inventory types and their attributes.
    Types {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Every entry of one type (passing the filters) as JSON Lines on stdout.
    Export {
        #[arg(long = "type", value_name = "TYPE")]
        type_name: String,
        #[arg(long = "filter", value_name = "FILTER")]
        filters: Vec<String>,
    },
}

/// `Application` is short for `AWS:Application`: a name without a prefix is an AWS type.
fn full_type(name: &str) -> String {
    if name.contains(':') { name.to_string() } else { format!("AWS:{name}") }
}

/// The query string of a type, filters and an optional limit.
fn query_string(type_name: Option<&str>, filters: &[String], limit: Option<usize>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(t) = type_name {
        pairs.push(("type", full_type(t)));
    }
    pairs.extend(filters.iter().map(|f| ("filter", f.clone())));
    if let Some(limit) = limit {
        pairs.push(("limit", limit.to_string()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

pub async fn run(ctx: &Context, command: InventoryCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let json = |value: serde_json::Value| print_json(&value);
    match command {
        InventoryCommand::Enable { targets, schedule, parameters: given, name, output } => {
            let definition = AssociationDefinition {
                name,
                document_name: DOCUMENT.to_string(),
                document_version: None,
                parameters: parameters(&given)?,
                targets,
                schedule_expression: Some(schedule),
                schedule_timezone: None,
                schedule_offset: 0,
                max_concurrency: None,
                max_errors: None,
                compliance_severity: None,
            };
            let view: AssociationView = client.post("/v1/associations", &definition).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&view).unwrap_or_default()),
                OutputFormat::Text => super::association::print_view(&view),
            }
        }
        InventoryCommand::Query { type_name, filters, limit, output } => {
            let result: InventoryQueryResult =
                client.get(&format!("/v1/inventory?{}", query_string(Some(&type_name), &filters, Some(limit)))).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&result).unwrap_or_default()),
                OutputFormat::Text => print_rows(&result),
            }
        }
        InventoryCommand::Summary { top, output } => {
            let summary: InventorySummary = client.get(&format!("/v1/inventory/summary?limit={top}")).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&summary).unwrap_or_default()),
                OutputFormat::Text => print_summary(&summary),
            }
        }
        InventoryCommand::Show { node, type_name, output } => {
            let query = query_string(type_name.as_deref(), &[], None);
            let items: Vec<NodeInventoryItem> = client.get(&format!("/v1/inventory/nodes/{}?{query}", segment(&node))).await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&items).unwrap_or_default()),
                OutputFormat::Text => {
                    for item in &items {
                        crate::outln!(
                            "{} (schema {}, captured {}, {} entries)",
                            item.type_name,
                            item.schema_version,
                            item.capture_time,
                            item.content.len()
                        );
                        print_entries(item.content.iter().map(|e| (None, e)));
                        crate::outln!("");
                    }
                    if items.is_empty() {
                        crate::outln!("node {node} has no inventory");
                    }
                }
            }
        }
        InventoryCommand::Types { output } => {
            let types: Vec<InventoryTypeSchema> = client.get("/v1/inventory/types").await?;
            match output.output {
                OutputFormat::Json => json(serde_json::to_value(&types).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = types
                        .iter()
                        .map(|t| {
                            let attributes: Vec<String> = t.attributes.iter().map(|a| format!("{}:{}", a.name, a.data_type)).collect();
                            vec![t.type_name.clone(), if t.builtin { "built-in" } else { "custom" }.into(), attributes.join(" ")]
                        })
                        .collect();
                    print_table(&["TYPE", "KIND", "ATTRIBUTES"], &rows);
                }
            }
        }
        InventoryCommand::Export { type_name, filters } => {
            let mut stdout = std::io::stdout().lock();
            client.get_to(&format!("/v1/inventory/export?{}", query_string(Some(&type_name), &filters, None)), &mut stdout).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Entries as a table: the node (when given) and every attribute any entry has.
fn print_entries<'a>(entries: impl Iterator<Item = (Option<&'a str>, &'a bosun_protocol::inventory::Entry)> + Clone) {
    let mut columns: Vec<&str> = Vec::new();
    for (_, entry) in entries.clone() {
        for key in entry.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let with_node = entries.clone().any(|(node, _)| node.is_some());
    let upper: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let mut header: Vec<&str> = if with_node { vec!["NODE"] } else { Vec::new() };
    header.extend(upper.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = entries
        .map(|(node, entry)| {
            let mut row: Vec<String> = node.map(|n| vec![n.to_string()]).unwrap_or_default();
            row.extend(columns.iter().map(|c| entry.get(*c).and_then(|v| v.as_str()).unwrap_or("-").to_string()));
            row
        })
        .collect();
    print_table(&header, &rows);
}

fn print_rows(result: &InventoryQueryResult) {
    print_entries(result.rows.iter().map(|r| (Some(r.node_id.as_str()), &r.entry)));
    let more = if result.truncated { " (stopped at the limit; more may match: raise --limit or use export)" } else { "" };
    crate::outln!("{} entries on {} nodes{more}", result.rows.len(), result.nodes);
}

fn print_summary(summary: &InventorySummary) {
    crate::outln!("Nodes with inventory: {}", summary.nodes);
    crate::outln!("");
    let types: Vec<Vec<String>> =
        summary.types.iter().map(|t| vec![t.type_name.clone(), t.nodes.to_string(), t.entries.to_string()]).collect();
    print_table(&["TYPE", "NODES", "ENTRIES"], &types);
    crate::outln!("");
    let os: Vec<Vec<String>> = summary.os_versions.iter().map(|v| vec![v.value.clone(), v.nodes.to_string()]).collect();
    print_table(&["OS VERSION", "NODES"], &os);
    crate::outln!("");
    let apps: Vec<Vec<String>> = summary.applications.iter().map(|v| vec![v.value.clone(), v.nodes.to_string()]).collect();
    print_table(&["APPLICATION", "NODES"], &apps);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names_are_aws_types_and_filters_are_encoded() {
        assert_eq!(full_type("Application"), "AWS:Application");
        assert_eq!(full_type("Custom:Rack"), "Custom:Rack");
        let q = query_string(Some("Application"), &["Name=openssl".into(), "Version<3.0".into()], Some(5));
        assert_eq!(q, "type=AWS%3AApplication&filter=Name%3Dopenssl&filter=Version%3C3.0&limit=5");
    }
}
