//! `bosun param`: Parameter Store through the HTTP API (put, get, get-many,
//! get-by-path, history, label, unlabel, delete), and `rotate-key`, which re-wraps
//! the data keys of the data directory under a new master key while no server runs.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use bosun_protocol::params::{
    DeleteParameters, DeleteResult, GetParameter, GetParameterHistory, GetParameters, GetParametersByPath, GetParametersResult,
    HistoryPage, LabelParameterVersion, LabelResult, Parameter, ParameterType, ParametersPage, PathFilter, PutParameter, PutResult, Tier,
    UnlabelParameterVersion, UnlabelResult,
};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use super::client::Client;
use super::fleet::print_table;
use super::{CliError, Context, LockHolder, open_store, take_engine_lock, write_owner_only};
use crate::output::{OutputArg, OutputFormat, print_json};
use crate::params::key;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TypeArg {
    #[value(name = "String")]
    String,
    #[value(name = "StringList")]
    StringList,
    #[value(name = "SecureString")]
    SecureString,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TierArg {
    #[value(name = "Standard")]
    Standard,
    #[value(name = "Advanced")]
    Advanced,
    #[value(name = "Intelligent-Tiering")]
    IntelligentTiering,
}

#[derive(Debug, Subcommand)]
pub enum ParamCommand {
    /// Put a parameter: its first version, or with --overwrite the next.
    Put {
        name: String,
        /// The value; read from stdin when absent (keeps secrets out of the process list).
        value: Option<String>,
        #[arg(long = "type", value_enum)]
        kind: Option<TypeArg>,
        #[arg(long)]
        description: Option<String>,
        /// A regular expression the whole value must match.
        #[arg(long, value_name = "REGEX")]
        allowed_pattern: Option<String>,
        /// text (default) or aws:ec2:image.
        #[arg(long)]
        data_type: Option<String>,
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Policies in SSM's JSON format (a JSON array); Advanced tier.
        #[arg(long, value_name = "JSON")]
        policies: Option<String>,
        #[arg(long)]
        overwrite: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show one parameter: NAME, NAME:VERSION or NAME:LABEL.
    Get {
        name: String,
        #[arg(long)]
        with_decryption: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show up to 10 parameters; names not found are listed apart.
    GetMany {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        with_decryption: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show every parameter under a path (all pages).
    GetByPath {
        path: String,
        #[arg(long)]
        recursive: bool,
        #[arg(long)]
        with_decryption: bool,
        /// KEY=VALUE[,VALUE...] with KEY one of Type, KeyId, Label, Tier, DataType.
        #[arg(long = "filter", value_name = "KEY=VALUES")]
        filters: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Show a parameter's versions and the policies that fired on it.
    History {
        name: String,
        #[arg(long)]
        with_decryption: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Put labels on a version (the latest by default), moving them from other versions.
    Label {
        name: String,
        #[arg(required = true)]
        labels: Vec<String>,
        #[arg(long)]
        version: Option<i64>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Take labels off a version.
    Unlabel {
        name: String,
        #[arg(required = true)]
        labels: Vec<String>,
        #[arg(long)]
        version: i64,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete up to 10 parameters with their history.
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Re-wrap every SecureString data key of the data directory under a new master
    /// key (stop the server first). The current key is the configured one.
    RotateKey {
        /// The new key: a file holding 64 hex digits.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
}

/// `KEY=V1,V2` as a filter.
fn parse_filter(text: &str) -> Result<PathFilter, CliError> {
    let (key, values) = text.split_once('=').ok_or_else(|| CliError::usage(format!("--filter {text:?}: expected KEY=VALUE[,VALUE...]")))?;
    Ok(PathFilter { key: key.into(), option: None, values: values.split(',').map(str::to_string).collect() })
}

fn show<T: Serialize>(output: OutputArg, value: &T, text: impl FnOnce(&T)) {
    match output.output {
        OutputFormat::Json => print_json(&serde_json::to_value(value).unwrap_or_default()),
        OutputFormat::Text => text(value),
    }
}

fn print_parameters(parameters: &[Parameter]) {
    let rows: Vec<Vec<String>> = parameters
        .iter()
        .map(|p| {
            vec![p.name.clone(), p.version.to_string(), p.kind.as_str().into(), p.tier.as_str().into(), p.labels.join(","), p.value.clone()]
        })
        .collect();
    print_table(&["NAME", "VERSION", "TYPE", "TIER", "LABELS", "VALUE"], &rows);
}

fn print_parameter(p: &Parameter) {
    crate::outln!("Name         {}{}", p.name, p.selector.as_deref().unwrap_or(""));
    crate::outln!("Type         {}", p.kind.as_str());
    crate::outln!("Version      {}", p.version);
    crate::outln!("Tier         {}", p.tier.as_str());
    crate::outln!("Modified     {} by {}", p.last_modified_date, p.last_modified_user);
    if let Some(description) = &p.description {
        crate::outln!("Description  {description}");
    }
    if !p.labels.is_empty() {
        crate::outln!("Labels       {}", p.labels.join(", "));
    }
    for policy in &p.policies {
        crate::outln!("Policy       {} ({})", policy.policy_type, policy.policy_status);
    }
    crate::outln!("Value        {}", p.value);
}

fn read_value(value: Option<String>) -> Result<String, CliError> {
    if let Some(value) = value {
        return Ok(value);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::failed(format!("cannot read the value from stdin: {e}")))?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Re-wraps the data keys under the key in `new_key_file`; when the current key is the
/// data directory's own key file, that file then holds the new key.
fn rotate_key(ctx: &Context, new_key_file: &std::path::Path) -> Result<ExitCode, CliError> {
    let _lock = take_engine_lock(&ctx.data_dir, LockHolder::Run)
        .map_err(|e| CliError::failed(format!("{}; stop it before rotating the master key", e.message)))?;
    let from = key::configured(&ctx.data_dir)?.ok_or_else(|| {
        CliError::usage(format!(
            "no master key is configured (set {} or {}, or put one in <data-dir>/{})",
            key::KEY_ENV,
            key::KEY_FILE_ENV,
            key::DATA_DIR_KEY_FILE
        ))
    })?;
    let to = key::read_key_file(new_key_file)?;
    let store = open_store(&ctx.data_dir, ctx.durability)?;
    let report = store.rotate_parameter_key(from.clone(), to.clone()).map_err(|e| CliError::failed(e.to_string()))?;
    crate::outln!("re-wrapped {} data keys from master key {} to {}", report.rewrapped, from.id(), to.id());
    let own = ctx.data_dir.join(key::DATA_DIR_KEY_FILE);
    let uses_own = std::env::var_os(key::KEY_ENV).is_none() && std::env::var_os(key::KEY_FILE_ENV).is_none() && own.exists();
    if uses_own {
        write_owner_only(&own, &format!("{}\n", to.to_hex().as_str()), true)?;
        crate::outln!("{} now holds the new key", own.display());
    } else {
        crate::outln!("start the server with the new key ({} or {})", key::KEY_ENV, key::KEY_FILE_ENV);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(ctx: &Context, command: ParamCommand) -> Result<ExitCode, CliError> {
    if let ParamCommand::RotateKey { new_key_file } = &command {
        return rotate_key(ctx, new_key_file);
    }
    let client = Client::from_context(ctx)?;
    match command {
        ParamCommand::Put { name, value, kind, description, allowed_pattern, data_type, tier, policies, overwrite, output } => {
            let request = PutParameter {
                name,
                value: read_value(value)?,
                kind: kind.map(|k| match k {
                    TypeArg::String => ParameterType::String,
                    TypeArg::StringList => ParameterType::StringList,
                    TypeArg::SecureString => ParameterType::SecureString,
                }),
                description,
                allowed_pattern,
                data_type,
                tier: tier.map(|t| match t {
                    TierArg::Standard => Tier::Standard,
                    TierArg::Advanced => Tier::Advanced,
                    TierArg::IntelligentTiering => Tier::IntelligentTiering,
                }),
                policies,
                overwrite,
            };
            let result: PutResult = client.post("/v1/parameters/put", &request).await?;
            show(output, &result, |r| crate::outln!("version {} ({})", r.version, r.tier.as_str()));
        }
        ParamCommand::Get { name, with_decryption, output } => {
            let parameter: Parameter = client.post("/v1/parameters/get", &GetParameter { name, with_decryption }).await?;
            show(output, &parameter, print_parameter);
        }
        ParamCommand::GetMany { names, with_decryption, output } => {
            let result: GetParametersResult = client.post("/v1/parameters/get-many", &GetParameters { names, with_decryption }).await?;
            show(output, &result, |r| {
                print_parameters(&r.parameters);
                for name in &r.invalid_parameters {
                    crate::errln!("invalid or not found: {name}");
                }
            });
        }
        ParamCommand::GetByPath { path, recursive, with_decryption, filters, output } => {
            let filters = filters.iter().map(|f| parse_filter(f)).collect::<Result<Vec<_>, _>>()?;
            let mut request = GetParametersByPath { path, recursive, with_decryption, filters, max_results: None, next_token: None };
            let mut all = Vec::new();
            loop {
                let page: ParametersPage = client.post("/v1/parameters/get-by-path", &request).await?;
                all.extend(page.parameters);
                match page.next_token {
                    Some(token) => request.next_token = Some(token),
                    None => break,
                }
            }
            show(output, &all, |all| print_parameters(all));
        }
        ParamCommand::History { name, with_decryption, output } => {
            let mut request = GetParameterHistory { name, with_decryption, max_results: None, next_token: None };
            let mut history: HistoryPage = client.post("/v1/parameters/history", &request).await?;
            while let Some(token) = history.next_token.take() {
                request.next_token = Some(token);
                let page: HistoryPage = client.post("/v1/parameters/history", &request).await?;
                history.parameters.extend(page.parameters);
                history.next_token = page.next_token;
            }
            show(output, &history, |h| {
                print_parameters(&h.parameters);
                for firing in &h.policy_firings {
                    crate::outln!(
                        "policy {} due {} fired {} (event {})",
                        firing.policy_type,
                        firing.due_at,
                        firing.fired_at,
                        firing.event_id
                    );
                }
            });
        }
        ParamCommand::Label { name, labels, version, output } => {
            let result: LabelResult =
                client.post("/v1/parameters/label", &LabelParameterVersion { name, parameter_version: version, labels }).await?;
            if !result.invalid_labels.is_empty() && matches!(output.output, OutputFormat::Text) {
                return Err(CliError::usage(format!("invalid labels (none was applied): {}", result.invalid_labels.join(", "))));
            }
            show(output, &result, |r| crate::outln!("labelled version {}", r.parameter_version));
        }
        ParamCommand::Unlabel { name, labels, version, output } => {
            let result: UnlabelResult =
                client.post("/v1/parameters/unlabel", &UnlabelParameterVersion { name, parameter_version: version, labels }).await?;
            show(output, &result, |r| {
                crate::outln!("removed: {}", r.removed_labels.join(", "));
                if !r.invalid_labels.is_empty() {
                    crate::outln!("not on that version: {}", r.invalid_labels.join(", "));
                }
            });
        }
        ParamCommand::Delete { names, output } => {
            let result: DeleteResult = client.post("/v1/parameters/delete", &DeleteParameters { names }).await?;
            show(output, &result, |r| {
                for name in &r.deleted_parameters {
                    crate::outln!("deleted {name}");
                }
                for name in &r.invalid_parameters {
                    crate::errln!("not found: {name}");
                }
            });
        }
        ParamCommand::RotateKey { new_key_file } => return rotate_key(ctx, &new_key_file),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let filter = parse_filter("Type=String,SecureString").unwrap();
        assert_eq!((filter.key.as_str(), filter.values), ("Type", vec!["String".to_string(), "SecureString".to_string()]));
        assert!(parse_filter("Type").is_err());
    }
}
