//! What `bosun cloud show` and `GET /v1/cloud` report: the cloud configuration
//! in effect (the file, the region and where it came from, the endpoint
//! overrides, where the credentials come from) and the `aws-api` plugin's cloud
//! grants. It never holds a key: inline keys are reported as "inline", a
//! parameter by its name, the environment by whether its variables are set.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bosun_store::Store;
use serde::{Deserialize, Serialize};

use super::config::{CloudConfig, CredentialSource};

/// The plugin whose grants say which services and regions runbooks may call.
pub const CLOUD_PLUGIN: &str = "aws-api";

/// The cloud configuration in effect, without a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudView {
    /// The configuration file read (`BOSUN_CLOUD_CONFIG`, else the data directory's `cloud.json`).
    pub config_file: String,
    /// Whether that file exists; without it, the region and keys come from the environment.
    pub config_found: bool,
    /// The region of every call, if one is set.
    pub region: Option<String>,
    /// Where the region comes from: `config`, `AWS_REGION` or `AWS_DEFAULT_REGION`.
    pub region_from: Option<String>,
    pub credentials: CredentialsView,
    /// Endpoint overrides by `SERVICE` or `SERVICE:REGION`; other services use AWS's endpoints.
    pub endpoints: BTreeMap<String, String>,
    /// The `aws:SERVICE:REGION` grants of the aws-api plugin.
    pub grants: Vec<String>,
}

/// Where the signing keys come from, never the keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsView {
    /// `inline` (keys in the file), `parameter` (a SecureString) or `environment`.
    pub source: String,
    /// The SecureString's name, for `parameter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// For `environment`: whether AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are both set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// Whether a session token is given (inline keys or the environment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<bool>,
}

/// The data directory a store lives in.
pub fn data_dir_of(store: &Store) -> PathBuf {
    store.path().parent().map(PathBuf::from).unwrap_or_default()
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Where `config`'s keys come from.
fn credentials_of(config: &CloudConfig) -> CredentialsView {
    match &config.credentials {
        Some(CredentialSource::Keys { session_token, .. }) => {
            CredentialsView { source: "inline".into(), session_token: Some(session_token.is_some()), ..Default::default() }
        }
        Some(CredentialSource::Parameter { parameter }) => {
            CredentialsView { source: "parameter".into(), parameter: Some(parameter.clone()), ..Default::default() }
        }
        None => CredentialsView {
            source: "environment".into(),
            available: Some(env_set("AWS_ACCESS_KEY_ID") && env_set("AWS_SECRET_ACCESS_KEY")),
            session_token: Some(env_set("AWS_SESSION_TOKEN")),
            parameter: None,
        },
    }
}

/// The region in effect and where it was found.
fn region_of(config: &CloudConfig) -> (Option<String>, Option<String>) {
    if let Some(region) = &config.region {
        return (Some(region.clone()), Some("config".into()));
    }
    for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(region) = std::env::var(name).ok().filter(|r| !r.is_empty()) {
            return (Some(region), Some(name.into()));
        }
    }
    (None, None)
}

impl CloudView {
    /// The view of a data directory's configuration (as read at the server's
    /// start) and of its store's grants (now).
    pub fn of(config: &CloudConfig, store: &Store) -> Result<CloudView, String> {
        let path = CloudConfig::path(&data_dir_of(store));
        let grants = store.get_plugin(CLOUD_PLUGIN, None).map_err(|e| format!("cannot read the {CLOUD_PLUGIN} plugin: {e}"))?;
        let grants = grants.map(|p| p.grants.into_iter().filter(|g| g.starts_with("aws:")).collect()).unwrap_or_default();
        Ok(Self::from_config(config, path.display().to_string(), path.is_file(), grants))
    }

    fn from_config(config: &CloudConfig, config_file: String, config_found: bool, grants: Vec<String>) -> CloudView {
        let (region, region_from) = region_of(config);
        CloudView {
            config_file,
            config_found,
            region,
            region_from,
            credentials: credentials_of(config),
            endpoints: config.endpoints.clone(),
            grants,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_never_in_the_view() {
        let config = CloudConfig::parse(
            r#"{"region": "eu-west-1", "credentials": {"accessKeyId": "AKIDVIEWTEST", "secretAccessKey": "VIEWSECRET", "sessionToken": "VIEWTOKEN"},
                "endpoints": {"ec2": "http://127.0.0.1:5000"}}"#,
        )
        .unwrap();
        let view = CloudView::from_config(&config, "cloud.json".into(), true, vec!["aws:ec2:eu-west-1".into()]);
        let text = serde_json::to_string(&view).unwrap();
        for key in ["AKIDVIEWTEST", "VIEWSECRET", "VIEWTOKEN"] {
            assert!(!text.contains(key), "{key} in {text}");
        }
        assert_eq!(view.credentials, CredentialsView { source: "inline".into(), session_token: Some(true), ..Default::default() });
        assert_eq!((view.region.as_deref(), view.region_from.as_deref()), (Some("eu-west-1"), Some("config")));
        assert_eq!(view.endpoints["ec2"], "http://127.0.0.1:5000");

        let by_parameter = CloudConfig::parse(r#"{"credentials": {"parameter": "/cloud/keys"}}"#).unwrap();
        let view = CloudView::from_config(&by_parameter, "cloud.json".into(), true, Vec::new());
        assert_eq!(view.credentials.source, "parameter");
        assert_eq!(view.credentials.parameter.as_deref(), Some("/cloud/keys"));
        let none = CloudView::from_config(&CloudConfig::default(), "cloud.json".into(), false, Vec::new());
        assert_eq!(none.credentials.source, "environment");
        assert!(none.credentials.available.is_some());
    }
}
