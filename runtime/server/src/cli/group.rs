//! `bosun group`: create, list, show and delete resource groups (tag queries),
//! through the HTTP API. `--tag Key=Value` flags with the same key OR their values;
//! different keys are ANDed.

use std::collections::BTreeMap;
use std::process::ExitCode;

use bosun_protocol::fleet::{CreateGroup, GroupView};
use clap::Subcommand;

use super::client::Client;
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group: its members are the registered nodes whose tags match the query.
    Create {
        /// 1 to 128 letters, digits, '_', '.' or '-'.
        name: String,
        /// A tag a member has; the same key again adds a value (ORed), other keys are ANDed.
        #[arg(long = "tag", value_name = "KEY=VALUE", required = true)]
        tags: Vec<String>,
        #[arg(long, default_value = "", value_name = "TEXT")]
        description: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the groups with how many nodes each matches now.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a group and the nodes it matches now.
    Show {
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete a group (its nodes are not touched).
    Delete { name: String },
}

/// `--tag` flags as a query: key to the values allowed.
fn query(flags: &[String]) -> Result<BTreeMap<String, Vec<String>>, CliError> {
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for flag in flags {
        let (key, value) = bosun_protocol::target::parse_tag(flag).map_err(|e| CliError::usage(format!("--tag: {e}")))?;
        let values = query.entry(key).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }
    Ok(query)
}

/// A query as `Env=dev|prod AND Role=web`.
fn query_text(query: &BTreeMap<String, Vec<String>>) -> String {
    query.iter().map(|(k, vs)| format!("{k}={}", vs.join("|"))).collect::<Vec<_>>().join(" AND ")
}

pub async fn run(ctx: &Context, command: GroupCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let show = |group: &GroupView, output: OutputArg| match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(group).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("Group        {}", group.name);
            if !group.description.is_empty() {
                crate::outln!("Description  {}", group.description);
            }
            crate::outln!("Query        {}", query_text(&group.tags));
            crate::outln!("Created      {}", short_time(&group.created_at));
            crate::outln!("Nodes        {}", group.nodes.len());
            for node in &group.nodes {
                crate::outln!("  {node}");
            }
        }
    };
    match command {
        GroupCommand::Create { name, tags, description, output } => {
            let request = CreateGroup { name, description, tags: query(&tags)? };
            let group: GroupView = client.post("/v1/groups", &request).await?;
            show(&group, output);
        }
        GroupCommand::List { output } => {
            let groups: Vec<GroupView> = client.get("/v1/groups").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&groups).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = groups
                        .iter()
                        .map(|g| {
                            let description = if g.description.is_empty() { "-".into() } else { g.description.clone() };
                            vec![g.name.clone(), g.nodes.len().to_string(), query_text(&g.tags), description]
                        })
                        .collect();
                    print_table(&["GROUP", "NODES", "QUERY", "DESCRIPTION"], &rows);
                }
            }
        }
        GroupCommand::Show { name, output } => {
            let group: GroupView = client.get(&format!("/v1/groups/{}", segment(&name))).await?;
            show(&group, output);
        }
        GroupCommand::Delete { name } => {
            let () = client.delete(&format!("/v1/groups/{}", segment(&name))).await?;
            crate::outln!("group {name} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_or_their_values() {
        let q = query(&["Env=dev".into(), "Role=web".into(), "Env=prod".into(), "Env=dev".into()]).unwrap();
        assert_eq!(q, BTreeMap::from([("Env".into(), vec!["dev".into(), "prod".into()]), ("Role".into(), vec!["web".into()])]));
        assert_eq!(query_text(&q), "Env=dev|prod AND Role=web");
        assert!(query(&["nope".into()]).is_err());
    }
}
