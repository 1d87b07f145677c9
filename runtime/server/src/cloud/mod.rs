//! Signed cloud calls on the server: the configuration (`config.rs`), the
//! plugin host's [`CloudAccess`] over it, which reads credentials from the
//! configuration, a Parameter Store SecureString or the environment, what
//! `bosun cloud show` reports (`view.rs`), `bosun cloud check`'s call (`check.rs`)
//! and the reading of AWS error answers (`error_answer.rs`).

pub mod check;
pub mod config;
pub mod error_answer;
pub mod view;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bosun_plugin_host::{CloudAccess, CloudCredentials};

use crate::params::Parameters;
pub use config::{CloudConfig, CredentialSource};

/// The cloud access of a data directory: its configuration, and the Parameter
/// Store for credentials kept as a SecureString.
pub struct ServerCloud {
    config: CloudConfig,
    /// None where no store is at hand: a parameter source then fails.
    parameters: Option<Arc<Parameters>>,
}

impl ServerCloud {
    pub fn new(config: CloudConfig, parameters: Option<Arc<Parameters>>) -> ServerCloud {
        ServerCloud { config, parameters }
    }
}

/// Reads the data directory's cloud configuration.
pub fn access(data_dir: &Path, parameters: Arc<Parameters>) -> Result<Arc<dyn CloudAccess>, String> {
    Ok(Arc::new(ServerCloud::new(CloudConfig::load(data_dir)?, Some(parameters))))
}

fn from_environment() -> Result<CloudCredentials, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Ok(CloudCredentials { access_key_id, secret_access_key, session_token: var("AWS_SESSION_TOKEN") })
        }
        _ => Err(format!(
            "no cloud credentials are configured: set \"credentials\" in {} ({}), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            config::CONFIG_FILE,
            config::CONFIG_ENV
        )),
    }
}

#[async_trait]
impl CloudAccess for ServerCloud {
    fn default_region(&self) -> Option<String> {
        self.config.region.clone().or_else(|| std::env::var("AWS_REGION").ok()).or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
    }

    fn endpoint(&self, service: &str, region: &str) -> String {
        self.config.endpoint(service, region)
    }

    async fn credentials(&self) -> Result<CloudCredentials, String> {
        let parameter = match &self.config.credentials {
            None => return from_environment(),
            Some(CredentialSource::Parameter { parameter }) => parameter,
            Some(keys) => return keys.keys().ok_or_else(|| "the configured credentials hold no keys".to_string()),
        };
        let parameters = self.parameters.as_ref().ok_or("the credentials parameter cannot be read here: no Parameter Store")?;
        let stored = parameters.get(None, parameter, true).map_err(|e| format!("the credentials parameter: {e}"))?;
        if stored.kind != bosun_protocol::params::ParameterType::SecureString {
            return Err(format!("the credentials parameter {parameter} must be a SecureString"));
        }
        // The value holds the keys as the configuration file writes them.
        serde_json::from_str::<CredentialSource>(&stored.value).ok().as_ref().and_then(CredentialSource::keys).ok_or_else(|| {
            format!("the credentials parameter {parameter} must hold {{\"accessKeyId\", \"secretAccessKey\"[, \"sessionToken\"]}} as JSON")
        })
    }
}
