//! `bosun node`: list and show the registered nodes with their ping status,
//! platform and tags, change their tags and deregister them, through the HTTP API.

use std::collections::BTreeMap;
use std::process::ExitCode;

use bosun_protocol::fleet::{ChangeTags, NodeView};
use clap::Subcommand;

use super::client::Client;
use super::fleet::{print_table, segment, short_time, tag_map, tags_text};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List the nodes (deregistered ones as Inactive).
    List {
        /// Only the nodes with this tag.
        #[arg(long, value_name = "KEY=VALUE")]
        tag: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a node.
    Show {
        node_id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Add tags to a node, or change their values.
    Tag {
        node_id: String,
        #[arg(value_name = "KEY=VALUE", required = true)]
        tags: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Remove tags from a node.
    Untag {
        node_id: String,
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Deregister a node: its credential is refused from now on.
    Deregister {
        node_id: String,
        #[command(flatten)]
        output: OutputArg,
    },
}

fn path(node_id: &str) -> String {
    format!("/v1/nodes/{}", segment(node_id))
}

fn print_node(node: &NodeView, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(node).unwrap_or_default()),
        OutputFormat::Text => {
            let p = &node.platform;
            crate::outln!("Node           {}", node.node_id);
            crate::outln!("Ping status    {}", node.ping_status);
            crate::outln!("Hostname       {}", p.hostname);
            crate::outln!("Platform       {} {} {} ({})", p.platform_type, p.name, p.version, p.architecture);
            crate::outln!("Kernel         {}", p.kernel);
            crate::outln!("IP addresses   {}", if p.ip_addresses.is_empty() { "-".into() } else { p.ip_addresses.join(", ") });
            crate::outln!("Agent          {}", p.agent_version);
            crate::outln!("Activation     {}", node.activation_id);
            crate::outln!("Registered     {}", short_time(&node.registered_at));
            crate::outln!("Last seen      {}", node.last_seen.as_deref().map(short_time).unwrap_or_else(|| "never".into()));
            if let Some(at) = &node.deregistered_at {
                crate::outln!("Deregistered   {}", short_time(at));
            }
            crate::outln!("Tags           {}", tags_text(&node.tags));
        }
    }
}

pub async fn run(ctx: &Context, command: NodeCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        NodeCommand::List { tag, output } => {
            let query = match &tag {
                Some(tag) => {
                    bosun_protocol::target::parse_tag(tag).map_err(|e| CliError::usage(format!("--tag: {e}")))?;
                    format!("?tag={}", segment(tag))
                }
                None => String::new(),
            };
            let nodes: Vec<NodeView> = client.get(&format!("/v1/nodes{query}")).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&nodes).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = nodes
                        .iter()
                        .map(|n| {
                            vec![
                                n.node_id.clone(),
                                n.ping_status.to_string(),
                                n.platform.hostname.clone(),
                                format!("{} {}", n.platform.name, n.platform.version).trim().to_string(),
                                n.last_seen.as_deref().map(short_time).unwrap_or_else(|| "never".into()),
                                tags_text(&n.tags),
                            ]
                        })
                        .collect();
                    print_table(&["NODE", "PING STATUS", "HOSTNAME", "PLATFORM", "LAST SEEN", "TAGS"], &rows);
                }
            }
        }
        NodeCommand::Show { node_id, output } => {
            let node: NodeView = client.get(&path(&node_id)).await?;
            print_node(&node, output);
        }
        NodeCommand::Tag { node_id, tags, output } => {
            let change = ChangeTags { add: tag_map(&tags)?, remove: Vec::new() };
            let node: NodeView = client.post(&format!("{}/tags", path(&node_id)), &change).await?;
            print_node(&node, output);
        }
        NodeCommand::Untag { node_id, keys, output } => {
            let change = ChangeTags { add: BTreeMap::new(), remove: keys };
            let node: NodeView = client.post(&format!("{}/tags", path(&node_id)), &change).await?;
            print_node(&node, output);
        }
        NodeCommand::Deregister { node_id, output } => {
            let node: NodeView = client.post(&format!("{}/deregister", path(&node_id)), &serde_json::json!({})).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&node).unwrap_or_default()),
                OutputFormat::Text => crate::outln!("node {} deregistered; its credential is refused from now on", node.node_id),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
