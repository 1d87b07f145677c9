//! Distributor on the wire: a package version to create (its manifest, the
//! archives uploaded before by content), what the package API lists and shows,
//! and what a node gets for `aws:configurePackage` (the manifest and the node's
//! platform as the server knows it).

use serde::{Deserialize, Serialize};

/// `POST /v1/packages/{name}/versions`: a version, from its manifest; every archive
/// the manifest names must have been uploaded (`PUT /v1/packages/content/{sha256}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePackageVersion {
    /// The manifest in AWS Distributor's format (schemaVersion 2.0); its `version` names the version.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub manifest: serde_json::Value,
}

/// One archive of a package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PackageFile {
    pub file: String,
    pub sha256: String,
    pub size: u64,
}

/// A package version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PackageVersionView {
    pub name: String,
    pub version: String,
    /// True for the version installed when none is named (the newest created).
    pub latest: bool,
    pub created_at: String,
    /// `platform version architecture` triples the version has an archive for.
    pub platforms: Vec<String>,
    pub files: Vec<PackageFile>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub manifest: serde_json::Value,
}

/// A package, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PackageSummary {
    pub name: String,
    pub latest_version: String,
    pub versions: u64,
    /// The bytes of every archive of every version.
    pub size: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// What `DELETE /v1/packages/{name}[?version=V]` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PackageDeleted {
    pub name: String,
    pub versions: Vec<String>,
    /// Archives no version uses any more, removed from the content store.
    pub removed_content: Vec<String>,
}

/// What `PUT /v1/packages/content/{sha256}` stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContentStored {
    pub sha256: String,
    pub size: u64,
    /// False when the store had this content already.
    pub created: bool,
}

/// The node, as Distributor names platforms (`ubuntu`, `x86_64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PackageNode {
    pub platform: String,
    pub version: String,
    pub architecture: String,
}

/// `GET /v1/agent/packages/{name}?version=V`: what a node needs to install a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentPackage {
    pub name: String,
    pub version: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub manifest: serde_json::Value,
    pub node: PackageNode,
}

/// Where the control plane keeps package archives (`GET /v1/packages/content/store`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContentStoreView {
    /// `local` (the data directory) or `s3` (an S3-compatible bucket).
    pub kind: String,
    /// `file:///…` or `s3://bucket[/prefix]`.
    pub location: String,
}
