//! `bosun patch`: Patch Manager through the API. Baselines (create and update
//! from AWS's baseline JSON, list, show, delete, set-default), patch groups
//! (register, deregister, list, the group tag key), each node's compliance, the
//! fleet summary, an export of every patch as JSON Lines or CSV, and patch
//! policies (`patch_policy.rs`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bosun_patching::baseline::{BaselineSpec, MAX_BASELINE_BYTES};
use bosun_protocol::patch::{
    NodePatchCompliance, PatchBaselineView, PatchGroupView, PatchRow, PatchSettings, PatchSummary, RegisterPatchGroup,
};
use clap::{Subcommand, ValueEnum};

use super::client::Client;
use super::fleet::{print_table, segment};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum PatchCommand {
    /// Patch baselines: which patches are approved, per operating system.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Patch groups: nodes tagged `Patch Group=NAME` use the baseline registered for NAME.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Each node's latest compliance; with --node, its patches too.
    Compliance {
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        node: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The fleet's compliance: nodes compliant and not, patches by state and severity.
    Summary {
        #[arg(long)]
        group: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Patch policies: a scan schedule (State Manager) and an install window (Maintenance Windows).
    #[command(subcommand)]
    Policy(super::patch_policy::PolicyCommand),
    /// Every patch of every node on stdout, as JSON Lines or CSV.
    Export {
        #[arg(long)]
        group: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Creates a baseline from a JSON file in AWS's shape (`-` reads stdin).
    Create {
        file: PathBuf,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The baselines, predefined ones first.
    List {
        /// Only DEBIAN or UBUNTU baselines.
        #[arg(long = "operating-system", value_name = "OS")]
        operating_system: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// One baseline, by id or name.
    Show {
        id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Replaces a custom baseline's definition with a JSON file (`-` reads stdin).
    Update {
        id: String,
        file: PathBuf,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Deletes a custom baseline.
    Delete { id: String },
    /// Makes a baseline its operating system's default.
    SetDefault {
        id: String,
        #[command(flatten)]
        output: OutputArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Registers a baseline for a patch group.
    Register {
        #[arg(long)]
        baseline: String,
        group: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Removes a patch group's registration with a baseline.
    Deregister {
        #[arg(long)]
        baseline: String,
        group: String,
    },
    /// The patch groups and their baselines.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Shows, or with KEY sets, the tag key that names a node's patch group.
    TagKey {
        key: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
}

/// Reads and checks a baseline file, so that a mistake is reported with its field before anything is sent.
fn read_baseline(file: &PathBuf) -> Result<serde_json::Value, CliError> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_BASELINE_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(|e| CliError::failed(format!("cannot read stdin: {e}")))?;
        text
    } else {
        let size = std::fs::metadata(file).map_err(|e| CliError::failed(format!("cannot read {}: {e}", file.display())))?.len();
        if size > MAX_BASELINE_BYTES as u64 {
            return Err(CliError::failed(format!("{}: {size} bytes; a baseline is at most {MAX_BASELINE_BYTES}", file.display())));
        }
        std::fs::read_to_string(file).map_err(|e| CliError::failed(format!("cannot read {}: {e}", file.display())))?
    };
    let spec = BaselineSpec::from_json(&text).map_err(|e| CliError::failed(format!("{}: {e}", file.display())))?;
    Ok(serde_json::from_str(&text).unwrap_or_else(|_| spec.to_value()))
}

pub async fn run(ctx: &Context, command: PatchCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let show = |output: &OutputArg, value: serde_json::Value, text: &dyn Fn()| match output.output {
        OutputFormat::Json => print_json(&value),
        OutputFormat::Text => text(),
    };
    match command {
        PatchCommand::Baseline(command) => match command {
            BaselineCommand::Create { file, output } => {
                let created: PatchBaselineView = client.post("/v1/patch/baselines", &read_baseline(&file)?).await?;
                show(&output, as_json(&created), &|| print_baseline(&created));
            }
            BaselineCommand::List { operating_system, output } => {
                let query = operating_system.map(|os| format!("?operatingSystem={}", segment(&os))).unwrap_or_default();
                let all: Vec<PatchBaselineView> = client.get(&format!("/v1/patch/baselines{query}")).await?;
                show(&output, as_json(&all), &|| {
                    let rows: Vec<Vec<String>> = all
                        .iter()
                        .map(|b| {
                            let kind = if b.predefined { "predefined" } else { "custom" };
                            vec![
                                b.id.clone(),
                                b.name.clone(),
                                b.operating_system.clone(),
                                kind.into(),
                                if b.default { "yes" } else { "" }.into(),
                            ]
                        })
                        .collect();
                    print_table(&["ID", "NAME", "OS", "KIND", "DEFAULT"], &rows);
                });
            }
            BaselineCommand::Show { id, output } => {
                let found: PatchBaselineView = client.get(&format!("/v1/patch/baselines/{}", segment(&id))).await?;
                show(&output, as_json(&found), &|| print_baseline(&found));
            }
            BaselineCommand::Update { id, file, output } => {
                let updated: PatchBaselineView =
                    client.put(&format!("/v1/patch/baselines/{}", segment(&id)), &read_baseline(&file)?).await?;
                show(&output, as_json(&updated), &|| print_baseline(&updated));
            }
            BaselineCommand::Delete { id } => {
                client.delete::<()>(&format!("/v1/patch/baselines/{}", segment(&id))).await?;
                crate::outln!("deleted patch baseline {id}");
            }
            BaselineCommand::SetDefault { id, output } => {
                let view: PatchBaselineView = client.post(&format!("/v1/patch/baselines/{}/default", segment(&id)), &()).await?;
                show(&output, as_json(&view), &|| crate::outln!("{} is now the default baseline of {}", view.id, view.operating_system));
            }
        },
        PatchCommand::Group(command) => match command {
            GroupCommand::Register { baseline, group, output } => {
                let body = RegisterPatchGroup { patch_group: group, baseline_id: baseline };
                let view: PatchGroupView = client.post("/v1/patch/groups", &body).await?;
                show(&output, as_json(&view), &|| {
                    crate::outln!("patch group {} uses {} on {} nodes", view.patch_group, view.baseline_id, view.operating_system)
                });
            }
            GroupCommand::Deregister { baseline, group } => {
                let body = RegisterPatchGroup { patch_group: group.clone(), baseline_id: baseline.clone() };
                client.post::<_, ()>("/v1/patch/groups/deregister", &body).await?;
                crate::outln!("patch group {group} no longer uses {baseline}");
            }
            GroupCommand::List { output } => {
                let groups: Vec<PatchGroupView> = client.get("/v1/patch/groups").await?;
                show(&output, as_json(&groups), &|| {
                    let rows: Vec<Vec<String>> =
                        groups.iter().map(|g| vec![g.patch_group.clone(), g.operating_system.clone(), g.baseline_id.clone()]).collect();
                    print_table(&["PATCH GROUP", "OS", "BASELINE"], &rows);
                });
            }
            GroupCommand::TagKey { key, output } => {
                let settings: PatchSettings = match key {
                    Some(key) => client.put("/v1/patch/settings", &PatchSettings { patch_group_tag_key: key }).await?,
                    None => client.get("/v1/patch/settings").await?,
                };
                show(&output, as_json(&settings), &|| crate::outln!("{}", settings.patch_group_tag_key));
            }
        },
        PatchCommand::Compliance { group, node, output } => {
            let query = serde_urlencoded::to_string(
                [("group", group), ("node", node)].iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v))).collect::<Vec<_>>(),
            )
            .unwrap_or_default();
            let nodes: Vec<NodePatchCompliance> = client.get(&format!("/v1/patch/compliance?{query}")).await?;
            show(&output, as_json(&nodes), &|| print_compliance(&nodes));
        }
        PatchCommand::Summary { group, output } => {
            let query = group.map(|g| format!("?group={}", segment(&g))).unwrap_or_default();
            let summary: PatchSummary = client.get(&format!("/v1/patch/compliance/summary{query}")).await?;
            show(&output, as_json(&summary), &|| print_summary(&summary));
        }
        PatchCommand::Policy(command) => super::patch_policy::run(&client, command).await?,
        PatchCommand::Export { group, format } => {
            let query = group.map(|g| format!("?group={}", segment(&g))).unwrap_or_default();
            let path = format!("/v1/patch/compliance/export{query}");
            let mut stdout = std::io::stdout().lock();
            match format {
                ExportFormat::Jsonl => client.get_to(&path, &mut stdout).await?,
                ExportFormat::Csv => {
                    let mut csv = CsvWriter { out: &mut stdout, pending: Vec::new(), header: false };
                    client.get_to(&path, &mut csv).await?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A value as JSON, for `--output json`.
fn as_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn print_baseline(b: &PatchBaselineView) {
    crate::outln!(
        "{} ({}, {}{})",
        b.id,
        b.operating_system,
        if b.predefined { "predefined" } else { "custom" },
        if b.default { ", default" } else { "" }
    );
    if !b.patch_groups.is_empty() {
        crate::outln!("patch groups: {}", b.patch_groups.join(", "));
    }
    crate::outln!("{}", serde_json::to_string_pretty(&b.baseline).unwrap_or_default());
}

fn print_compliance(nodes: &[NodePatchCompliance]) {
    let states = ["Installed", "InstalledOther", "InstalledPendingReboot", "Missing", "Failed"];
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let mut row = vec![n.node_id.clone(), n.status.clone(), n.baseline_id.clone(), n.patch_group.clone().unwrap_or_default()];
            row.extend(states.iter().map(|s| n.counts.get(*s).copied().unwrap_or(0).to_string()));
            row.push(n.reported_at.clone());
            row
        })
        .collect();
    print_table(&["NODE", "STATUS", "BASELINE", "GROUP", "INSTALLED", "OTHER", "PENDING REBOOT", "MISSING", "FAILED", "REPORTED"], &rows);
    for node in nodes {
        if let Some(patches) = &node.patches {
            crate::outln!("");
            let rows: Vec<Vec<String>> = patches
                .iter()
                .filter(|p| p.state != "InstalledOther")
                .map(|p| {
                    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    vec![
                        p.name.clone(),
                        p.state.clone(),
                        p.severity.clone(),
                        version(&p.installed_version),
                        version(&p.available_version),
                        p.classification.clone(),
                    ]
                })
                .collect();
            print_table(&["PACKAGE", "STATE", "SEVERITY", "INSTALLED", "AVAILABLE", "CLASSIFICATION"], &rows);
        }
    }
}

fn print_summary(summary: &PatchSummary) {
    crate::outln!("Nodes reporting: {}  compliant: {}  non-compliant: {}", summary.nodes, summary.compliant, summary.non_compliant);
    crate::outln!("");
    let rows: Vec<Vec<String>> = summary.by_state.iter().map(|(s, n)| vec![s.clone(), n.to_string()]).collect();
    print_table(&["STATE", "PATCHES"], &rows);
    crate::outln!("");
    let rows: Vec<Vec<String>> = summary.non_compliant_by_severity.iter().map(|(s, n)| vec![s.clone(), n.to_string()]).collect();
    print_table(&["SEVERITY", "NON-COMPLIANT PATCHES"], &rows);
}

/// Turns the export's JSON Lines into CSV as they arrive.
struct CsvWriter<'a, W: Write> {
    out: &'a mut W,
    pending: Vec<u8>,
    header: bool,
}

const CSV_COLUMNS: [&str; 8] = ["nodeId", "name", "arch", "installedVersion", "availableVersion", "state", "severity", "classification"];

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

impl<W: Write> Write for CsvWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let row: PatchRow = serde_json::from_slice(&line).map_err(std::io::Error::other)?;
            if !self.header {
                writeln!(self.out, "{}", CSV_COLUMNS.join(","))?;
                self.header = true;
            }
            let value = serde_json::to_value(&row).map_err(std::io::Error::other)?;
            let fields: Vec<String> = CSV_COLUMNS.iter().map(|c| csv_field(value.get(*c).and_then(|v| v.as_str()).unwrap_or(""))).collect();
            writeln!(self.out, "{}", fields.join(","))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_become_csv_rows() {
        let mut out = Vec::new();
        let mut csv = CsvWriter { out: &mut out, pending: Vec::new(), header: false };
        let line = r#"{"nodeId":"mi-1","name":"openssl","arch":"amd64","installedVersion":"3.0","availableVersion":null,"state":"Installed","severity":"UNSPECIFIED","classification":"Sec,urity"}"#;
        csv.write_all(format!("{line}\n{}", &line[..20]).as_bytes()).unwrap();
        csv.write_all(format!("{}\n", &line[20..]).as_bytes()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert_eq!(lines[1], "mi-1,openssl,amd64,3.0,,Installed,UNSPECIFIED,\"Sec,urity\"");
        assert_eq!(lines.len(), 3);
        let mut bad = CsvWriter { out: &mut Vec::new(), pending: Vec::new(), header: false };
        assert!(bad.write_all(b"not json\n").is_err());
    }

    #[test]
    fn baseline_files_are_checked_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, r#"{"Name": "web", "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {}, "ApproveAfterDays": 999}]}}"#)
            .unwrap();
        let e = read_baseline(&file).unwrap_err().message;
        assert!(e.contains("ApproveAfterDays"), "{e}");
        std::fs::write(&file, vec![b' '; MAX_BASELINE_BYTES + 1]).unwrap();
        assert!(read_baseline(&file).unwrap_err().message.contains("at most"));
        std::fs::write(&file, r#"{"Name": "web", "OperatingSystem": "UBUNTU"}"#).unwrap();
        assert_eq!(read_baseline(&file).unwrap()["OperatingSystem"], "UBUNTU");
    }
}
