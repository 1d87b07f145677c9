//! `bosun command`: Run Command from the command line, through the API: send a
//! Command document to targets (with a live progress display under `--wait`),
//! list, show and cancel commands.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bosun_protocol::agent::DocumentText;
use bosun_protocol::command::{CommandView, SendCommand};
use bosun_protocol::{InvocationStatus, Limit, Target};
use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::client::Client;
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum CommandCommand {
    /// Send a Command document to the nodes the targets select.
    Send(SendArgs),
    /// List the latest commands.
    List {
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a command with each node's status, exit code and output.
    Show {
        id: String,
        /// All of the output (by default stdout is cut at 24,000 characters and stderr at 8,000, as SSM does).
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Cancel a command: what has not started will not; running invocations are stopped.
    Cancel {
        id: String,
        #[command(flatten)]
        output: OutputArg,
    },
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// A stored document's name, optionally with `:VERSION` (AWS-RunShellScript works), or a local .yaml/.json file.
    #[arg(long, value_name = "NAME_OR_FILE")]
    pub document: String,
    /// Which nodes: `ids:ID,ID`, `tag:Key=Value[,Value…]` or `group:NAME`; several are ANDed.
    #[arg(long = "targets", value_name = "SPEC", required = true, value_parser = parse_target)]
    pub targets: Vec<Target>,
    /// A parameter value; give a StringList parameter once per item.
    #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
    /// How many nodes run it at once: N or N% (default 50).
    #[arg(long, value_name = "N|N%")]
    pub max_concurrency: Option<Limit>,
    /// How many failures to allow before dispatch stops: N or N% (default 0).
    #[arg(long, value_name = "N|N%")]
    pub max_errors: Option<Limit>,
    /// The execution timeout per node, in seconds (default 3600).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// How long a node may take to pick the command up, in seconds (default 3600).
    #[arg(long, value_name = "SECONDS")]
    pub delivery_timeout: Option<u64>,
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Wait until every invocation has ended; exit 0 only if all succeeded.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

pub(crate) fn parse_target(spec: &str) -> Result<Target, String> {
    Target::parse(spec).map_err(|e| e.0)
}

/// `-p` flags as API parameters: a name given more than once becomes a list.
pub(crate) fn parameters(flags: &[String]) -> Result<Map<String, Value>, CliError> {
    let mut map = Map::new();
    for flag in flags {
        let (name, value) =
            flag.split_once('=').ok_or_else(|| CliError::usage(format!("-p {flag:?}: write NAME=VALUE (e.g. -p commands='uptime')")))?;
        if name.is_empty() {
            return Err(CliError::usage(format!("-p {flag:?}: the parameter name is empty")));
        }
        let value = Value::String(value.to_string());
        match map.get_mut(name) {
            None => {
                map.insert(name.to_string(), value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    Ok(map)
}

/// The document fields of a send request: a stored name and version, or a document's text.
#[derive(Debug, PartialEq, Eq)]
struct DocumentChoice {
    name: Option<String>,
    version: Option<String>,
    text: Option<DocumentText>,
}

/// The document part of a send: a local file when the argument names one, else a stored name with an optional `:VERSION`.
fn document(argument: &str) -> Result<DocumentChoice, CliError> {
    let path = Path::new(argument);
    let looks_like_file = path.is_file() || argument.contains('/') || [".yaml", ".yml", ".json"].iter().any(|e| argument.ends_with(e));
    if looks_like_file {
        let content =
            std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read the document file {argument}: {e}")))?;
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| argument.to_string());
        let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file_name.clone());
        return Ok(DocumentChoice { name: None, version: None, text: Some(DocumentText { name, file_name, content }) });
    }
    Ok(match argument.rsplit_once(':') {
        Some((name, version)) => DocumentChoice { name: Some(name.to_string()), version: Some(version.to_string()), text: None },
        None => DocumentChoice { name: Some(argument.to_string()), version: None, text: None },
    })
}

pub async fn run(ctx: &Context, command: CommandCommand) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    match command {
        CommandCommand::Send(args) => send(&client, args).await,
        CommandCommand::List { limit, output } => {
            let list: Vec<CommandView> = client.get(&format!("/v1/commands?limit={limit}")).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&list).unwrap_or(Value::Null)),
                OutputFormat::Text => crate::out!("{}", list_text(&list)),
            }
            Ok(ExitCode::SUCCESS)
        }
        CommandCommand::Show { id, full, output } => {
            let view: CommandView = client.get(&format!("/v1/commands/{}?full={full}", path_segment(&id)?)).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&view).unwrap_or(Value::Null)),
                OutputFormat::Text => crate::out!("{}", show_text(&view)),
            }
            Ok(ExitCode::SUCCESS)
        }
        CommandCommand::Cancel { id, output } => {
            let view: CommandView = client.post(&format!("/v1/commands/{}/cancel", path_segment(&id)?), &json!({})).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&view).unwrap_or(Value::Null)),
                OutputFormat::Text => crate::outln!("command {}: {}", view.command_id, view.status),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A command id as a URL path segment: ids are uuids, so anything else is refused here.
fn path_segment(id: &str) -> Result<&str, CliError> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(CliError::usage(format!("{id:?} is not a command id")))
    }
}

async fn send(client: &Client, args: SendArgs) -> Result<ExitCode, CliError> {
    let choice = document(&args.document)?;
    let request = SendCommand {
        document_name: choice.name,
        document_version: choice.version,
        document: choice.text,
        targets: args.targets,
        parameters: parameters(&args.parameters)?,
        max_concurrency: args.max_concurrency,
        max_errors: args.max_errors,
        timeout_seconds: args.timeout,
        delivery_timeout_seconds: args.delivery_timeout,
        comment: args.comment,
    };
    let sent: CommandView = client.post("/v1/commands", &request).await?;
    if !args.wait {
        match args.output.output {
            OutputFormat::Json => print_json(&serde_json::to_value(&sent).unwrap_or(Value::Null)),
            OutputFormat::Text => crate::outln!("{}", sent.command_id),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let view = wait(client, &sent.command_id, args.output.output == OutputFormat::Text && std::io::stderr().is_terminal()).await?;
    match args.output.output {
        OutputFormat::Json => print_json(&final_json(&view)),
        OutputFormat::Text => crate::out!("{}", show_text(&view)),
    }
    let all_succeeded = !view.invocations.is_empty() && view.invocations.iter().all(|i| i.status == InvocationStatus::Success);
    Ok(if all_succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Polls the command until it ends, drawing the progress line on a terminal; returns it with every invocation.
async fn wait(client: &Client, id: &str, progress: bool) -> Result<CommandView, CliError> {
    let started = Instant::now();
    loop {
        let summary: CommandView = client.get(&format!("/v1/commands/{id}?summary=true")).await?;
        if progress {
            draw(&progress_line(&summary, started.elapsed()));
        }
        if summary.status.is_terminal() {
            if progress {
                crate::errln!();
            }
            return client.get(&format!("/v1/commands/{id}?full=true")).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Redraws the progress line in place on stderr.
fn draw(line: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r\x1b[2K{line}");
    let _ = stderr.flush();
}

/// `[#####-----] 12/50  Success 10  Failed 2  InProgress 5  Pending 33  4.2s`
pub fn progress_line(view: &CommandView, elapsed: Duration) -> String {
    const WIDTH: usize = 30;
    let total = view.target_count.max(1) as usize;
    let done = (view.completed_count as usize * WIDTH) / total;
    let counts: Vec<String> = view.counts.iter().filter(|(_, n)| **n > 0).map(|(s, n)| format!("{s} {n}")).collect();
    format!(
        "[{}{}] {}/{}  {}  {:.1}s",
        "#".repeat(done),
        "-".repeat(WIDTH - done),
        view.completed_count,
        view.target_count,
        counts.join("  "),
        elapsed.as_secs_f64()
    )
}

/// The JSON that `send --wait --output json` prints.
fn final_json(view: &CommandView) -> Value {
    let invocations: Vec<Value> = view
        .invocations
        .iter()
        .map(|i| json!({"nodeId": i.node_id, "status": i.status, "exitCode": i.exit_code, "stdout": i.stdout, "stderr": i.stderr}))
        .collect();
    json!({"commandId": view.command_id, "status": view.status, "invocations": invocations})
}

fn list_text(list: &[CommandView]) -> String {
    let mut out = format!("{:<36}  {:<24}  {:<10}  {:>7}  {:>6}  REQUESTED\n", "COMMAND", "DOCUMENT", "STATUS", "DONE", "ERRORS");
    for c in list {
        out.push_str(&format!(
            "{:<36}  {:<24}  {:<10}  {:>7}  {:>6}  {}\n",
            c.command_id,
            c.document_name,
            c.status.as_str(),
            format!("{}/{}", c.completed_count, c.target_count),
            c.error_count,
            c.requested_at
        ));
    }
    out
}

fn show_text(view: &CommandView) -> String {
    let mut out = format!(
        "command {}  {}  document {}{}\nrequested {} by {}; MaxConcurrency {}, MaxErrors {}, timeout {}s\n",
        view.command_id,
        view.status,
        view.document_name,
        view.document_version.map(|v| format!(":{v}")).unwrap_or_default(),
        view.requested_at,
        view.requested_by,
        view.max_concurrency,
        view.max_errors,
        view.timeout_seconds,
    );
    for i in &view.invocations {
        let code = i.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
        out.push_str(&format!("\n== {}  {}  exit {}\n", i.node_id, i.status, code));
        if !i.stdout.is_empty() {
            out.push_str(&i.stdout);
            if !i.stdout.ends_with('\n') {
                out.push('\n');
            }
        }
        if !i.stderr.is_empty() {
            out.push_str("-- stderr --\n");
            out.push_str(&i.stderr);
            if !i.stderr.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_become_lists() {
        let map =
            parameters(&["commands=echo a".into(), "commands=echo b".into(), "workingDirectory=/tmp".into(), "x=a=b".into()]).unwrap();
        assert_eq!(map["commands"], json!(["echo a", "echo b"]));
        assert_eq!(map["workingDirectory"], json!("/tmp"));
        assert_eq!(map["x"], json!("a=b"));
        assert!(parameters(&["novalue".into()]).is_err());
        assert!(parameters(&["=x".into()]).is_err());
    }

    #[test]
    fn documents_by_name_version_or_file() {
        let stored =
            |name: &str, version: Option<&str>| DocumentChoice { name: Some(name.into()), version: version.map(Into::into), text: None };
        assert_eq!(document("AWS-RunShellScript").unwrap(), stored("AWS-RunShellScript", None));
        assert_eq!(document("Bosun-RunShellScript:2").unwrap(), stored("Bosun-RunShellScript", Some("2")));
        assert!(document("./missing.yaml").unwrap_err().message.contains("cannot read"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hello.yaml");
        std::fs::write(&file, "schemaVersion: '2.2'\n").unwrap();
        let text = document(file.to_str().unwrap()).unwrap().text.unwrap();
        assert_eq!((text.name.as_str(), text.file_name.as_str()), ("hello", "hello.yaml"));
    }

    #[test]
    fn command_ids_are_checked_before_they_enter_a_url() {
        assert!(path_segment("3f1c2a9e-0000-4000-8000-000000000000").is_ok());
        assert!(path_segment("../tokens").is_err());
        assert!(path_segment("").is_err());
    }
}
