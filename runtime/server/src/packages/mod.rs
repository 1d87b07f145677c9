//! Distributor in the control plane: archives uploaded into the content store
//! under the SHA-256 the uploader claims (refused when the bytes hash to
//! anything else or pass the size limit), versions created from a manifest
//! whose every archive is present and passes the archive checks, deletion that
//! frees archives no version uses, and what a node reads to install a version.

use std::sync::Arc;

use bosun_package::archive::{self, ArchiveLimits};
use bosun_package::{Manifest, NodePlatform};
use bosun_protocol::packages::{AgentPackage, PackageDeleted, PackageFile, PackageNode, PackageVersionView};
use bosun_store::packages::content::{ContentError, ContentStore, LocalContent, StagedContent, StoredContent};
use bosun_store::{FleetError, Store};

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
    /// Packages kept in the store, with archives under `<data-dir>/packages`.
    pub fn open(store: Arc<Store>) -> Result<Arc<Packages>, String> {
        let data_dir = store.path().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let content = LocalContent::open(&data_dir.join("packages")).map_err(|e| e.to_string())?;
        Ok(Arc::new(Packages { store, content: Arc::new(content) }))
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
    pub fn open_file(&self, name: &str, version: &str, file: &str) -> Result<StoredContent, PackageError> {
        let view = self.store.package_version(name, Some(version))?;
        let missing = || FleetError::NotFound(format!("version {version} of package {name} has no archive {file:?}"));
        let entry = view.files.iter().find(|f| f.file == file).ok_or_else(missing)?;
        let (reader, size) = self.content.open(&entry.sha256)?.ok_or_else(|| {
            PackageError::Internal(format!("the archive {file} of {name} {version} is missing from {}", self.content.location()))
        })?;
        Ok((reader, size))
    }
}
