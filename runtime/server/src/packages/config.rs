//! Where package archives are kept: `<data-dir>/content-store.json`. Without
//! the file, in `<data-dir>/packages`; with `{"s3": {...}}`, in an
//! S3-compatible bucket:
//!
//! ```json
//! {"s3": {"bucket": "bosun-packages", "prefix": "archives", "region": "eu-west-1",
//!         "endpoint": "https://minio.example.net:9000", "pathStyle": true,
//!         "credentials": {"parameter": "/bosun/content-store/keys"}}}
//! ```
//!
//! Only `bucket` is required. `region` defaults to the cloud configuration's
//! (`cloud.json`, then `AWS_REGION`), `endpoint` to the cloud configuration's
//! `endpoints.s3` and then AWS's, and `credentials` (the same forms as in
//! `cloud.json`) to the cloud configuration's.

use std::path::Path;

use serde::Deserialize;

use crate::cloud::CredentialSource;
use crate::cloud::config::{CloudConfig, check_endpoint, is_name, parse_config, read_config};

/// The file's name in the data directory.
pub const CONFIG_FILE: &str = "content-store.json";
/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 64 << 10;
/// The longest key prefix.
const MAX_PREFIX_BYTES: usize = 512;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentStoreConfig {
    /// An S3-compatible bucket; none keeps archives in the data directory.
    pub s3: Option<S3Config>,
}

/// An S3-compatible bucket holding archives as `<prefix>/<sha256>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Config {
    pub bucket: String,
    /// Keys start with `<prefix>/`; empty: at the bucket's root.
    #[serde(default)]
    pub prefix: String,
    pub region: Option<String>,
    /// The service's base URL (scheme, host, port), for S3-compatible services.
    pub endpoint: Option<String>,
    /// `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint host>/<key>`.
    #[serde(default)]
    pub path_style: bool,
    pub credentials: Option<CredentialSource>,
}

impl ContentStoreConfig {
    /// Reads and checks `<data_dir>/content-store.json`; no file is the local store.
    pub fn load(data_dir: &Path) -> Result<ContentStoreConfig, String> {
        let path = data_dir.join(CONFIG_FILE);
        match read_config(&path, "content store configuration", MAX_CONFIG_BYTES)? {
            None => Ok(ContentStoreConfig::default()),
            Some(text) => Self::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Parses and checks a configuration's text. Errors name the field and never quote a key.
    pub fn parse(text: &str) -> Result<ContentStoreConfig, String> {
        let config: ContentStoreConfig = parse_config(text)?;
        if let Some(s3) = &config.s3 {
            s3.check().map_err(|e| format!("s3.{e}"))?;
        }
        Ok(config)
    }
}

impl S3Config {
    fn check(&self) -> Result<(), String> {
        check_bucket(&self.bucket).map_err(|e| format!("bucket: {e}"))?;
        check_prefix(&self.prefix).map_err(|e| format!("prefix: {e}"))?;
        if let Some(region) = &self.region
            && !is_name(region)
        {
            return Err(format!("region: {region:?} is not a region name such as us-east-1"));
        }
        if let Some(endpoint) = &self.endpoint {
            check_endpoint(endpoint).map_err(|e| format!("endpoint: {e}"))?;
        }
        if !self.path_style && self.bucket.contains('.') {
            return Err("pathStyle: a bucket name with dots needs \"pathStyle\": true (it cannot be a host name under TLS)".into());
        }
        CloudConfig { credentials: self.credentials.clone(), ..CloudConfig::default() }.check()
    }

    /// The prefix without a trailing `/`.
    pub fn key_prefix(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }
}

/// S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (3..=63).contains(&bucket.len())
        && bucket.chars().all(allowed)
        && edge(bucket.chars().next())
        && edge(bucket.chars().last())
        && !bucket.contains("..")
    {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)",
            bucket.chars().take(80).collect::<String>()
        ))
    }
}

/// A key prefix: segments of letters, digits, `.`, `_` and `-` joined by `/`, no `.` or `..` segment.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(format!("longer than {MAX_PREFIX_BYTES} bytes"));
    }
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return if prefix.is_empty() { Ok(()) } else { Err("\"/\" alone: leave the prefix out for the bucket's root".into()) };
    }
    let segment_ok =
        |s: &str| !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if trimmed.split('/').all(segment_ok) {
        Ok(())
    } else {
        Err(format!(
            "{:?}: segments of letters, digits, '.', '_' and '-' joined by '/', without a leading '/', an empty, '.' or '..' segment",
            prefix.chars().take(80).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_or_no_s3_section_is_the_local_store() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ContentStoreConfig::load(dir.path()).unwrap(), ContentStoreConfig::default());
        assert_eq!(ContentStoreConfig::parse("{}").unwrap(), ContentStoreConfig::default());
    }

    #[test]
    fn reads_every_field() {
        let config = ContentStoreConfig::parse(
            r#"{"s3": {"bucket": "my.bucket-1", "prefix": "bosun/archives/", "region": "eu-west-1",
                "endpoint": "http://127.0.0.1:9000", "pathStyle": true,
                "credentials": {"accessKeyId": "AKID", "secretAccessKey": "SECRET"}}}"#,
        )
        .unwrap();
        let s3 = config.s3.unwrap();
        assert_eq!((s3.bucket.as_str(), s3.key_prefix(), s3.path_style), ("my.bucket-1", "bosun/archives", true));
        assert!(!format!("{s3:?}").contains("SECRET"), "{s3:?}");
        let minimal = ContentStoreConfig::parse(r#"{"s3": {"bucket": "packages"}}"#).unwrap().s3.unwrap();
        assert_eq!((minimal.key_prefix(), minimal.region.as_deref(), minimal.path_style), ("", None, false));
    }

    #[test]
    fn bad_configurations_name_the_field_and_never_a_key() {
        let e = |text: &str| ContentStoreConfig::parse(text).unwrap_err();
        let s3 = |fields: &str| e(&format!(r#"{{"s3": {{"bucket": "packages", {fields}}}}}"#));
        assert!(e("{").contains("not JSON"));
        assert!(e(r#"{"s4": {}}"#).contains("unknown field `s4`"));
        assert!(e(r#"{"s3": {}}"#).contains("missing field `bucket`"));
        assert!(e(r#"{"s3": {"bucket": "packages", "pathstyle": true}}"#).contains("unknown field `pathstyle`"));
        for bucket in ["ab", "Packages", "-packages", "packages-", "pack_ages", "a..b", &"a".repeat(64), "../etc"] {
            let message = e(&serde_json::json!({"s3": {"bucket": bucket}}).to_string());
            assert!(message.starts_with("s3.bucket: "), "{bucket}: {message}");
        }
        for prefix in ["/abs", "a//b", "a/../b", "./a", "a b", "a\\b", "a\u{0}b", "/", &"a".repeat(513)] {
            let message = e(&serde_json::json!({"s3": {"bucket": "packages", "prefix": prefix}}).to_string());
            assert!(message.starts_with("s3.prefix: "), "{prefix:?}: {message}");
        }
        assert!(s3(r#""region": "EU West""#).starts_with("s3.region: "));
        assert!(s3(r#""endpoint": "ftp://x""#).starts_with("s3.endpoint: "));
        assert!(s3(r#""endpoint": "http://x/path""#).starts_with("s3.endpoint: "));
        assert!(e(r#"{"s3": {"bucket": "my.packages"}}"#).starts_with("s3.pathStyle: "));
        assert!(s3(r#""credentials": {"accessKeyId": "", "secretAccessKey": "x"}"#).starts_with("s3.credentials: "));
        assert!(s3(r#""credentials": {"parameter": ""}"#).starts_with("s3.credentials.parameter: "));
        let secret = s3(r#""credentials": {"accessKeyId": "AKIDLOOKING", "secretAccessKey": 987654321}"#);
        assert!(!secret.contains("987654321") && !secret.contains("AKIDLOOKING"), "{secret}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), vec![b' '; (MAX_CONFIG_BYTES + 1) as usize]).unwrap();
        assert!(ContentStoreConfig::load(dir.path()).unwrap_err().contains("larger than"));
    }
}
