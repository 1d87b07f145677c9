//! The command line: global flags, the command tree, errors with exit codes,
//! and what several commands share (opening the store, building an engine,
//! the engine lock of a data directory).

pub mod activation;
pub mod association;
pub mod audit;
pub mod automation;
pub mod client;
pub mod cloud;
pub mod command;
pub mod dev;
pub mod dev_agent;
pub mod dev_env;
pub mod doc;
pub mod drive;
pub mod event;
pub mod fleet;
pub mod group;
pub mod hook;
pub mod inventory;
pub mod mw;
pub mod node;
pub mod opsitem;
pub mod package;
pub mod param;
pub mod patch;
pub mod patch_policy;
pub mod plugin;
pub mod plugin_new;
pub mod plugin_trust;
pub mod rule;
pub mod schedule;
pub mod server;
pub mod session;
pub mod session_forward;
pub mod session_term;
pub mod token;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bosun_engine::{Engine, EngineConfig, EngineError, StoreError};
use bosun_store::{Durability, Store};
use clap::{Parser, Subcommand, ValueEnum};

use crate::bench;
use crate::run_command::RunCommand;
use crate::run_command::automation::Actions;

/// Bosun: a self-hosted Systems Manager. Runs SSM Automation documents durably.
#[derive(Debug, Parser)]
#[command(name = "bosun", version, about)]
pub struct Cli {
    /// Format of the log lines written to stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Directory holding the database (created when missing).
    #[arg(long, global = true, env = "BOSUN_DATA_DIR", default_value = "./bosun-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// normal: survives a crash of the process; full: also survives a power loss (slower).
    #[arg(long, global = true, value_enum, default_value_t = DurabilityArg::Normal)]
    pub durability: DurabilityArg,
    /// The URL of a running Bosun, for the commands that call its API.
    #[arg(long, global = true, env = "BOSUN_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// The API token for --endpoint.
    #[arg(long, global = true, env = "BOSUN_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A CA certificate (PEM) to trust for an https:// --endpoint, e.g. a self-signed server's.
    #[arg(long, global = true, env = "BOSUN_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    Normal,
    Full,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate and manage documents.
    #[command(subcommand)]
    Doc(doc::DocCommand),
    /// Run Automation documents and act on their executions.
    #[command(subcommand)]
    Automation(automation::AutomationCommand),
    /// Build, test, install and inspect WebAssembly plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run Bosun on this machine: drive the executions of the data directory.
    Dev(dev::DevArgs),
    /// Serve the HTTP API and drive the executions of the data directory.
    Server(server::ServerArgs),
    /// Run Command: send Command documents to nodes and read their results (through the API).
    #[command(subcommand, name = "command")]
    Commands(command::CommandCommand),
    /// Create, list and delete the activations that node agents register with (through the API).
    #[command(subcommand)]
    Activation(activation::ActivationCommand),
    /// List and show nodes, change their tags, deregister them (through the API).
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// The cloud configuration of signed calls: show it (never a key), check it with one call (through the API).
    #[command(subcommand)]
    Cloud(cloud::CloudCommand),
    /// Create, list, show and delete resource groups: nodes chosen by their tags (through the API).
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Webhook triggers: create, list, rotate the secret of and delete hooks (through the API).
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Event-pattern rules and their targets (through the API); `rule test` matches a pattern file locally.
    #[command(subcommand)]
    Rule(rule::RuleCommand),
    /// Read the event log and the dead-letter list of deliveries (through the API).
    #[command(subcommand)]
    Event(event::EventCommand),
    /// OpsCenter: list, show and update OpsItems, run a runbook from one (through the API).
    #[command(subcommand)]
    Opsitem(opsitem::OpsItemCommand),
    /// The audit trail of state-changing calls and execution starts (through the API).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Parameter Store: put, read, label and delete parameters (through the API); rotate-key works on the data directory.
    #[command(subcommand)]
    Param(param::ParamCommand),
    /// Create, list and revoke the admin tokens of the HTTP API.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// State Manager: associations that keep documents applied to nodes, and compliance (through the API).
    #[command(subcommand)]
    Association(association::AssociationCommand),
    /// Inventory: enable gathering on nodes, query, summarise, show and export it (through the API).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Patch Manager: baselines, patch groups, compliance and its export (through the API).
    #[command(subcommand)]
    Patch(patch::PatchCommand),
    /// Maintenance Windows: scheduled windows that run tasks by priority (through the API).
    #[command(subcommand)]
    Mw(mw::MwCommand),
    /// Session Manager: interactive shells, commands and port forwarding on nodes, recorded (through the API).
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Distributor: create, list, show and delete packages and their versions (through the API).
    #[command(subcommand)]
    Package(package::PackageCommand),
    /// Check schedule expressions: print their next fire times.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Measure the store and the engine, and print a table.
    Bench(Box<bench::BenchArgs>),
}

/// A failed command: a message for people and the process exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Something went wrong while doing what was asked (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }

    /// What was asked is not valid: a bad value, an invalid document, an unknown name (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::failed(e.to_string())
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidDocument(_) | EngineError::InvalidParameters(_) | EngineError::InvalidRequest(_) => {
                Self::usage(e.to_string())
            }
            _ => Self::failed(e.to_string()),
        }
    }
}

/// The global settings every command sees.
#[derive(Debug, Clone)]
pub struct Context {
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub endpoint: Option<String>,
    pub token: Option<String>,
    pub ca_cert: Option<PathBuf>,
}

pub fn init_logging(cli: &Cli) {
    let default = if matches!(cli.command, Command::Dev(_) | Command::Server(_)) { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The SigV4 signer traces the requests it signs, with the access key id: never shown.
    let filter = filter.add_directive("aws_sigv4=off".parse().expect("a constant directive"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let _ = match cli.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let ctx = Context {
        data_dir: cli.data_dir,
        durability: match cli.durability {
            DurabilityArg::Normal => Durability::Normal,
            DurabilityArg::Full => Durability::Full,
        },
        endpoint: cli.endpoint,
        token: cli.token,
        ca_cert: cli.ca_cert,
    };
    match cli.command {
        Command::Bench(args) => bench::run(&args).map(|()| ExitCode::SUCCESS).map_err(CliError::failed),
        Command::Doc(command) => doc::run(&ctx, command),
        Command::Automation(command) => block_on(automation::run(&ctx, command)),
        Command::Plugin(command) => block_on(plugin::run(&ctx, command)),
        Command::Dev(args) => block_on(dev::run(&ctx, args)),
        Command::Server(args) => block_on(server::run(&ctx, args)),
        Command::Token(command) => token::run(&ctx, command),
        Command::Commands(command) => block_on(command::run(&ctx, command)),
        Command::Activation(command) => block_on(activation::run(&ctx, command)),
        Command::Node(command) => block_on(node::run(&ctx, command)),
        Command::Cloud(command) => block_on(cloud::run(&ctx, command)),
        Command::Group(command) => block_on(group::run(&ctx, command)),
        Command::Hook(command) => block_on(hook::run(&ctx, command)),
        Command::Rule(command) => block_on(rule::run(&ctx, command)),
        Command::Event(command) => block_on(event::run(&ctx, command)),
        Command::Opsitem(command) => block_on(opsitem::run(&ctx, command)),
        Command::Audit(command) => block_on(audit::run(&ctx, command)),
        Command::Param(command) => block_on(param::run(&ctx, command)),
        Command::Association(command) => block_on(association::run(&ctx, command)),
        Command::Schedule(command) => schedule::run(command),
        Command::Mw(command) => block_on(mw::run(&ctx, command)),
        Command::Inventory(command) => block_on(inventory::run(&ctx, command)),
        Command::Patch(command) => block_on(patch::run(&ctx, command)),
        Command::Session(command) => block_on(session::run(&ctx, command)),
        Command::Package(command) => block_on(package::run(&ctx, command)),
    }
}

fn block_on<T>(future: impl Future<Output = Result<T, CliError>>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(future);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Opens the store of a directory as it is, for commands that only read it or send signals.
pub fn open_store(dir: &Path, durability: Durability) -> Result<Arc<Store>, CliError> {
    let store =
        Store::open(dir, durability).map_err(|e| CliError::failed(format!("cannot open the data directory {}: {e}", dir.display())))?;
    Ok(Arc::new(store))
}

/// Opens the store of a directory and loads the built-in plugins and documents into
/// it (a write, and a new version when a built-in changed): for the commands that
/// run or start executions and those that change documents or plugins.
pub fn open_store_with_builtins(dir: &Path, durability: Durability) -> Result<Arc<Store>, CliError> {
    let store = open_store(dir, durability)?;
    crate::plugins::load_builtins(&store).map_err(CliError::failed)?;
    crate::runbooks::load_builtins(&store).map_err(CliError::failed)?;
    Ok(store)
}

/// An engine over a store, running control flow, `bosun:echo`, the installed plugins
/// and, given a Run Command service, `aws:runCommand`.
pub fn engine(store: &Arc<Store>, data_dir: &Path, run_command: Option<Arc<RunCommand>>) -> Result<Arc<Engine>, CliError> {
    let parameters = crate::params::Parameters::new(store.clone(), crate::params::key::configured(data_dir)?);
    let cloud = crate::cloud::access(data_dir, parameters.clone()).map_err(CliError::failed)?;
    let plugins = crate::plugins::PluginDispatcher::new(store.clone(), data_dir).map_err(CliError::failed)?.with_cloud(cloud);
    if let Some(run_command) = &run_command {
        run_command.set_parameters(parameters.clone());
    }
    let actions = Actions { plugins, run_command };
    let engine = Engine::new(store.clone(), Arc::new(actions), store.clone(), EngineConfig::default());
    engine.set_parameter_source(parameters);
    Ok(engine)
}

/// An engine for the commands that only check or create executions, which the
/// server then drives: every action the server runs counts as available.
pub fn checking_engine(store: &Arc<Store>, data_dir: &Path) -> Result<Arc<Engine>, CliError> {
    engine(store, data_dir, Some(RunCommand::new(store.clone())))
}

/// The action catalog of `doc validate`: an engine over the data directory's
/// store when it has one (read, never written), so installed plugins count, or
/// else over a throw-away store holding the built-ins.
pub fn catalog_engine(ctx: &Context) -> Result<(Arc<Engine>, Option<tempfile::TempDir>), CliError> {
    if ctx.data_dir.join("bosun.db").is_file() {
        let store = open_store(&ctx.data_dir, ctx.durability)?;
        return Ok((checking_engine(&store, &ctx.data_dir)?, None));
    }
    let dir = tempfile::tempdir().map_err(|e| CliError::failed(format!("cannot create a temporary directory: {e}")))?;
    let store = open_store_with_builtins(dir.path(), Durability::Normal)?;
    Ok((checking_engine(&store, dir.path())?, Some(dir)))
}

/// Writes a file only its owner may read (mode 0600): a secret key, an env file
/// with a token. With `replace`, an existing file is overwritten and its mode
/// set; without, an existing file is an error.
pub fn write_owner_only(path: &Path, text: &str, replace: bool) -> Result<(), CliError> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let fail = |e: std::io::Error| CliError::failed(format!("cannot write {}: {e}", path.display()));
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(fail)?;
    // The mode applies only when the file is created; an older file may have another.
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

/// Who takes the engine lock, for the message when it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockHolder {
    Dev,
    Run,
}

/// Held by the one process that drives the executions of a data directory.
#[derive(Debug)]
pub struct EngineLock {
    _file: File,
}

/// Takes `<data-dir>/engine.lock`, or says who to ask instead.
pub fn take_engine_lock(dir: &Path, holder: LockHolder) -> Result<EngineLock, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::failed(format!("cannot create the data directory {}: {e}", dir.display())))?;
    let path = dir.join("engine.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CliError::failed(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(EngineLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(CliError::failed(match holder {
            LockHolder::Run => format!(
                "another bosun process (bosun dev or bosun automation run) is driving the executions of {}; \
                 while `bosun dev` runs, use `bosun automation start --data-dir {}` instead",
                dir.display(),
                dir.display()
            ),
            LockHolder::Dev => {
                format!("another bosun process is already driving the executions of {} ({} is locked)", dir.display(), path.display())
            }
        })),
        Err(TryLockError::Error(e)) => Err(CliError::failed(format!("cannot lock {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn builtin_runbooks_run_with_what_this_build_has() {
        let ctx = Context {
            data_dir: PathBuf::from("/nonexistent/bosun-data"),
            durability: Durability::Normal,
            endpoint: None,
            token: None,
            ca_cert: None,
        };
        let (engine, _dir) = catalog_engine(&ctx).unwrap();
        // What a node runs: the agent's actions and the built-in plugins' (aws:configurePackage).
        let builtins = tempfile::tempdir().unwrap();
        let store = open_store_with_builtins(builtins.path(), Durability::Normal).unwrap();
        let node = crate::run_command::send::NodeCatalog::of(&store).unwrap();
        for (name, file_name, text) in crate::runbooks::BUILTINS {
            if crate::runbooks::document_facts(file_name, text).unwrap().0 == "Command" {
                let loaded = bosun_document::load(file_name, text, &node);
                assert!(loaded.valid().is_some(), "{name}: {:?}", loaded.diagnostics);
                continue;
            }
            let snapshot = bosun_engine::DocumentSnapshot {
                name: name.to_string(),
                version: None,
                file_name: file_name.to_string(),
                text: text.to_string(),
            };
            if let Err(e) = engine.check_document(&snapshot, &Default::default()) {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn the_engine_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let held = take_engine_lock(dir.path(), LockHolder::Dev).unwrap();
        let err = take_engine_lock(dir.path(), LockHolder::Run).unwrap_err();
        assert!(err.message.contains("bosun automation start"), "{}", err.message);
        drop(held);
        take_engine_lock(dir.path(), LockHolder::Dev).unwrap();
    }
}
