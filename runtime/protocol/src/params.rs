//! Parameter Store's API (`/v1/parameters/*`): put, read (one, many, by path,
//! history), label, unlabel and delete parameters, in SSM's shapes and names.

use serde::{Deserialize, Serialize};

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::StringList => "StringList",
            Self::SecureString => "SecureString",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::String, Self::StringList, Self::SecureString].into_iter().find(|t| t.as_str() == text)
    }
}

/// A parameter's tier; `Intelligent-Tiering` in a put lets Bosun choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Tier {
    Standard,
    Advanced,
    #[serde(rename = "Intelligent-Tiering")]
    IntelligentTiering,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::Advanced => "Advanced",
            Self::IntelligentTiering => "Intelligent-Tiering",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Standard, Self::Advanced, Self::IntelligentTiering].into_iter().find(|t| t.as_str() == text)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutParameter {
    pub name: String,
    pub value: String,
    /// Required for a new parameter; an overwrite keeps the current type when absent.
    #[serde(rename = "type")]
    pub kind: Option<ParameterType>,
    pub description: Option<String>,
    /// A regular expression the whole value must match.
    pub allowed_pattern: Option<String>,
    /// `text` (the default) or `aws:ec2:image`.
    pub data_type: Option<String>,
    /// Standard (the default for a new parameter), Advanced or Intelligent-Tiering.
    pub tier: Option<Tier>,
    /// Policies in SSM's JSON format (a JSON array as text); Advanced tier only.
    pub policies: Option<String>,
    /// Without it, putting an existing name fails.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PutResult {
    pub version: i64,
    pub tier: Tier,
}

/// A parameter policy as stored with a version, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// The policy's JSON text.
    pub policy_text: String,
    pub policy_type: String,
    /// Pending or Finished.
    pub policy_status: String,
}

/// One version of a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// The value; for a SecureString read without decryption, its ciphertext in base64.
    pub value: String,
    pub version: i64,
    /// The selector the caller used (`:3`, `:label`), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    pub last_modified_date: String,
    pub last_modified_user: String,
    pub tier: Tier,
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// The master key id a SecureString's data key is wrapped under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetParameter {
    /// `name`, `name:VERSION` or `name:LABEL`.
    pub name: String,
    #[serde(default)]
    pub with_decryption: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetParameters {
    /// 1 to 10 names, each with an optional selector.
    pub names: Vec<String>,
    #[serde(default)]
    pub with_decryption: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GetParametersResult {
    pub parameters: Vec<Parameter>,
    /// Names that are invalid, do not exist or may not be read, as given.
    pub invalid_parameters: Vec<String>,
}

/// A filter of get-by-path: `Type`, `Label`, `Tier` or `DataType`, with `Equals` values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathFilter {
    pub key: String,
    /// Equals (the default).
    pub option: Option<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetParametersByPath {
    pub path: String,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub with_decryption: bool,
    #[serde(default)]
    pub filters: Vec<PathFilter>,
    /// 1 to 10 (the default).
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ParametersPage {
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetParameterHistory {
    pub name: String,
    #[serde(default)]
    pub with_decryption: bool,
    /// 1 to 50 (the default).
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

/// A policy that fired, as the parameter's history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyFiring {
    pub policy_type: String,
    pub due_at: String,
    pub fired_at: String,
    pub event_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// Oldest first.
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_firings: Vec<PolicyFiring>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelParameterVersion {
    pub name: String,
    /// The latest version when absent.
    pub parameter_version: Option<i64>,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelResult {
    pub parameter_version: i64,
    /// Labels that break the label rules; none of the request's labels was applied when any is here.
    pub invalid_labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnlabelParameterVersion {
    pub name: String,
    pub parameter_version: i64,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UnlabelResult {
    pub removed_labels: Vec<String>,
    /// Labels that were not on that version.
    pub invalid_labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteParameters {
    /// 1 to 10 names.
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeleteResult {
    pub deleted_parameters: Vec<String>,
    pub invalid_parameters: Vec<String>,
}
