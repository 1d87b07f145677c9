//! Distributor packages: each package's versions (immutable once created, the
//! newest created being `latest`), each version's manifest and the archives it
//! names, kept by SHA-256 in a content store (`content.rs`). Creating or deleting
//! a version appends a `bosun.package` event in the same transaction. A version
//! that a State Manager association names (its `name` parameter, and its
//! `version` parameter or none while it is the latest) cannot be deleted.

pub mod content;

use bosun_package::Manifest;
use bosun_protocol::packages::{PackageFile, PackageSummary, PackageVersionView};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{FleetError, NewEvent, Store, now, sql_error};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS packages (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS package_versions (
    no INTEGER PRIMARY KEY,
    name TEXT NOT NULL REFERENCES packages (name) ON DELETE CASCADE,
    version TEXT NOT NULL,
    manifest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS package_files (
    version_no INTEGER NOT NULL REFERENCES package_versions (no) ON DELETE CASCADE,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (version_no, file)
);
CREATE INDEX IF NOT EXISTS package_files_by_sha256 ON package_files (sha256);
";

/// The most versions one package keeps.
pub const MAX_VERSIONS: usize = 1000;

fn event(detail_type: &str, name: &str, version: &str, detail: serde_json::Value) -> NewEvent {
    NewEvent {
        source: "bosun.package".into(),
        detail_type: detail_type.into(),
        resources: vec![format!("package/{name}/{version}")],
        detail,
    }
}

fn versions_of(conn: &Connection, name: &str) -> Result<Vec<PackageVersionView>, rusqlite::Error> {
    let mut views = Vec::new();
    let mut rows = conn.prepare_cached("SELECT no, version, manifest, created_at FROM package_versions WHERE name = ?1 ORDER BY no")?;
    let found: Vec<(i64, String, String, String)> =
        rows.query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
    let last = found.last().map(|f| f.0);
    for (no, version, manifest, created_at) in found {
        let files = conn
            .prepare_cached("SELECT file, sha256, size FROM package_files WHERE version_no = ?1 ORDER BY file")?
            .query_map([no], |r| Ok(PackageFile { file: r.get(0)?, sha256: r.get(1)?, size: r.get::<_, i64>(2)? as u64 }))?
            .collect::<Result<Vec<_>, _>>()?;
        let parsed: Option<Manifest> = serde_json::from_str(&manifest).ok();
        views.push(PackageVersionView {
            name: name.to_string(),
            version,
            latest: Some(no) == last,
            created_at,
            platforms: parsed.as_ref().map(bosun_package::platform::offered).unwrap_or_default(),
            files,
            manifest: serde_json::from_str(&manifest).unwrap_or_default(),
        });
    }
    Ok(views)
}

/// The associations whose parameters name package `name`, each with the version
/// it names (none: the latest).
fn associations_naming(conn: &Connection, name: &str) -> Result<Vec<(String, Option<String>)>, rusqlite::Error> {
    let text = |value: Option<&serde_json::Value>| -> Option<String> {
        match value? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(list) => list.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        }
    };
    let mut naming = Vec::new();
    let mut rows = conn.prepare_cached("SELECT name, definition FROM associations ORDER BY name")?;
    for row in rows.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (association, definition) = row?;
        let Ok(definition) = serde_json::from_str::<serde_json::Value>(&definition) else { continue };
        let parameters = &definition["parameters"];
        if text(parameters.get("name")).as_deref() == Some(name) {
            naming.push((association, text(parameters.get("version")).filter(|v| !v.is_empty())));
        }
    }
    Ok(naming)
}

fn create(conn: &Connection, manifest: &Manifest, files: &[PackageFile], name: &str) -> Result<PackageVersionView, FleetError> {
    let at = now();
    let exists: Option<String> =
        conn.query_row("SELECT created_at FROM packages WHERE name = ?1", [name], |r| r.get(0)).optional().map_err(sql_error)?;
    if exists.is_none() {
        conn.execute("INSERT INTO packages (name, created_at, updated_at) VALUES (?1, ?2, ?2)", params![name, at]).map_err(sql_error)?;
    }
    let taken: Option<i64> = conn
        .query_row("SELECT no FROM package_versions WHERE name = ?1 AND version = ?2", [name, &manifest.version], |r| r.get(0))
        .optional()
        .map_err(sql_error)?;
    if taken.is_some() {
        return Err(FleetError::Conflict(format!(
            "package {name} has a version {} already; versions do not change: give the manifest another version",
            manifest.version
        )));
    }
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM package_versions WHERE name = ?1", [name], |r| r.get(0)).map_err(sql_error)?;
    if count as usize >= MAX_VERSIONS {
        return Err(FleetError::Conflict(format!("package {name} has {MAX_VERSIONS} versions, the most kept: delete old ones first")));
    }
    conn.execute(
        "INSERT INTO package_versions (name, version, manifest, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, manifest.version, manifest.to_json(), at],
    )
    .map_err(sql_error)?;
    let no = conn.last_insert_rowid();
    for file in files {
        conn.execute(
            "INSERT INTO package_files (version_no, file, sha256, size) VALUES (?1, ?2, ?3, ?4)",
            params![no, file.file, file.sha256, file.size as i64],
        )
        .map_err(sql_error)?;
    }
    conn.execute("UPDATE packages SET updated_at = ?2 WHERE name = ?1", params![name, at]).map_err(sql_error)?;
    let detail = serde_json::json!({"name": name, "version": manifest.version, "files": files.len()});
    crate::events::append(conn, &event("Package Version Created", name, &manifest.version, detail))?;
    let views = versions_of(conn, name).map_err(sql_error)?;
    views.into_iter().find(|v| v.version == manifest.version).ok_or_else(|| FleetError::NotFound("the version just created".into()))
}

/// Deletes one version (or every version) and returns the removed versions and
/// the archives no version uses any more.
fn delete(conn: &Connection, name: &str, version: Option<&str>) -> Result<(Vec<String>, Vec<String>), FleetError> {
    let versions = versions_of(conn, name).map_err(sql_error)?;
    if versions.is_empty() {
        return Err(FleetError::NotFound(format!("no package {name}")));
    }
    let doomed: Vec<&PackageVersionView> = match version {
        Some(v) => {
            let one = versions
                .iter()
                .find(|x| x.version == v)
                .ok_or_else(|| FleetError::NotFound(format!("package {name} has no version {v}")))?;
            vec![one]
        }
        None => versions.iter().collect(),
    };
    // A version is in use when an association names it, or names no version while it is the latest.
    let in_use: Vec<String> = associations_naming(conn, name)
        .map_err(sql_error)?
        .into_iter()
        .filter(|(_, wanted)| match (version, wanted) {
            (None, _) => true,
            (Some(v), Some(w)) => v == w,
            (Some(_), None) => doomed[0].latest,
        })
        .map(|(association, _)| association)
        .collect();
    if !in_use.is_empty() {
        let what = version.map_or(format!("package {name}"), |v| format!("version {v} of package {name}"));
        return Err(FleetError::Conflict(format!(
            "{what} is in use by the association(s) {}: change or delete them first",
            in_use.join(", ")
        )));
    }
    let mut shas = Vec::new();
    for view in &doomed {
        conn.execute("DELETE FROM package_versions WHERE name = ?1 AND version = ?2", [name, &view.version]).map_err(sql_error)?;
        shas.extend(view.files.iter().map(|f| f.sha256.clone()));
        let detail = serde_json::json!({"name": name, "version": view.version});
        crate::events::append(conn, &event("Package Version Deleted", name, &view.version, detail))?;
    }
    let left: i64 = conn.query_row("SELECT COUNT(*) FROM package_versions WHERE name = ?1", [name], |r| r.get(0)).map_err(sql_error)?;
    if left == 0 {
        conn.execute("DELETE FROM packages WHERE name = ?1", [name]).map_err(sql_error)?;
    }
    shas.sort();
    shas.dedup();
    let mut orphaned = Vec::new();
    for sha in shas {
        let used: i64 = conn.query_row("SELECT COUNT(*) FROM package_files WHERE sha256 = ?1", [&sha], |r| r.get(0)).map_err(sql_error)?;
        if used == 0 {
            orphaned.push(sha);
        }
    }
    Ok((doomed.iter().map(|v| v.version.clone()).collect(), orphaned))
}

impl Store {
    /// Records a new version of package `name` from its checked manifest and the
    /// archives already in the content store. Versions never change: a second
    /// version with the same name is a conflict.
    pub fn create_package_version(
        &self,
        name: &str,
        manifest: Manifest,
        files: Vec<PackageFile>,
    ) -> Result<PackageVersionView, FleetError> {
        let name = name.to_string();
        self.fleet_write(move |conn| create(conn, &manifest, &files, &name))
    }

    /// Every package, with its latest version.
    pub fn list_packages(&self) -> Result<Vec<PackageSummary>, FleetError> {
        Ok(self.fleet_read(|conn| {
            let mut statement = conn.prepare(
                "SELECT p.name, p.created_at, p.updated_at,
                        (SELECT version FROM package_versions v WHERE v.name = p.name ORDER BY no DESC LIMIT 1),
                        (SELECT COUNT(*) FROM package_versions v WHERE v.name = p.name),
                        (SELECT COALESCE(SUM(f.size), 0) FROM package_files f JOIN package_versions v ON v.no = f.version_no WHERE v.name = p.name)
                 FROM packages p ORDER BY p.name",
            )?;
            statement
                .query_map([], |r| {
                    Ok(PackageSummary {
                        name: r.get(0)?,
                        created_at: r.get(1)?,
                        updated_at: r.get(2)?,
                        latest_version: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        versions: r.get::<_, i64>(4)? as u64,
                        size: r.get::<_, i64>(5)? as u64,
                    })
                })?
                .collect()
        })?)
    }

    /// The versions of a package, oldest first; an unknown package is an error.
    pub fn package_versions(&self, name: &str) -> Result<Vec<PackageVersionView>, FleetError> {
        let versions = self.fleet_read(|conn| versions_of(conn, name))?;
        if versions.is_empty() {
            return Err(FleetError::NotFound(format!("no package {name}")));
        }
        Ok(versions)
    }

    /// One version of a package, or its latest.
    pub fn package_version(&self, name: &str, version: Option<&str>) -> Result<PackageVersionView, FleetError> {
        let versions = self.package_versions(name)?;
        let found = match version {
            Some(v) => versions.into_iter().find(|x| x.version == v),
            None => versions.into_iter().find(|x| x.latest),
        };
        found.ok_or_else(|| FleetError::NotFound(format!("package {name} has no version {}", version.unwrap_or("latest"))))
    }

    /// Deletes a version, or the whole package; returns the versions removed and
    /// the archives (sha256) no version uses any more, for the caller to remove
    /// from the content store after the commit.
    pub fn delete_package(&self, name: &str, version: Option<&str>) -> Result<(Vec<String>, Vec<String>), FleetError> {
        let (name, version) = (name.to_string(), version.map(str::to_string));
        self.fleet_write(move |conn| delete(conn, &name, version.as_deref()))
    }
}

#[cfg(test)]
mod tests;
