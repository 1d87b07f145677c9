//! `bosun doc`: validate document files, and manage the versioned documents of
//! a data directory (create, update, get, list, versions, set-default, delete).
//! Every problem exits with code 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bosun_document::actions::StructureOnly;
use bosun_document::{ActionCatalog, Severity};
use bosun_store::NewDocument;
use clap::Subcommand;
use serde_json::{Value, json};

use super::{CliError, Context, catalog_engine, open_store, open_store_with_builtins};
use crate::output::{OutputArg, OutputFormat, document_info_json, documents_text, print_json};
use crate::run_command::send::AgentCatalog;
use crate::runbooks::document_facts;

#[derive(Debug, Subcommand)]
pub enum DocCommand {
    /// Check document files; prints `file:line:col: path: message` for each problem on stderr.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Check only the shape: every well-formed action name counts as available.
        #[arg(long)]
        structure_only: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Store a new document (version 1, the default version).
    Create {
        name: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Add a version to a document; the default version does not move.
    Update {
        name: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a document version (the default one unless --version is given).
    Get {
        name: String,
        /// A version number, $LATEST or $DEFAULT.
        #[arg(long)]
        version: Option<String>,
        /// Print the content.
        #[arg(long)]
        content: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the default version of every document.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// List every version of a document.
    Versions {
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Make a version the default one.
    SetDefault { name: String, version: u32 },
    /// Delete every version of a document.
    Delete { name: String },
}

pub fn run(ctx: &Context, command: DocCommand) -> Result<ExitCode, CliError> {
    match command {
        DocCommand::Validate { files, structure_only, output } => validate(ctx, &files, structure_only, output.output),
        DocCommand::Create { name, file, output } => store_version(ctx, &name, &file, false, output.output),
        DocCommand::Update { name, file, output } => store_version(ctx, &name, &file, true, output.output),
        DocCommand::Get { name, version, content, output } => get(ctx, &name, version.as_deref(), content, output.output),
        DocCommand::List { output } => {
            let infos = open_store(&ctx.data_dir, ctx.durability)?.list_documents()?;
            show_infos(&infos, output.output);
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::Versions { name, output } => {
            let infos = open_store(&ctx.data_dir, ctx.durability)?.document_versions(&name)?;
            if infos.is_empty() {
                return Err(CliError::failed(format!("no document named \"{name}\"")));
            }
            show_infos(&infos, output.output);
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::SetDefault { name, version } => {
            open_store_with_builtins(&ctx.data_dir, ctx.durability)?.set_default_version(&name, version)?;
            crate::outln!("{name}: default version is now {version}");
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::Delete { name } => {
            open_store_with_builtins(&ctx.data_dir, ctx.durability)?.delete_document(&name)?;
            crate::outln!("{name}: deleted");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::failed(format!("cannot read {}: {e}", path.display())))
}

fn validate(ctx: &Context, files: &[PathBuf], structure_only: bool, output: OutputFormat) -> Result<ExitCode, CliError> {
    let engine;
    let catalog: &dyn ActionCatalog = if structure_only {
        &StructureOnly
    } else {
        engine = catalog_engine(ctx)?;
        engine.0.as_ref()
    };
    let mut all_valid = true;
    let mut reports = Vec::new();
    for path in files {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                crate::errln!("error: cannot read {shown}: {e}");
                all_valid = false;
                reports.push(json!({"file": shown, "valid": false, "diagnostics": [], "error": format!("cannot read: {e}")}));
                continue;
            }
        };
        let mut loaded = bosun_document::load(&shown, &text, catalog);
        // Command documents run on nodes: the agent's actions count, not the control plane's.
        if !structure_only && loaded.document.as_ref().is_some_and(|d| d.kind == bosun_document::DocumentKind::Command) {
            loaded = bosun_document::load(&shown, &text, &AgentCatalog);
        }
        let valid = !loaded.diagnostics.has_errors() && loaded.document.is_some();
        all_valid &= valid;
        for d in &loaded.diagnostics.0 {
            crate::errln!("{}", d.render(&shown));
        }
        if output == OutputFormat::Text && valid {
            crate::outln!("{shown}: valid");
        }
        let diagnostics: Vec<Value> = loaded
            .diagnostics
            .0
            .iter()
            .map(|d| {
                json!({
                    "severity": if d.severity == Severity::Error { "error" } else { "warning" },
                    "line": d.pos.line,
                    "column": d.pos.col,
                    "path": d.path,
                    "message": d.message,
                })
            })
            .collect();
        reports.push(json!({"file": shown, "valid": valid, "diagnostics": diagnostics}));
    }
    if output == OutputFormat::Json {
        print_json(&Value::Array(reports));
    }
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn store_version(ctx: &Context, name: &str, file: &Path, update: bool, output: OutputFormat) -> Result<ExitCode, CliError> {
    let text = read(file)?;
    let file_name = file.file_name().and_then(|f| f.to_str()).unwrap_or("document.yaml").to_string();
    let (document_type, schema_version) = document_facts(&file.display().to_string(), &text)
        .map_err(|errors| CliError::failed(format!("{} is not a valid document:\n{}", file.display(), errors.join("\n"))))?;
    let store = open_store_with_builtins(&ctx.data_dir, ctx.durability)?;
    let doc = NewDocument { name, file_name: &file_name, content: &text, document_type: &document_type, schema_version: &schema_version };
    let info = if update { store.update_document(&doc)? } else { store.create_document(&doc)? };
    match output {
        OutputFormat::Json => print_json(&document_info_json(&info)),
        OutputFormat::Text => crate::outln!(
            "{}: version {} stored ({} document, schema {})",
            info.name,
            info.version,
            info.document_type,
            info.schema_version
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn get(ctx: &Context, name: &str, version: Option<&str>, content: bool, output: OutputFormat) -> Result<ExitCode, CliError> {
    let store = open_store(&ctx.data_dir, ctx.durability)?;
    let Some((info, snapshot)) = store.get_document(name, version)? else {
        return Err(CliError::failed(match version {
            Some(v) => format!("document \"{name}\" has no version {v}"),
            None => format!("no document named \"{name}\""),
        }));
    };
    match output {
        OutputFormat::Json => {
            let mut value = document_info_json(&info);
            if content && let Value::Object(map) = &mut value {
                map.insert("content".into(), Value::String(snapshot.text));
            }
            print_json(&value);
        }
        OutputFormat::Text if content => crate::out!("{}", snapshot.text),
        OutputFormat::Text => crate::out!("{}", documents_text(std::slice::from_ref(&info))),
    }
    Ok(ExitCode::SUCCESS)
}

fn show_infos(infos: &[bosun_store::DocumentInfo], output: OutputFormat) {
    match output {
        OutputFormat::Json => print_json(&Value::Array(infos.iter().map(document_info_json).collect())),
        OutputFormat::Text => crate::out!("{}", documents_text(infos)),
    }
}
