//! Distributor in the control plane: archives uploaded into the content store
//! under the SHA-256 the uploader claims (refused when the bytes hash to
//! anything else or pass the size limit), versions created from a manifest
//! whose every archive is present and passes the archive checks, deletion that
//! frees archives no version uses, and what a node reads to install a version.
//! Archives live in the data directory, or in an S3-compatible bucket
//! (`config.rs`, `s3/`); every whole read is checked against the sha256.

pub mod config;
mod s3;

use std::io::Seek;
use std::path::Path;
use std::sync::Arc;

use bosun_package::archive::{self, ArchiveLimits};
use bosun_package::{Manifest, NodePlatform};
use bosun_protocol::packages::{AgentPackage, PackageDeleted, PackageFile, PackageNode, PackageVersionView};
use bosun_store::packages::content::{CheckedReader, ContentError, ContentReader, ContentStore, LocalContent, StagedContent};
use bosun_store::{FleetError, Store};

use bosun_plugin_host::CloudAccess;

use crate::cloud::{CloudConfig, ServerCloud};
use crate::params::Parameters;
use config::{ContentStoreConfig, S3Config};

/// The largest archive accepted.
pub const MAX_ARCHIVE_BYTES: u64 = 512 << 20;
/// What one archive may unpack to.
pub const ARCHIVE_LIMITS: ArchiveLimits = ArchiveLimits { max_entries: 10_000, max_unpacked_bytes: 2 << 30 };

/// Why a package request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// A field is wrong; `details` lists every problem (a manifest's, one per line).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String, details: Vec<String> },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Internal(String),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> PackageError {
    PackageError::Invalid { field: field.into(), message: message.into(), details: Vec::new() }
}

impl From<ContentError> for PackageError {
    fn from(e: ContentError) -> Self {
        match e {
            ContentError::Mismatch { .. } => invalid("sha256", e.to_string()),
            ContentError::BadName(_) => invalid("sha256", e.to_string()),
            ContentError::TooLarge { .. } => PackageError::TooLarge(e.to_string()),
            ContentError::Io(message) => PackageError::Internal(message),
        }
    }
}

/// The package service: the store's records and the content store's archives.
pub struct Packages {
    store: Arc<Store>,
    content: Arc<dyn ContentStore>,
}

impl Packages {
    /// Packages kept in the store, with archives where the data directory's
    /// `content-store.json` says (by default, under `<data-dir>/packages`).
    pub fn open(store: Arc<Store>, parameters: Arc<Parameters>) -> Result<Arc<Packages>, String> {
        let data_dir = store.path().parent().map(Path::to_path_buf).unwrap_or_default();
        let content = content_store(&data_dir, parameters)?;
        tracing::info!(location = %content.location(), "package archives are kept here");
        Ok(Arc::new(Packages { store, content }))
    }

    /// Where archives are kept (`file://…`, `s3://…`).
    pub fn location(&self) -> String {
        self.content.location()
    }

    /// Starts an upload of an archive that must hash to `sha256`.
    pub fn stage(&self, sha256: &str) -> Result<Box<dyn StagedContent>, PackageError> {
        Ok(self.content.stage(sha256, MAX_ARCHIVE_BYTES)?)
    }

    /// Creates version `manifest.version` of package `name`: the manifest is checked,
    /// every archive must be in the content store and pass the archive checks.
    pub fn create_version(&self, name: &str, manifest: &serde_json::Value) -> Result<PackageVersionView, PackageError> {
        bosun_package::check_package_name(name).map_err(|m| invalid("name", m))?;
        let manifest = Manifest::parse(&manifest.to_string()).map_err(|problems| PackageError::Invalid {
            field: "manifest".into(),
            message: format!("the manifest is not valid: {}", problems[0]),
            details: problems.iter().map(|p| format!("manifest: {p}")).collect(),
        })?;
        let mut files = Vec::new();
        for (file, entry) in &manifest.files.0 {
            let sha256 = &entry.checksums.sha256;
            let field = format!("manifest.files.{file}");
            let (reader, size) = self.content.open(sha256)?.ok_or_else(|| {
                invalid(&field, format!("the archive {file} (sha256 {sha256}) has not been uploaded: PUT /v1/packages/content/{sha256}"))
            })?;
            let mut reader = CheckedReader::new(reader, sha256);
            std::io::copy(&mut reader, &mut std::io::sink()).and_then(|_| reader.rewind()).map_err(|e| {
                let location = self.content.location();
                invalid(&field, format!("the archive {file} in {location}: {e}; upload it again: PUT /v1/packages/content/{sha256}"))
            })?;
            archive::inspect(reader, ARCHIVE_LIMITS).map_err(|m| invalid(&field, format!("the archive {file}: {m}")))?;
            files.push(PackageFile { file: file.clone(), sha256: sha256.clone(), size });
        }
        Ok(self.store.create_package_version(name, manifest, files)?)
    }

    /// Deletes a version or the whole package, then the archives no version uses any more.
    pub fn delete(&self, name: &str, version: Option<&str>) -> Result<PackageDeleted, PackageError> {
        let (versions, orphaned) = self.store.delete_package(name, version)?;
        for sha256 in &orphaned {
            if let Err(e) = self.content.remove(sha256) {
                tracing::warn!(sha256, error = %e, "an archive no package version uses could not be removed");
            }
        }
        Ok(PackageDeleted { name: name.to_string(), versions, removed_content: orphaned })
    }

    /// What node `node_id` needs to install a version (the latest when none is named).
    pub fn for_node(&self, node_id: &str, name: &str, version: Option<&str>) -> Result<AgentPackage, PackageError> {
        let view = self.store.package_version(name, version)?;
        let node = self
            .store
            .get_node(node_id, std::time::Duration::from_secs(60))
            .map_err(|e| PackageError::Internal(e.to_string()))?
            .ok_or_else(|| FleetError::NotFound(format!("no node {node_id}")))?;
        let platform = NodePlatform::from_os(&node.platform.name, &node.platform.version, &node.platform.architecture);
        Ok(AgentPackage {
            name: view.name,
            version: view.version,
            manifest: view.manifest,
            node: PackageNode { platform: platform.platform, version: platform.version, architecture: platform.architecture },
        })
    }

    /// An archive of a version, by its name in the manifest; never by a path.
    pub fn open_file(&self, name: &str, version: &str, file: &str) -> Result<OpenedArchive, PackageError> {
        let view = self.store.package_version(name, Some(version))?;
        let missing = || FleetError::NotFound(format!("version {version} of package {name} has no archive {file:?}"));
        let entry = view.files.iter().find(|f| f.file == file).ok_or_else(missing)?;
        let (reader, size) = self.content.open(&entry.sha256)?.ok_or_else(|| {
            PackageError::Internal(format!("the archive {file} of {name} {version} is missing from {}", self.content.location()))
        })?;
        Ok(OpenedArchive { reader, size, sha256: entry.sha256.clone() })
    }
}

/// An archive opened for reading, with the sha256 it is stored under.
pub struct OpenedArchive {
    pub reader: Box<dyn ContentReader>,
    pub size: u64,
    pub sha256: String,
}

impl OpenedArchive {
    /// The reader for a whole read: it fails at the end unless the bytes hash to the sha256.
    pub fn checked(self) -> CheckedReader<Box<dyn ContentReader>> {
        CheckedReader::new(self.reader, &self.sha256)
    }
}

/// The content store `content-store.json` in `data_dir` names.
fn content_store(data_dir: &Path, parameters: Arc<Parameters>) -> Result<Arc<dyn ContentStore>, String> {
    let Some(s3) = ContentStoreConfig::load(data_dir)?.s3 else {
        return Ok(Arc::new(LocalContent::open(&data_dir.join("packages")).map_err(|e| e.to_string())?));
    };
    let (target, signer) = s3_target(data_dir, &s3, Some(parameters))?;
    Ok(Arc::new(s3::S3Content::new(Arc::new(signer), &target, &data_dir.join("packages-staging"))?))
}

/// Checks the content store's configuration as the server will read it, before it starts.
pub fn check_configuration(data_dir: &Path) -> Result<(), String> {
    match ContentStoreConfig::load(data_dir)?.s3 {
        Some(s3) => s3_target(data_dir, &s3, None).map(|_| ()),
        None => Ok(()),
    }
}

/// A bucket and its signer: region, endpoint and credentials from its section, else from the cloud configuration.
fn s3_target(data_dir: &Path, s3: &S3Config, parameters: Option<Arc<Parameters>>) -> Result<(s3::S3Target, ServerCloud), String> {
    let cloud = CloudConfig::load(data_dir)?;
    let credentials = s3.credentials.clone().or(cloud.credentials.clone());
    let signer = ServerCloud::new(CloudConfig { credentials, ..cloud }, parameters);
    let region =
        s3.region.clone().or_else(|| signer.default_region()).ok_or_else(|| {
            format!("{}: s3.region: no region is set here, in the cloud configuration or in AWS_REGION", config::CONFIG_FILE)
        })?;
    let endpoint = s3.endpoint.clone().unwrap_or_else(|| signer.endpoint("s3", &region));
    let target =
        s3::S3Target { bucket: s3.bucket.clone(), prefix: s3.key_prefix().to_string(), region, endpoint, path_style: s3.path_style };
    Ok((target, signer))
}
