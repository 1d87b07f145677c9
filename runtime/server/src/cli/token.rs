//! `bosun token`: create, list and revoke the admin tokens of the HTTP API. A new
//! token is printed once; the store keeps only its sha256.

use std::process::ExitCode;

use base64::Engine as _;
use clap::Subcommand;
use serde_json::{Value, json};

use super::{CliError, Context, open_store};
use crate::output::{OutputArg, OutputFormat, print_json};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only this once).
    Create {
        /// A name for the token: 1 to 64 letters, digits, '-', '_' or '.'.
        name: String,
        /// Limit the token's Parameter Store reads to names matching this pattern
        /// (`*` matches anything, `/` included: /app/dev/*); repeatable. A token with
        /// parameter scopes reads only there and changes no parameter.
        #[arg(long = "param-read", value_name = "PATTERN")]
        param_read: Vec<String>,
        /// Let the token decrypt SecureStrings matching this pattern (and readable); repeatable.
        #[arg(long = "param-decrypt", value_name = "PATTERN")]
        param_decrypt: Vec<String>,
        /// Let the token open sessions only to nodes with a tag matching KEY=PATTERN
        /// (`*` matches anything, e.g. Env=dev); repeatable. A token with any scope
        /// and no session scope opens no session.
        #[arg(long = "session-tag", value_name = "KEY=PATTERN")]
        session_tag: Vec<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// Revoke a token: the API refuses it from then on.
    Revoke { name: String },
}

/// A new token: `bosun_` and 32 random bytes in unpadded base64url.
pub fn new_token() -> Result<String, CliError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| CliError::failed(format!("cannot get random bytes: {e}")))?;
    Ok(format!("bosun_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

pub fn run(ctx: &Context, command: TokenCommand) -> Result<ExitCode, CliError> {
    match command {
        TokenCommand::Create { name, param_read, param_decrypt, session_tag, output } => {
            bosun_store::validate_token_name(&name).map_err(|e| CliError::usage(e.0))?;
            let scopes = bosun_store::ParamScopes { read: param_read, decrypt: param_decrypt };
            for pattern in scopes.read.iter().chain(&scopes.decrypt) {
                bosun_store::params::validate_scope_pattern(pattern).map_err(|e| CliError::usage(e.to_string()))?;
            }
            let session_scopes = session_tag
                .iter()
                .map(|t| bosun_store::TagCondition::parse(t).map_err(|e| CliError::usage(e.0)))
                .collect::<Result<Vec<_>, _>>()?;
            let store = open_store(&ctx.data_dir, ctx.durability)?;
            let token = new_token()?;
            let info = store.create_token(&name, bosun_store::token_hash(&token)).map_err(|e| CliError::usage(e.0))?;
            store.set_parameter_scopes(&name, &scopes).map_err(|e| CliError::failed(e.to_string()))?;
            store.set_session_scopes(&name, &session_scopes)?;
            match output.output {
                OutputFormat::Json => print_json(&json!({"name": info.name, "token": token, "createdAt": info.created_at})),
                OutputFormat::Text => {
                    crate::outln!("{token}");
                    crate::errln!("token {name} created; it is shown only this once");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { output } => {
            let tokens = open_store(&ctx.data_dir, ctx.durability)?.list_tokens()?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&tokens).unwrap_or(Value::Null)),
                OutputFormat::Text => {
                    let width = tokens.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
                    crate::outln!("{:<width$}  {:<8}  {:<24}  LAST USED", "NAME", "STATE", "CREATED");
                    for t in &tokens {
                        let state = if t.revoked { "revoked" } else { "active" };
                        crate::outln!("{:<width$}  {state:<8}  {:<24}  {}", t.name, t.created_at, t.last_used.as_deref().unwrap_or("-"));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { name } => {
            if !open_store(&ctx.data_dir, ctx.durability)?.revoke_token(&name)? {
                return Err(CliError::usage(format!("no token named {name} (see `bosun token list`)")));
            }
            crate::outln!("token {name} revoked");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("bosun_") && a.len() == 6 + 43, "{a}");
        assert!(a[6..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
    }
}
