//! The cloud configuration file (`<data-dir>/cloud.json`, or the file
//! `BOSUN_CLOUD_CONFIG` names): the default region, where credentials come
//! from, and endpoint overrides per service and region.
//!
//! ```json
//! {
//!   "region": "us-east-1",
//!   "credentials": {"parameter": "/bosun/cloud/credentials"},
//!   "endpoints": {"ec2": "http://127.0.0.1:5000", "autoscaling:eu-west-1": "https://as.example.net"}
//! }
//! ```
//!
//! `credentials` is `{"accessKeyId", "secretAccessKey"[, "sessionToken"]}`, or
//! `{"parameter": NAME}` (a SecureString holding that object as JSON); without
//! it, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bosun_plugin_host::CloudCredentials;
use serde::Deserialize;

/// The environment variable naming another configuration file.
pub const CONFIG_ENV: &str = "BOSUN_CLOUD_CONFIG";
/// The file's name in the data directory.
pub const CONFIG_FILE: &str = "cloud.json";
/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudConfig {
    /// The region of calls that name none.
    pub region: Option<String>,
    pub credentials: Option<CredentialSource>,
    /// `SERVICE` or `SERVICE:REGION` → base URL; the more specific key wins.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
}

/// Where the signing keys come from.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum CredentialSource {
    Keys {
        #[serde(rename = "accessKeyId")]
        access_key_id: String,
        #[serde(rename = "secretAccessKey")]
        secret_access_key: String,
        #[serde(rename = "sessionToken")]
        session_token: Option<String>,
    },
    Parameter {
        parameter: String,
    },
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Keys { .. } => f.write_str("Keys(***)"),
            CredentialSource::Parameter { parameter } => write!(f, "Parameter({parameter})"),
        }
    }
}

impl CredentialSource {
    /// The keys, when they are written in place.
    pub fn keys(&self) -> Option<CloudCredentials> {
        match self {
            CredentialSource::Keys { access_key_id, secret_access_key, session_token } => Some(CloudCredentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                session_token: session_token.clone(),
            }),
            CredentialSource::Parameter { .. } => None,
        }
    }
}

impl CloudConfig {
    /// The configuration file in use: `BOSUN_CLOUD_CONFIG`, else the data directory's.
    pub fn path(data_dir: &Path) -> PathBuf {
        std::env::var_os(CONFIG_ENV).map(PathBuf::from).unwrap_or_else(|| data_dir.join(CONFIG_FILE))
    }

    /// Reads and checks the configuration; no file is an empty configuration.
    pub fn load(data_dir: &Path) -> Result<CloudConfig, String> {
        let path = Self::path(data_dir);
        match read_config(&path, "cloud configuration", MAX_CONFIG_BYTES)? {
            None => Ok(CloudConfig::default()),
            Some(text) => Self::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Parses and checks a configuration's text. Errors never quote a key.
    pub fn parse(text: &str) -> Result<CloudConfig, String> {
        let config: CloudConfig = parse_config(text)?;
        config.check()?;
        Ok(config)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(region) = &self.region
            && !is_name(region)
        {
            return Err(format!("region: {region:?} is not a region name such as us-east-1"));
        }
        match &self.credentials {
            Some(CredentialSource::Keys { access_key_id, secret_access_key, .. })
                if access_key_id.is_empty() || secret_access_key.is_empty() =>
            {
                return Err("credentials: accessKeyId and secretAccessKey must not be empty".into());
            }
            Some(CredentialSource::Parameter { parameter }) if parameter.is_empty() => {
                return Err("credentials.parameter: must name a SecureString parameter".into());
            }
            _ => {}
        }
        for (key, url) in &self.endpoints {
            let ok_key = match key.split_once(':') {
                Some((service, region)) => is_name(service) && is_name(region),
                None => is_name(key),
            };
            if !ok_key {
                return Err(format!("endpoints.{key}: the key must be SERVICE or SERVICE:REGION, as in ec2 or ec2:us-east-1"));
            }
            check_endpoint(url).map_err(|e| format!("endpoints.{key}: {e}"))?;
        }
        Ok(())
    }

    /// The base URL of `service` in `region`: an override, or AWS's.
    pub fn endpoint(&self, service: &str, region: &str) -> String {
        self.endpoints
            .get(&format!("{service}:{region}"))
            .or_else(|| self.endpoints.get(service))
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| bosun_plugin_host::default_endpoint(service, region))
    }
}

pub(crate) fn is_name(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(crate) fn check_endpoint(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{url:?} must be an http or https URL with a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() || parsed.path() != "/" {
        return Err(format!("{url:?} must name a scheme, host and port only"));
    }
    Ok(())
}

/// The text of the configuration file at `path` (`what` it configures, for messages),
/// or None when there is no such file; a file over `max_bytes` is refused unread.
pub(crate) fn read_config(path: &Path, what: &str, max_bytes: u64) -> Result<Option<String>, String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read the {what} {shown}: {e}")),
        Ok(meta) if meta.len() > max_bytes => Err(format!("the {what} {shown} is larger than {max_bytes} bytes")),
        Ok(_) => std::fs::read_to_string(path).map(Some).map_err(|e| format!("cannot read the {what} {shown}: {e}")),
    }
}

/// A configuration's JSON text as `T`: a syntax error gives its position, a field
/// that does not fit gives serde's message without any value it quotes.
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: line {} column {}", e.line(), e.column()))?;
    serde_json::from_value(value).map_err(|e| scrub(&e.to_string()))
}

/// serde's message without the value it quotes (which could be a key).
fn scrub(message: &str) -> String {
    match message.find("invalid type") {
        Some(_) => "credentials or a field has the wrong type".into(),
        None if message.contains("did not match any variant") => {
            "credentials: expected {\"accessKeyId\", \"secretAccessKey\"[, \"sessionToken\"]} or {\"parameter\": NAME}".into()
        }
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_parameter_and_endpoints() {
        let config = CloudConfig::parse(
            r#"{"region": "us-east-1", "credentials": {"accessKeyId": "AKID", "secretAccessKey": "SECRET"},
                "endpoints": {"ec2": "http://127.0.0.1:5000/", "ec2:eu-west-1": "https://eu.example.net"}}"#,
        )
        .unwrap();
        assert_eq!(config.endpoint("ec2", "us-east-1"), "http://127.0.0.1:5000");
        assert_eq!(config.endpoint("ec2", "eu-west-1"), "https://eu.example.net");
        assert_eq!(config.endpoint("autoscaling", "us-east-1"), "https://autoscaling.us-east-1.amazonaws.com");
        assert!(!format!("{config:?}").contains("SECRET"));
        let by_parameter = CloudConfig::parse(r#"{"credentials": {"parameter": "/cloud/keys"}}"#).unwrap();
        assert_eq!(by_parameter.credentials, Some(CredentialSource::Parameter { parameter: "/cloud/keys".into() }));
        assert_eq!(CloudConfig::parse("{}").unwrap(), CloudConfig::default());
    }

    #[test]
    fn refuses_bad_files_without_quoting_keys() {
        let e = |text: &str| CloudConfig::parse(text).unwrap_err();
        assert!(e("{").contains("not JSON"));
        assert!(e(r#"{"regin": "x"}"#).contains("unknown field"));
        assert!(e(r#"{"region": "US East"}"#).contains("region"));
        assert!(e(r#"{"endpoints": {"ec2": "ftp://x"}}"#).contains("endpoints.ec2"));
        assert!(e(r#"{"endpoints": {"ec2": "http://x/path"}}"#).contains("host and port only"));
        assert!(e(r#"{"endpoints": {"EC2": "http://x"}}"#).contains("SERVICE or SERVICE:REGION"));
        let secret = e(r#"{"credentials": {"accessKeyId": "AKID", "secretAccessKey": 12345678}}"#);
        assert!(!secret.contains("12345678"), "{secret}");
        let missing = e(r#"{"credentials": {"accessKeyId": "AKIDSECRETLOOKING"}}"#);
        assert!(!missing.contains("AKIDSECRETLOOKING") && missing.contains("credentials"), "{missing}");
        assert!(e(r#"{"credentials": {"accessKeyId": "", "secretAccessKey": "x"}}"#).contains("must not be empty"));
    }
}
