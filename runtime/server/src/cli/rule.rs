//! `bosun rule`: create rules from a JSON file, list, show, enable, disable and
//! delete them (through the HTTP API), and `bosun rule test`, which matches a
//! pattern file against an event file here, without a server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bosun_events::Pattern;
use bosun_protocol::events::{RuleSpec, RuleView};
use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::fleet::{print_table, segment, short_time};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

/// The largest pattern or event file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Create a rule from a JSON file: {"name", "description", "eventPattern", "enabled", "targets": [...]}.
    Create {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the rules.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a rule with its pattern and targets.
    Show {
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Enable a rule.
    Enable { name: String },
    /// Disable a rule: events are no longer matched against it.
    Disable { name: String },
    /// Delete a rule.
    Delete { name: String },
    /// Match an event pattern against an event (both JSON files) and print match or no-match.
    /// Exit code 0 on a match, 1 on no match, 2 for a bad pattern or event.
    Test {
        #[arg(long, value_name = "FILE")]
        pattern: PathBuf,
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
    },
}

/// Reads a JSON file, with errors naming the file and the position.
fn read_json(path: &Path) -> Result<Value, CliError> {
    let size = std::fs::metadata(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?.len();
    if size > MAX_FILE_BYTES {
        return Err(CliError::usage(format!("{} is larger than {MAX_FILE_BYTES} bytes", path.display())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::usage(format!("{}: not JSON: {e}", path.display())))
}

/// `bosun rule test`: whether the pattern in one file matches the event in another.
pub fn test(pattern_file: &Path, event_file: &Path) -> Result<bool, CliError> {
    let pattern =
        Pattern::from_value(&read_json(pattern_file)?).map_err(|e| CliError::usage(format!("{}: {e}", pattern_file.display())))?;
    Ok(pattern.matches(&read_json(event_file)?))
}

fn show(rule: &RuleView, output: OutputArg) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(rule).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("Rule         {}", rule.spec.name);
            if !rule.spec.description.is_empty() {
                crate::outln!("Description  {}", rule.spec.description);
            }
            crate::outln!("Enabled      {}", rule.spec.enabled);
            crate::outln!("Pattern      {}", rule.spec.event_pattern);
            for target in &rule.spec.targets {
                crate::outln!("Target       {}: {}", target.id, serde_json::to_string(&target.action).unwrap_or_default());
            }
        }
    }
}

pub async fn run(ctx: &Context, command: RuleCommand) -> Result<ExitCode, CliError> {
    let client = || Client::from_context(ctx);
    match command {
        RuleCommand::Test { pattern, event } => {
            let matched = test(&pattern, &event)?;
            crate::outln!("{}", if matched { "match" } else { "no-match" });
            return Ok(if matched { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        RuleCommand::Create { file, output } => {
            let spec: RuleSpec =
                serde_json::from_value(read_json(&file)?).map_err(|e| CliError::usage(format!("{}: not a rule: {e}", file.display())))?;
            let rule: RuleView = client()?.post("/v1/rules", &spec).await?;
            show(&rule, output);
        }
        RuleCommand::List { output } => {
            let rules: Vec<RuleView> = client()?.get("/v1/rules").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&rules).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = rules
                        .iter()
                        .map(|r| {
                            let targets: Vec<&str> = r.spec.targets.iter().map(|t| t.id.as_str()).collect();
                            vec![r.spec.name.clone(), r.spec.enabled.to_string(), targets.join(","), short_time(&r.updated_at)]
                        })
                        .collect();
                    print_table(&["RULE", "ENABLED", "TARGETS", "UPDATED"], &rows);
                }
            }
        }
        RuleCommand::Show { name, output } => {
            let rule: RuleView = client()?.get(&format!("/v1/rules/{}", segment(&name))).await?;
            show(&rule, output);
        }
        RuleCommand::Enable { name } => {
            let _: RuleView = client()?.post(&format!("/v1/rules/{}/enable", segment(&name)), &()).await?;
            crate::outln!("rule {name} enabled");
        }
        RuleCommand::Disable { name } => {
            let _: RuleView = client()?.post(&format!("/v1/rules/{}/disable", segment(&name)), &()).await?;
            crate::outln!("rule {name} disabled");
        }
        RuleCommand::Delete { name } => {
            let () = client()?.delete(&format!("/v1/rules/{}", segment(&name))).await?;
            crate::outln!("rule {name} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_test_reads_files_and_matches() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let pattern = write("p.json", r#"{"detail": {"state": [{"prefix": "run"}]}}"#);
        assert!(test(&pattern, &write("yes.json", r#"{"detail": {"state": "running"}}"#)).unwrap());
        assert!(!test(&pattern, &write("no.json", r#"{"detail": {"state": "stopped"}}"#)).unwrap());
        let bad = write("bad.json", r#"{"detail": {"state": [{"prefx": "run"}]}}"#);
        let error = test(&bad, &write("e.json", "{}")).unwrap_err();
        assert_eq!(error.code, 2);
        assert!(error.message.contains("detail.state[0].prefx"), "{}", error.message);
        let malformed = write("m.json", "{\n  \"a\": ");
        assert!(test(&malformed, &pattern).unwrap_err().message.contains("line 2"));
        assert!(test(&dir.path().join("missing.json"), &pattern).is_err());
    }
}
