//! `bosun package`: Distributor packages through the API. `create` reads a
//! manifest in AWS Distributor's format and the zip archives beside it, checks
//! both here first (every problem of the manifest, each archive's sha256 and
//! contents), uploads each archive by content and then creates the version;
//! `list`, `versions`, `show` and `delete` read and remove versions; `store`
//! says where the server keeps archives.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bosun_package::Manifest;
use bosun_package::archive;
use bosun_protocol::packages::{ContentStoreView, ContentStored, CreatePackageVersion, PackageDeleted, PackageSummary, PackageVersionView};
use clap::Subcommand;

use super::client::Client;
use super::fleet::{print_table, segment};
use super::{CliError, Context};
use crate::output::{OutputArg, OutputFormat, print_json};
use crate::packages::{ARCHIVE_LIMITS, MAX_ARCHIVE_BYTES};

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Create a package version from a manifest (AWS Distributor's format) and the zip archives it names.
    Create {
        name: String,
        /// The manifest JSON file.
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        /// The directory holding the archives (default: the manifest's directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The version; it must be the manifest's `version` (default: that one).
        #[arg(long, value_name = "VERSION")]
        version: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Every package with its latest version.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// The versions of a package, oldest first.
    Versions {
        name: String,
        #[command(flatten)]
        output: OutputArg,
    },
    /// One version of a package (the latest unless --version) with its archives and platforms.
    Show {
        name: String,
        #[arg(long, value_name = "VERSION")]
        version: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Delete one version, or every version of a package; refused while an association names it.
    Delete {
        name: String,
        #[arg(long, value_name = "VERSION")]
        version: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Where the server keeps archives: its data directory or an S3-compatible bucket.
    Store {
        #[command(flatten)]
        output: OutputArg,
    },
}

/// An archive read from disk and checked against the manifest.
#[derive(Debug)]
struct Archive {
    file: String,
    sha256: String,
    bytes: Vec<u8>,
}

/// Reads and checks the manifest and every archive it names, before anything is sent.
fn read_version(manifest_path: &Path, dir: Option<&Path>, version: Option<&str>) -> Result<(Manifest, Vec<Archive>), CliError> {
    let shown = manifest_path.display();
    let size = std::fs::metadata(manifest_path).map_err(|e| CliError::usage(format!("cannot read {shown}: {e}")))?.len();
    if size > bosun_package::manifest::MAX_MANIFEST_BYTES as u64 {
        return Err(CliError::usage(format!(
            "{shown}: {size} bytes; a manifest has at most {} bytes",
            bosun_package::manifest::MAX_MANIFEST_BYTES
        )));
    }
    let text = std::fs::read_to_string(manifest_path).map_err(|e| CliError::usage(format!("cannot read {shown}: {e}")))?;
    let manifest = Manifest::parse(&text)
        .map_err(|problems| CliError::usage(problems.iter().map(|p| format!("{shown}: {p}")).collect::<Vec<_>>().join("\n")))?;
    if let Some(v) = version.filter(|v| *v != manifest.version) {
        return Err(CliError::usage(format!("--version {v} differs from the manifest's version {}", manifest.version)));
    }
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| manifest_path.parent().map(Path::to_path_buf).unwrap_or_default());
    let mut archives = Vec::new();
    for (file, entry) in &manifest.files.0 {
        // The manifest's checks made `file` a plain name: it cannot leave `dir`.
        let path = dir.join(file);
        let shown = path.display();
        let size = std::fs::metadata(&path).map_err(|e| CliError::usage(format!("{file}: cannot read {shown}: {e}")))?.len();
        if size > MAX_ARCHIVE_BYTES {
            return Err(CliError::usage(format!("{file}: {size} bytes; an archive has at most {MAX_ARCHIVE_BYTES} bytes")));
        }
        let bytes = std::fs::read(&path).map_err(|e| CliError::usage(format!("{file}: cannot read {shown}: {e}")))?;
        let sha256 = bosun_package::sha256_hex(&bytes);
        if sha256 != entry.checksums.sha256 {
            return Err(CliError::usage(format!("{file}: its sha256 is {sha256}, the manifest says {}", entry.checksums.sha256)));
        }
        archive::inspect(std::io::Cursor::new(&bytes), ARCHIVE_LIMITS).map_err(|m| CliError::usage(format!("{file}: {m}")))?;
        archives.push(Archive { file: file.clone(), sha256, bytes });
    }
    Ok((manifest, archives))
}

pub async fn run(ctx: &Context, command: PackageCommand) -> Result<ExitCode, CliError> {
    match command {
        PackageCommand::Create { name, manifest, dir, version, output } => {
            bosun_package::check_package_name(&name).map_err(CliError::usage)?;
            let (manifest, archives) = read_version(&manifest, dir.as_deref(), version.as_deref())?;
            let client = Client::from_context(ctx)?;
            for archive in archives {
                let stored: ContentStored = client.put_bytes(&format!("/v1/packages/content/{}", archive.sha256), archive.bytes).await?;
                tracing::info!(file = %archive.file, sha256 = %stored.sha256, size = stored.size, created = stored.created, "archive uploaded");
            }
            let body = CreatePackageVersion { manifest: serde_json::to_value(&manifest).unwrap_or_default() };
            let view: PackageVersionView = client.post(&format!("/v1/packages/{}/versions", segment(&name)), &body).await?;
            show(&view, output.output);
        }
        PackageCommand::List { output } => {
            let packages: Vec<PackageSummary> = Client::from_context(ctx)?.get("/v1/packages").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&packages).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = packages
                        .iter()
                        .map(|p| {
                            vec![p.name.clone(), p.latest_version.clone(), p.versions.to_string(), p.size.to_string(), p.updated_at.clone()]
                        })
                        .collect();
                    print_table(&["NAME", "LATEST", "VERSIONS", "BYTES", "UPDATED"], &rows);
                }
            }
        }
        PackageCommand::Versions { name, output } => {
            let versions: Vec<PackageVersionView> =
                Client::from_context(ctx)?.get(&format!("/v1/packages/{}/versions", segment(&name))).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&versions).unwrap_or_default()),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = versions
                        .iter()
                        .map(|v| {
                            let latest = if v.latest { "latest" } else { "" };
                            vec![v.version.clone(), latest.into(), v.files.len().to_string(), v.created_at.clone()]
                        })
                        .collect();
                    print_table(&["VERSION", "", "ARCHIVES", "CREATED"], &rows);
                }
            }
        }
        PackageCommand::Show { name, version, output } => {
            let query = version.map(|v| format!("?version={}", segment(&v))).unwrap_or_default();
            let view: PackageVersionView = Client::from_context(ctx)?.get(&format!("/v1/packages/{}{query}", segment(&name))).await?;
            show(&view, output.output);
        }
        PackageCommand::Delete { name, version, output } => {
            let query = version.map(|v| format!("?version={}", segment(&v))).unwrap_or_default();
            let deleted: PackageDeleted = Client::from_context(ctx)?.delete(&format!("/v1/packages/{}{query}", segment(&name))).await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&deleted).unwrap_or_default()),
                OutputFormat::Text => crate::outln!(
                    "deleted {} version(s) {}; {} archive(s) removed from the content store",
                    deleted.name,
                    deleted.versions.join(", "),
                    deleted.removed_content.len()
                ),
            }
        }
        PackageCommand::Store { output } => {
            let store: ContentStoreView = Client::from_context(ctx)?.get("/v1/packages/content/store").await?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&store).unwrap_or_default()),
                OutputFormat::Text => crate::outln!("{} ({})", store.location, store.kind),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(view: &PackageVersionView, format: OutputFormat) {
    match format {
        OutputFormat::Json => print_json(&serde_json::to_value(view).unwrap_or_default()),
        OutputFormat::Text => {
            crate::outln!("{} {}{} (created {})", view.name, view.version, if view.latest { " (latest)" } else { "" }, view.created_at);
            let rows: Vec<Vec<String>> = view.files.iter().map(|f| vec![f.file.clone(), f.size.to_string(), f.sha256.clone()]).collect();
            print_table(&["ARCHIVE", "BYTES", "SHA256"], &rows);
            crate::outln!("platforms: {}", view.platforms.join("; "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_version(dir: &Path, archive: &[u8], sha: &str) -> PathBuf {
        std::fs::write(dir.join("tool.zip"), archive).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":"2.0","version":"1.0","packages":{{"ubuntu":{{"_any":{{"x86_64":{{"file":"tool.zip"}}}}}}}},
                "files":{{"tool.zip":{{"checksums":{{"sha256":"{sha}"}}}}}}}}"#
        );
        std::fs::write(dir.join("manifest.json"), manifest).unwrap();
        dir.join("manifest.json")
    }

    #[test]
    fn archives_are_checked_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let zip = archive::write_zip(&[("install.sh", b"true"), ("uninstall.sh", b"true")]).unwrap();
        let manifest = write_version(dir.path(), &zip, &bosun_package::sha256_hex(&zip));
        let (read, archives) = read_version(&manifest, None, Some("1.0")).unwrap();
        assert_eq!((read.version.as_str(), archives.len()), ("1.0", 1));
        assert!(read_version(&manifest, None, Some("2.0")).unwrap_err().message.contains("differs from the manifest's version 1.0"));

        let wrong = write_version(dir.path(), &zip, &"0".repeat(64));
        let error = read_version(&wrong, None, None).unwrap_err();
        assert!(error.message.contains("tool.zip: its sha256 is") && error.message.contains(&"0".repeat(64)), "{}", error.message);

        let no_scripts = archive::write_zip(&[("readme", b"x")]).unwrap();
        let bad = write_version(dir.path(), &no_scripts, &bosun_package::sha256_hex(&no_scripts));
        assert!(read_version(&bad, None, None).unwrap_err().message.contains("no install.sh"));

        // A huge archive (sparse: no disk used) is refused from its size, before it is read.
        std::fs::File::create(dir.path().join("tool.zip")).unwrap().set_len(MAX_ARCHIVE_BYTES + 1).unwrap();
        assert!(read_version(&manifest, None, None).unwrap_err().message.contains("an archive has at most"));

        let elsewhere = tempfile::tempdir().unwrap();
        let error = read_version(&manifest, Some(elsewhere.path()), None).unwrap_err();
        assert!(error.message.starts_with("tool.zip: cannot read"), "{}", error.message);
        std::fs::write(dir.path().join("manifest.json"), "{\"schemaVersion\": 2}").unwrap();
        assert!(read_version(&manifest, None, None).unwrap_err().message.contains("manifest.json: line 1"));
    }
}
