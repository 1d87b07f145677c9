//! `bosun plugin …`: scaffold, build, test in the real sandbox, install with
//! grants, and look at installed plugins.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bosun_plugin_host::{CallOutcome, Grant, HostConfig, HostKind, Limits, Manifest, PluginHost, StaticParameters, sha256_hex};
use bosun_store::{InstalledPlugin, NewPlugin};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CliError, Context, open_store_with_builtins};
use crate::outln;
use crate::output::{OutputArg, OutputFormat, print_json};
use crate::plugins::{cache_dir, parse_grants};

/// The largest .wasm file the CLI reads.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate that builds and whose test passes.
    New(super::plugin_new::NewArgs),
    /// Build a plugin crate for wasm32-wasip2 and embed its manifest.
    Build(super::plugin_new::BuildArgs),
    /// Run a plugin in the real sandbox and print its outputs, logs, denials, time and memory.
    Test(TestArgs),
    /// Install a plugin with the capabilities you grant it.
    Install(InstallArgs),
    /// Replace the grants of an installed plugin (every version).
    Grant {
        name: String,
        /// A capability, e.g. fs:ro:/var/lib/dpkg (repeatable; none revokes every grant).
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
    },
    /// List installed plugins.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a plugin's manifest, ABI and requested capabilities: a .wasm file, or NAME[@VERSION] installed.
    Inspect {
        target: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the installed versions of a plugin.
    Versions {
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Remove an installed plugin: NAME (every version) or NAME@VERSION.
    Remove { target: String },
    /// Create an ed25519 key pair for signing plugins: FILE (secret, owner-only) and FILE.pub.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a component with a secret key; writes FILE.wasm.sig.
    Sign {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Manage the keys whose signatures `install` accepts.
    #[command(subcommand)]
    Trust(super::plugin_trust::TrustCommand),
}

/// Grants and limits, as `test` and `install` take them.
#[derive(Debug, Clone, Args)]
pub struct GrantArgs {
    /// A capability to grant (repeatable): fs:ro:PATH, fs:rw:PATH[=GUEST], http:SCHEME://HOST[:PORT],
    /// exec:PROGRAM [ARG-PATTERN...], param:/PATH/*, env:NAME.
    #[arg(long = "grant", value_name = "GRANT")]
    pub grants: Vec<String>,
    /// Memory limit in MiB (default: the manifest's).
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u32>,
    /// Deadline of one call in seconds (default: the manifest's).
    #[arg(long, value_name = "SECONDS")]
    pub timeout_seconds: Option<u32>,
    /// Largest outputs of one call in KiB (default: the manifest's).
    #[arg(long, value_name = "KIB")]
    pub output_kib: Option<u32>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// The inputs, a JSON object.
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Which action to run (default: the plugin's only action).
    #[arg(long)]
    pub action: Option<String>,
    #[command(flatten)]
    pub grants: GrantArgs,
    /// A parameter the plugin may read, NAME=VALUE (repeatable; it still needs a param grant).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    #[command(flatten)]
    pub grants: GrantArgs,
    /// Refuse the file unless its sha256 is this (hex).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Its signature file (default: FILE.sig when it exists), checked against the trusted keys.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// Install without a signature even though signing keys are trusted.
    #[arg(long)]
    pub allow_unsigned: bool,
}

pub async fn run(ctx: &Context, command: PluginCommand) -> Result<ExitCode, CliError> {
    match command {
        PluginCommand::New(args) => super::plugin_new::new(&args),
        PluginCommand::Build(args) => super::plugin_new::build(&args),
        PluginCommand::Test(args) => test(&args).await,
        PluginCommand::Install(args) => install(ctx, &args).await,
        PluginCommand::Grant { name, grants } => grant(ctx, &name, &grants),
        PluginCommand::List { output } => list(ctx, output.output),
        PluginCommand::Inspect { target, output } => inspect(ctx, &target, output.output).await,
        PluginCommand::Versions { name, output } => versions(ctx, &name, output.output),
        PluginCommand::Remove { target } => remove(ctx, &target),
        PluginCommand::Keygen { out } => super::plugin_trust::keygen(&out),
        PluginCommand::Sign { file, key } => super::plugin_trust::sign(&file, &key),
        PluginCommand::Trust(command) => super::plugin_trust::trust(ctx, command),
    }
}

pub fn read_component(file: &Path) -> Result<Vec<u8>, CliError> {
    let meta = std::fs::metadata(file).map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    if meta.len() > MAX_COMPONENT_BYTES {
        return Err(CliError::usage(format!("{} is larger than {} MiB", file.display(), MAX_COMPONENT_BYTES >> 20)));
    }
    std::fs::read(file).map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))
}

impl GrantArgs {
    fn parsed(&self) -> Result<Vec<Grant>, CliError> {
        parse_grants(&self.grants).map_err(CliError::usage)
    }

    /// The manifest's limits with the overrides given, or none when nothing was overridden.
    fn limits(&self, manifest: &Manifest) -> Result<Option<Limits>, CliError> {
        if self.memory_mib.is_none() && self.timeout_seconds.is_none() && self.output_kib.is_none() {
            return Ok(None);
        }
        let mut limits = manifest.limits;
        limits.memory_mib = self.memory_mib.unwrap_or(limits.memory_mib);
        limits.timeout_seconds = self.timeout_seconds.unwrap_or(limits.timeout_seconds);
        limits.output_kib = self.output_kib.unwrap_or(limits.output_kib);
        limits.check().map_err(|e| CliError::usage(e.to_string()))?;
        Ok(Some(limits))
    }
}

fn manifest_of(bytes: &[u8], file: &Path) -> Result<Manifest, CliError> {
    bosun_plugin_manifest::extract(bytes).map_err(|e| CliError::usage(format!("{}: {e}", file.display())))
}

/// Grants the manifest did not ask for, and requests that were not granted.
fn grant_report(manifest: &Manifest, grants: &[Grant]) -> (Vec<String>, Vec<String>) {
    let requested = manifest.requested().unwrap_or_default();
    let unasked = grants.iter().filter(|g| !requested.iter().any(|r| r.kind() == g.kind())).map(|g| g.to_string()).collect();
    let ungranted = requested.iter().filter(|r| !grants.contains(r)).map(|r| r.to_string()).collect();
    (unasked, ungranted)
}

async fn test(args: &TestArgs) -> Result<ExitCode, CliError> {
    let bytes = read_component(&args.file)?;
    let manifest = manifest_of(&bytes, &args.file)?;
    let inputs: Value = serde_json::from_str(&args.input).map_err(|e| CliError::usage(format!("--input is not JSON: {e}")))?;
    let action = match &args.action {
        Some(action) => action.clone(),
        None if manifest.actions.len() == 1 => manifest.actions[0].name.clone(),
        None => {
            let names: Vec<&str> = manifest.actions.iter().map(|a| a.name.as_str()).collect();
            return Err(CliError::usage(format!("the plugin implements several actions; pick one with --action ({})", names.join(", "))));
        }
    };
    let mut params = HashMap::new();
    for pair in &args.params {
        let (name, value) = pair.split_once('=').ok_or_else(|| CliError::usage(format!("--param {pair:?}: expected NAME=VALUE")))?;
        let name = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
        params.insert(name, value.to_string());
    }
    let mut config = HostConfig::new(HostKind::Node);
    config.parameters = Arc::new(StaticParameters(params));
    let host = PluginHost::new(config).map_err(|e| CliError::failed(e.to_string()))?;
    let grants = args.grants.parsed()?;
    let limits = args.grants.limits(&manifest)?;
    let compile_started = std::time::Instant::now();
    let plugin = host.load(&bytes, grants, limits).await.map_err(|e| CliError::failed(format!("{}: {e}", args.file.display())))?;
    let load_ms = compile_started.elapsed().as_secs_f64() * 1000.0;
    let outcome = host.call(&plugin, &action, &inputs).await;
    let ok = outcome.result.is_ok();
    match args.output.output {
        OutputFormat::Json => print_json(&outcome_json(&action, &outcome, load_ms)),
        OutputFormat::Text => print_outcome(&action, &outcome, load_ms),
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn outcome_json(action: &str, outcome: &CallOutcome, load_ms: f64) -> Value {
    json!({
        "action": action,
        "status": if outcome.result.is_ok() { "Success" } else { "Failed" },
        "outputs": outcome.result.as_ref().ok(),
        "error": outcome.result.as_ref().err().map(|e| e.to_string()),
        "logs": outcome.logs.iter().map(|l| json!({"level": l.level.as_str(), "message": l.message, "fields": l.fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>()})).collect::<Vec<_>>(),
        "logsDropped": outcome.logs_dropped,
        "denials": outcome.denials.iter().map(|d| json!({"capability": d.capability, "message": d.message})).collect::<Vec<_>>(),
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "wallMs": outcome.wall.as_secs_f64() * 1000.0,
        "loadMs": load_ms,
        "peakMemoryBytes": outcome.peak_memory_bytes,
    })
}

fn print_outcome(action: &str, outcome: &CallOutcome, load_ms: f64) {
    match &outcome.result {
        Ok(outputs) => {
            outln!("{action}: Success");
            outln!("outputs:");
            outln!("{}", serde_json::to_string_pretty(outputs).unwrap_or_default());
        }
        Err(error) => outln!("{action}: Failed: {error}"),
    }
    if !outcome.logs.is_empty() {
        outln!("logs:");
        for line in &outcome.logs {
            let fields: Vec<String> = line.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            outln!("  {:5} {} {}", line.level.as_str(), line.message, fields.join(" "));
        }
        if outcome.logs_dropped > 0 {
            outln!("  ({} more lines dropped)", outcome.logs_dropped);
        }
    }
    if !outcome.denials.is_empty() {
        outln!("denials:");
        for denial in &outcome.denials {
            outln!("  {}", denial.message);
        }
    }
    for (name, text) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        if !text.is_empty() {
            outln!("{name}:");
            for line in text.lines() {
                outln!("  {line}");
            }
        }
    }
    outln!(
        "wall time: {:.3} ms (load {:.1} ms)   peak memory: {:.1} MiB",
        outcome.wall.as_secs_f64() * 1000.0,
        load_ms,
        outcome.peak_memory_bytes as f64 / (1 << 20) as f64
    );
}

async fn install(ctx: &Context, args: &InstallArgs) -> Result<ExitCode, CliError> {
    let bytes = read_component(&args.file)?;
    let sha256 = sha256_hex(&bytes);
    if let Some(expected) = &args.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(CliError::usage(format!("{} has sha256 {sha256}, not the {expected} given with --sha256", args.file.display())));
    }
    let manifest = manifest_of(&bytes, &args.file)?;
    let grants = args.grants.parsed()?;
    let limits = args.grants.limits(&manifest)?;
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    let signed_by = super::plugin_trust::check_signature(&store, &args.file, &bytes, args.signature.as_deref(), args.allow_unsigned)?;
    // Load it once: compiles into the cache, checks the ABI and the manifest's actions.
    let mut config = HostConfig::new(HostKind::Server);
    config.cache_dir = Some(cache_dir(&ctx.data_dir));
    config.slots = 1;
    let host = PluginHost::new(config).map_err(|e| CliError::failed(e.to_string()))?;
    let loaded = if manifest.kind == bosun_plugin_manifest::PluginKind::Inventory {
        host.load_collector(&bytes, grants.clone(), limits).await.map(drop)
    } else {
        host.load(&bytes, grants.clone(), limits).await.map(drop)
    };
    loaded.map_err(|e| CliError::usage(format!("{}: {e}", args.file.display())))?;
    let (unasked, ungranted) = grant_report(&manifest, &grants);
    let actions: Vec<String> = manifest.actions.iter().map(|a| a.name.clone()).collect();
    let grant_texts: Vec<String> = grants.iter().map(Grant::to_string).collect();
    let limits_json = limits.map(|l| serde_json::to_string(&l).expect("limits serialise"));
    store.install_plugin(&NewPlugin {
        name: &manifest.name,
        version: &manifest.version,
        sha256: &sha256,
        manifest: &manifest.to_json(),
        actions: &actions,
        grants: &grant_texts,
        limits: limits_json.as_deref(),
        builtin: false,
        signed_by: signed_by.as_deref(),
        wasm: &bytes,
    })?;
    tracing::info!(plugin = %manifest.name, version = %manifest.version, sha256 = %sha256, grants = ?grant_texts, signed_by = ?signed_by, "plugin installed");
    let signed = signed_by.map(|key| format!(", signed by {key}")).unwrap_or_default();
    outln!("installed {}@{} (sha256 {sha256}{signed})", manifest.name, manifest.version);
    outln!("actions: {}", actions.join(", "));
    outln!("granted: {}", if grant_texts.is_empty() { "nothing".to_string() } else { grant_texts.join(", ") });
    for grant in unasked {
        eprintln!("warning: the plugin does not ask for {grant}; granted anyway");
    }
    for request in ungranted {
        eprintln!("note: the plugin asks for {request}, which was not granted; calls needing it will be denied");
    }
    Ok(ExitCode::SUCCESS)
}

fn grant(ctx: &Context, name: &str, grants: &[String]) -> Result<ExitCode, CliError> {
    let parsed = parse_grants(grants).map_err(CliError::usage)?;
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    let texts: Vec<String> = parsed.iter().map(Grant::to_string).collect();
    store.set_plugin_grants(name, &texts)?;
    tracing::info!(plugin = %name, grants = ?texts, "plugin grants changed");
    outln!("{name} is granted: {}", if texts.is_empty() { "nothing".to_string() } else { texts.join(", ") });
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn installed_json(plugin: &InstalledPlugin) -> Value {
    json!({
        "name": plugin.name,
        "version": plugin.version,
        "sha256": plugin.sha256,
        "actions": plugin.actions,
        "grants": plugin.grants,
        "limits": plugin.limits.as_deref().and_then(|l| serde_json::from_str::<Value>(l).ok()),
        "builtin": plugin.builtin,
        "installedAt": plugin.installed_at,
        "signedBy": plugin.signed_by,
    })
}

fn print_installed(plugins: &[InstalledPlugin], output: OutputFormat) {
    match output {
        OutputFormat::Json => print_json(&Value::Array(plugins.iter().map(installed_json).collect())),
        OutputFormat::Text => {
            outln!("{:<24} {:<12} {:<8} {:<40} GRANTS", "NAME", "VERSION", "OWNER", "ACTIONS");
            for p in plugins {
                let owner = if p.builtin { "built-in" } else { "user" };
                let grants = if p.grants.is_empty() { "-".to_string() } else { p.grants.join(" ") };
                outln!("{:<24} {:<12} {:<8} {:<40} {grants}", p.name, p.version, owner, p.actions.join(","));
            }
        }
    }
}

fn list(ctx: &Context, output: OutputFormat) -> Result<ExitCode, CliError> {
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    print_installed(&store.list_plugins()?, output);
    Ok(ExitCode::SUCCESS)
}

fn versions(ctx: &Context, name: &str, output: OutputFormat) -> Result<ExitCode, CliError> {
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    let versions = store.plugin_versions(name)?;
    if versions.is_empty() {
        return Err(CliError::usage(format!("no plugin named {name} is installed")));
    }
    print_installed(&versions, output);
    Ok(ExitCode::SUCCESS)
}

fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (target, None),
    }
}

async fn inspect(ctx: &Context, target: &str, output: OutputFormat) -> Result<ExitCode, CliError> {
    let path = Path::new(target);
    let (bytes, installed) = if target.ends_with(".wasm") || path.exists() {
        (read_component(path)?, None)
    } else {
        let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
        let (name, version) = split_target(target);
        let plugin = store
            .get_plugin(name, version)?
            .ok_or_else(|| CliError::usage(format!("no plugin {target} is installed, and there is no such file")))?;
        let bytes = store.plugin_wasm(&plugin.name, &plugin.version)?.ok_or_else(|| CliError::failed("the plugin vanished"))?;
        (bytes, Some(plugin))
    };
    let manifest = manifest_of(&bytes, path)?;
    let mut config = HostConfig::new(HostKind::Server);
    config.slots = 1;
    let host = PluginHost::new(config).map_err(|e| CliError::failed(e.to_string()))?;
    let interfaces = host.interfaces(&bytes).map_err(|e| CliError::usage(format!("{target}: {e}")))?;
    let value = json!({
        "manifest": serde_json::to_value(&manifest).expect("a manifest serialises"),
        "sha256": sha256_hex(&bytes),
        "sizeBytes": bytes.len(),
        "abi": manifest.abi,
        "imports": interfaces.imports,
        "exports": interfaces.exports,
        "requestedCapabilities": manifest.capabilities,
        "installed": installed.as_ref().map(installed_json),
    });
    match output {
        OutputFormat::Json => print_json(&value),
        OutputFormat::Text => {
            outln!("{} {} (ABI bosun:plugin@{})", manifest.name, manifest.version, manifest.abi);
            if !manifest.description.is_empty() {
                outln!("{}", manifest.description);
            }
            outln!("sha256: {}  size: {} bytes", sha256_hex(&bytes), bytes.len());
            outln!("actions:");
            for action in &manifest.actions {
                outln!(
                    "  {}{}",
                    action.name,
                    if action.description.is_empty() { String::new() } else { format!(" - {}", action.description) }
                );
            }
            outln!(
                "requested capabilities: {}",
                if manifest.capabilities.is_empty() { "none".to_string() } else { manifest.capabilities.join(", ") }
            );
            let l = manifest.limits;
            outln!("limits: memory {} MiB, timeout {} s, output {} KiB", l.memory_mib, l.timeout_seconds, l.output_kib);
            outln!("imports: {}", interfaces.imports.join(", "));
            outln!("exports: {}", interfaces.exports.join(", "));
            if let Some(p) = installed {
                outln!(
                    "installed {} with grants: {}",
                    p.installed_at,
                    if p.grants.is_empty() { "none".to_string() } else { p.grants.join(", ") }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(ctx: &Context, target: &str) -> Result<ExitCode, CliError> {
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    let (name, version) = split_target(target);
    let removed = store.remove_plugin(name, version).map_err(|e| CliError::usage(e.to_string()))?;
    outln!("removed {removed} version{} of {name}", if removed == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}
