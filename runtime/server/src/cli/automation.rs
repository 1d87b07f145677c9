//! `bosun automation`: run a document locally or against a data directory,
//! start executions for `bosun dev` to drive, read them, and send them signals
//! (approve, reject, resume, cancel).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bosun_document::params::ParamInput;
use bosun_engine::{DocumentSnapshot, Engine, ExecutionStatus, SignalKind, StartRequest, StoredExecution};
use bosun_store::{NewDocument, Store};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::{CliError, Context, LockHolder, checking_engine, engine, open_store, open_store_with_builtins, take_engine_lock};
use crate::output::{OutputArg, OutputFormat, execution_json, execution_text, executions_text, print_json, trace_line};
use crate::runbooks::document_facts;

#[derive(Debug, Subcommand)]
pub enum AutomationCommand {
    /// Run a document to completion. Exit code 0 when it ends with Success, 1 otherwise.
    Run(RunArgs),
    /// Create an execution for `bosun dev` to drive and print its id.
    Start(StartArgs),
    /// Show an execution with its steps.
    Get {
        execution_id: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List executions, newest first.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Approve the aws:approve step an execution waits on.
    Approve(DecisionArgs),
    /// Reject the aws:approve step an execution waits on (the step fails).
    Reject(DecisionArgs),
    /// Resume an execution paused at an aws:pause step.
    Resume { execution_id: String },
    /// Cancel an execution.
    Cancel { execution_id: String },
}

/// Which document to run, with what.
#[derive(Debug, Args)]
pub struct Target {
    /// The document file (YAML or JSON); its file stem names the execution's document.
    #[arg(value_name = "FILE", required_unless_present = "document", conflicts_with = "document")]
    pub file: Option<PathBuf>,
    /// A stored document, by name.
    #[arg(long, value_name = "NAME")]
    pub document: Option<String>,
    /// The version of --document: a number, $LATEST or $DEFAULT (the default).
    #[arg(long, value_name = "VERSION", requires = "document")]
    pub document_version: Option<String>,
    /// A parameter value, as text (coerced to the declared type).
    #[arg(short = 'p', long = "parameter", value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
    /// A JSON file holding the response a step returns instead of running its action.
    #[arg(long = "mock", value_name = "STEP=FILE.json")]
    pub mocks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: Target,
    /// Run in a throw-away store, with the built-in documents and those of --document-dir.
    #[arg(long)]
    pub local: bool,
    /// With --local: a directory of extra documents (file stem = document name) for aws:executeAutomation.
    #[arg(long, value_name = "DIR", requires = "local")]
    pub document_dir: Vec<PathBuf>,
    /// Print every step start and end, and the end of the execution, on stderr as they happen.
    #[arg(long)]
    pub trace: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Args)]
pub struct DecisionArgs {
    pub execution_id: String,
    /// Who decides (default: $USER, $LOGNAME or $USERNAME, else "operator").
    #[arg(long)]
    pub approver: Option<String>,
    #[arg(long)]
    pub comment: Option<String>,
}

pub async fn run(ctx: &Context, command: AutomationCommand) -> Result<ExitCode, CliError> {
    match command {
        AutomationCommand::Run(args) if args.local => run_local(ctx, args).await,
        AutomationCommand::Run(args) => {
            let _lock = take_engine_lock(&ctx.data_dir, LockHolder::Run)?;
            let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
            let engine = engine(&store, &ctx.data_dir, None)?;
            let request = request(&store, &args.target)?;
            run_to_end(&engine, request, args.trace, args.output.output).await
        }
        AutomationCommand::Start(args) => {
            let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
            let engine = checking_engine(&store, &ctx.data_dir)?;
            let request = request(&store, &args.target)?;
            let id = engine.create(request).await?;
            match args.output.output {
                OutputFormat::Json => print_json(&json!({"executionId": id})),
                OutputFormat::Text => crate::outln!("{id}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AutomationCommand::Get { execution_id, output } => {
            let store = open_store(&ctx.data_dir, ctx.durability)?;
            let execution =
                store.load_execution(&execution_id)?.ok_or_else(|| CliError::failed(format!("no execution with id {execution_id}")))?;
            show(&execution, output.output);
            Ok(ExitCode::SUCCESS)
        }
        AutomationCommand::List { limit, output } => {
            let list = open_store(&ctx.data_dir, ctx.durability)?.list_executions(limit)?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&list).unwrap_or(Value::Null)),
                OutputFormat::Text => crate::out!("{}", executions_text(&list)),
            }
            Ok(ExitCode::SUCCESS)
        }
        AutomationCommand::Approve(args) => signal(ctx, &args.execution_id, SignalKind::Approve, args.approver, args.comment).await,
        AutomationCommand::Reject(args) => signal(ctx, &args.execution_id, SignalKind::Reject, args.approver, args.comment).await,
        AutomationCommand::Resume { execution_id } => signal(ctx, &execution_id, SignalKind::Resume, None, None).await,
        AutomationCommand::Cancel { execution_id } => signal(ctx, &execution_id, SignalKind::Cancel, None, None).await,
    }
}

fn show(execution: &StoredExecution, output: OutputFormat) {
    match output {
        OutputFormat::Json => print_json(&execution_json(execution)),
        OutputFormat::Text => crate::out!("{}", execution_text(execution)),
    }
}

/// The user name decisions are recorded under when --approver is not given.
fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "operator".into())
}

async fn signal(ctx: &Context, id: &str, kind: SignalKind, actor: Option<String>, comment: Option<String>) -> Result<ExitCode, CliError> {
    let store = open_store(&ctx.data_dir, ctx.durability)?;
    let engine = checking_engine(&store, &ctx.data_dir)?;
    let actor = actor.unwrap_or_else(os_user);
    engine.signal(id, kind, &actor, comment).await?;
    let what = match kind {
        SignalKind::Approve => "approval",
        SignalKind::Reject => "rejection",
        SignalKind::Resume => "resume request",
        SignalKind::Cancel => "cancel request",
    };
    crate::outln!("{id}: {what} recorded (by {actor})");
    Ok(ExitCode::SUCCESS)
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
}

fn parameters(given: &[String]) -> Result<Vec<(String, ParamInput)>, CliError> {
    given
        .iter()
        .map(|p| match p.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), ParamInput::Text(value.to_string()))),
            _ => Err(CliError::usage(format!("-p expects Name=Value, got \"{p}\""))),
        })
        .collect()
}

fn mocks(given: &[String]) -> Result<Map<String, Value>, CliError> {
    let mut mocks = Map::new();
    for m in given {
        let Some((step, file)) = m.split_once('=').filter(|(s, f)| !s.is_empty() && !f.is_empty()) else {
            return Err(CliError::usage(format!("--mock expects STEP=FILE.json, got \"{m}\"")));
        };
        let text = std::fs::read_to_string(file).map_err(|e| CliError::usage(format!("--mock {step}: cannot read {file}: {e}")))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| CliError::usage(format!("--mock {step}: {file} is not valid JSON: {e}")))?;
        let Value::Object(response) = value else {
            return Err(CliError::usage(format!("--mock {step}: {file} must hold a JSON object (the step's response)")));
        };
        if mocks.insert(step.to_string(), Value::Object(response)).is_some() {
            return Err(CliError::usage(format!("--mock names step \"{step}\" more than once")));
        }
    }
    Ok(mocks)
}

fn file_snapshot(path: &Path) -> Result<DocumentSnapshot, CliError> {
    let text = read_text(path)?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("document").to_string();
    Ok(DocumentSnapshot { name, version: None, file_name: path.display().to_string(), text })
}

/// What to start, from the command line: the document, parameters and mocks.
fn request(store: &Store, target: &Target) -> Result<StartRequest, CliError> {
    let document = match (&target.file, &target.document) {
        (Some(path), _) => file_snapshot(path)?,
        (None, Some(name)) => {
            let version = target.document_version.as_deref();
            let (_, snapshot) = store.get_document(name, version)?.ok_or_else(|| match version {
                Some(v) => CliError::usage(format!("document \"{name}\" has no version {v}")),
                None => CliError::usage(format!("no document named \"{name}\" (see `bosun doc list`)")),
            })?;
            snapshot
        }
        (None, None) => return Err(CliError::usage("give a document FILE or --document NAME")),
    };
    Ok(StartRequest { document, parameters: parameters(&target.parameters)?, mocks: mocks(&target.mocks)? })
}

async fn run_local(ctx: &Context, args: RunArgs) -> Result<ExitCode, CliError> {
    let dir = tempfile::tempdir().map_err(|e| CliError::failed(format!("cannot create a temporary directory: {e}")))?;
    let store = open_store_with_builtins(dir.path(), ctx.durability)?;
    for documents in &args.document_dir {
        load_document_dir(&store, documents)?;
    }
    let engine = engine(&store, &ctx.data_dir, None)?;
    let request = request(&store, &args.target)?;
    let code = run_to_end(&engine, request, args.trace, args.output.output).await;
    drop(engine);
    drop(store);
    code
}

/// Stores every `.yaml`, `.yml` and `.json` file of a directory as a document named by its file stem.
fn load_document_dir(store: &Store, dir: &Path) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::usage(format!("cannot read --document-dir {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .collect();
    files.sort();
    for path in files {
        let text = read_text(&path)?;
        let shown = path.display().to_string();
        let (document_type, schema_version) = document_facts(&shown, &text)
            .map_err(|errors| CliError::usage(format!("{shown} is not a valid document:\n{}", errors.join("\n"))))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let file_name = path.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        store
            .create_document(&NewDocument {
                name,
                file_name,
                content: &text,
                document_type: &document_type,
                schema_version: &schema_version,
            })
            .map_err(|e| CliError::usage(format!("{shown}: {e}")))?;
    }
    Ok(())
}

/// Starts the execution in this process and drives it to its end.
async fn run_to_end(engine: &Arc<Engine>, request: StartRequest, trace: bool, output: OutputFormat) -> Result<ExitCode, CliError> {
    let mut events = trace.then(|| engine.subscribe());
    let id = engine.start(request).await?;
    let finished = {
        let wait = engine.wait(&id);
        tokio::pin!(wait);
        loop {
            let Some(rx) = events.as_mut() else {
                break (&mut wait).await?;
            };
            tokio::select! {
                biased;
                event = rx.recv() => match event {
                    Ok(event) => crate::errln!("{}", trace_line(&event)),
                    Err(broadcast::error::RecvError::Lagged(n)) => crate::errln!("({n} trace events were dropped)"),
                    Err(broadcast::error::RecvError::Closed) => events = None,
                },
                result = &mut wait => {
                    let finished = result?;
                    print_until_end(rx, &id, &finished.record.status.to_string()).await;
                    break finished;
                }
            }
        }
    };
    show(&finished, output);
    Ok(if finished.record.status == ExecutionStatus::Success { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Prints the trace events still on their way once the execution has ended: the engine
/// broadcasts a transition just after committing it, so the wait can see the end in the
/// store first. Stops at the execution's own final event (or if none comes within a
/// second, as when events were dropped).
async fn print_until_end(rx: &mut broadcast::Receiver<bosun_engine::TraceEvent>, id: &str, status: &str) {
    let is_end = |event: &bosun_engine::TraceEvent| event.execution_id == id && event.step.is_none() && event.status == status;
    while let Ok(Ok(event)) = tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv()).await {
        crate::errln!("{}", trace_line(&event));
        if is_end(&event) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_need_a_name_and_an_equals_sign() {
        assert_eq!(parameters(&["A=1".into(), "B=x=y".into()]).unwrap().len(), 2);
        assert_eq!(parameters(&["B=x=y".into()]).unwrap()[0].1, ParamInput::Text("x=y".into()));
        assert_eq!(parameters(&["A".into()]).unwrap_err().code, 2);
        assert_eq!(parameters(&["=1".into()]).unwrap_err().code, 2);
    }

    #[test]
    fn mocks_must_be_json_objects() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        let list = dir.path().join("list.json");
        std::fs::write(&good, r#"{"A": 1}"#).unwrap();
        std::fs::write(&bad, "{").unwrap();
        std::fs::write(&list, "[1]").unwrap();
        let arg = |p: &Path| format!("S={}", p.display());
        assert_eq!(mocks(&[arg(&good)]).unwrap()["S"], json!({"A": 1}));
        assert!(mocks(&[arg(&bad)]).unwrap_err().message.contains("not valid JSON"));
        assert!(mocks(&[arg(&list)]).unwrap_err().message.contains("JSON object"));
        assert!(mocks(&["S".into()]).unwrap_err().message.contains("STEP=FILE.json"));
        assert!(mocks(&[arg(&dir.path().join("none.json"))]).unwrap_err().message.contains("cannot read"));
    }
}
