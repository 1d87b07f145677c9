//! Installed plugins: each version's component bytes, manifest, the actions it
//! implements, and the grants and limits the operator gave it. The store keeps
//! them as text; the plugin host owns their meaning.

use rusqlite::{Connection, OptionalExtension, params};

use bosun_engine::StoreError;

use crate::{Store, sql_error};

/// One installed version of a plugin, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstalledPlugin {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The manifest as JSON text.
    pub manifest: String,
    pub actions: Vec<String>,
    /// Grants in the `--grant` syntax.
    pub grants: Vec<String>,
    /// The operator's limit overrides as JSON text, if any.
    pub limits: Option<String>,
    pub builtin: bool,
    pub installed_at: String,
    /// The trusted key that signed it, if it was signed.
    pub signed_by: Option<String>,
}

/// What installing a plugin version records.
#[derive(Debug, Clone)]
pub struct NewPlugin<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
    pub manifest: &'a str,
    pub actions: &'a [String],
    pub grants: &'a [String],
    pub limits: Option<&'a str>,
    pub builtin: bool,
    pub signed_by: Option<&'a str>,
    pub wasm: &'a [u8],
}

/// Orders versions as semver does for MAJOR.MINOR.PATCH[-pre]: a prerelease
/// sorts before its release.
pub fn version_order(version: &str) -> (u64, u64, u64, bool, String) {
    let (core, pre) = version.split_once('-').unwrap_or((version, ""));
    let mut numbers = core.split('.').map(|n| n.parse::<u64>().unwrap_or(0));
    let mut next = || numbers.next().unwrap_or(0);
    (next(), next(), next(), pre.is_empty(), pre.to_string())
}

const COLUMNS: &str = "name, version, sha256, manifest, actions, grants, limits, builtin, installed_at, signed_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InstalledPlugin> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(i)?;
        serde_json::from_str(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    Ok(InstalledPlugin {
        name: r.get(0)?,
        version: r.get(1)?,
        sha256: r.get(2)?,
        manifest: r.get(3)?,
        actions: list(4)?,
        grants: list(5)?,
        limits: r.get(6)?,
        builtin: r.get(7)?,
        installed_at: r.get(8)?,
        signed_by: r.get(9)?,
    })
}

fn all_rows(conn: &Connection, filter: &str, name: Option<&str>) -> rusqlite::Result<Vec<InstalledPlugin>> {
    let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM plugins {filter}"))?;
    let rows = match name {
        Some(name) => statement.query_map(params![name], row)?.collect::<Result<Vec<_>, _>>()?,
        None => statement.query_map([], row)?.collect::<Result<Vec<_>, _>>()?,
    };
    let mut rows = rows;
    rows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| version_order(&a.version).cmp(&version_order(&b.version))));
    Ok(rows)
}

struct OwnedPlugin {
    name: String,
    version: String,
    sha256: String,
    manifest: String,
    actions: String,
    grants: String,
    limits: Option<String>,
    builtin: bool,
    signed_by: Option<String>,
    wasm: Vec<u8>,
}

fn install(conn: &Connection, p: &OwnedPlugin, now: &str) -> Result<(), StoreError> {
    let existing: Option<(String, bool)> = conn
        .query_row("SELECT sha256, builtin FROM plugins WHERE name = ?1 AND version = ?2", params![p.name, p.version], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(sql_error)?;
    if let Some((sha256, builtin)) = &existing {
        if *builtin && p.builtin {
            // A built-in plugin is whatever this Bosun binary carries.
            conn.execute("DELETE FROM plugins WHERE name = ?1 AND version = ?2", params![p.name, p.version]).map_err(sql_error)?;
        } else if *sha256 != p.sha256 {
            return Err(StoreError(format!(
                "plugin {}@{} is installed already with another sha256 ({sha256}); remove it first or raise the version",
                p.name, p.version
            )));
        } else if *builtin != p.builtin {
            return Err(StoreError(format!("plugin {} is built in; its grants change with `bosun plugin grant`", p.name)));
        }
    }
    let actions: Vec<String> = serde_json::from_str(&p.actions).map_err(|e| StoreError(e.to_string()))?;
    let mut others = conn.prepare("SELECT name, actions FROM plugins WHERE name <> ?1").map_err(sql_error)?;
    let rows = others.query_map(params![p.name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(sql_error)?;
    for other in rows {
        let (other_name, other_actions) = other.map_err(sql_error)?;
        let other_actions: Vec<String> = serde_json::from_str(&other_actions).unwrap_or_default();
        if let Some(clash) = actions.iter().find(|a| other_actions.contains(a)) {
            return Err(StoreError(format!("action {clash} is implemented already by plugin {other_name}; remove that plugin first")));
        }
    }
    conn.execute(
        "INSERT INTO plugins (name, version, sha256, manifest, actions, grants, limits, builtin, installed_at, signed_by, wasm)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (name, version) DO UPDATE SET grants = excluded.grants, limits = excluded.limits,
             signed_by = coalesce(excluded.signed_by, signed_by)",
        params![p.name, p.version, p.sha256, p.manifest, p.actions, p.grants, p.limits, p.builtin, now, p.signed_by, p.wasm],
    )
    .map_err(sql_error)?;
    Ok(())
}

impl Store {
    /// Installs a plugin version, or changes the grants and limits of one
    /// installed with the same bytes. An action belongs to one plugin only.
    pub fn install_plugin(&self, plugin: &NewPlugin<'_>) -> Result<(), StoreError> {
        let owned = OwnedPlugin {
            name: plugin.name.to_string(),
            version: plugin.version.to_string(),
            sha256: plugin.sha256.to_string(),
            manifest: plugin.manifest.to_string(),
            actions: serde_json::to_string(plugin.actions).expect("strings serialise"),
            grants: serde_json::to_string(plugin.grants).expect("strings serialise"),
            limits: plugin.limits.map(str::to_string),
            builtin: plugin.builtin,
            signed_by: plugin.signed_by.map(str::to_string),
            wasm: plugin.wasm.to_vec(),
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.writer.run_blocking(Box::new(move |conn| install(conn, &owned, &now)))
    }

    /// Replaces the grants of every installed version of a plugin.
    pub fn set_plugin_grants(&self, name: &str, grants: &[String]) -> Result<(), StoreError> {
        let key = name.to_string();
        let grants = serde_json::to_string(grants).expect("strings serialise");
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let changed = conn.execute("UPDATE plugins SET grants = ?2 WHERE name = ?1", params![key, grants]).map_err(sql_error)?;
            let _ = tx.send(changed);
            Ok(())
        }))?;
        match rx.try_iter().last() {
            Some(0) | None => Err(StoreError(format!("no plugin named {name} is installed"))),
            Some(_) => Ok(()),
        }
    }

    /// Every installed version, by name then version.
    pub fn list_plugins(&self) -> Result<Vec<InstalledPlugin>, StoreError> {
        self.read(|conn| all_rows(conn, "", None))
    }

    /// The installed versions of one plugin, oldest first.
    pub fn plugin_versions(&self, name: &str) -> Result<Vec<InstalledPlugin>, StoreError> {
        self.read(|conn| all_rows(conn, "WHERE name = ?1", Some(name)))
    }

    /// One version, or the highest one when `version` is none.
    pub fn get_plugin(&self, name: &str, version: Option<&str>) -> Result<Option<InstalledPlugin>, StoreError> {
        match version {
            // The plugin dispatcher asks this before every plugin step: one row, by key.
            Some(v) => self.read(|conn| {
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM plugins WHERE name = ?1 AND version = ?2"))?
                    .query_row(params![name, v], row)
                    .optional()
            }),
            None => Ok(self.plugin_versions(name)?.into_iter().last()),
        }
    }

    /// The component bytes of one installed version.
    pub fn plugin_wasm(&self, name: &str, version: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT wasm FROM plugins WHERE name = ?1 AND version = ?2", params![name, version], |r| r.get(0)).optional()
        })
    }

    /// Removes one version, or every version when `version` is none; returns how
    /// many were removed. Built-in plugins cannot be removed.
    pub fn remove_plugin(&self, name: &str, version: Option<&str>) -> Result<usize, StoreError> {
        let targets = match version {
            Some(v) => self.get_plugin(name, Some(v))?.into_iter().collect::<Vec<_>>(),
            None => self.plugin_versions(name)?,
        };
        if targets.is_empty() {
            let which = version.map_or(name.to_string(), |v| format!("{name}@{v}"));
            return Err(StoreError(format!("no plugin {which} is installed")));
        }
        if targets.iter().any(|p| p.builtin) {
            return Err(StoreError(format!("plugin {name} is built in and cannot be removed")));
        }
        let keys: Vec<(String, String)> = targets.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
        let count = keys.len();
        self.writer.run_blocking(Box::new(move |conn| {
            for (name, version) in &keys {
                conn.execute("DELETE FROM plugins WHERE name = ?1 AND version = ?2", params![name, version]).map_err(sql_error)?;
            }
            Ok(())
        }))?;
        Ok(count)
    }
}

/// A public key the operator trusts to sign plugins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustedKey {
    pub name: String,
    pub public_key: String,
    pub added_at: String,
}

impl Store {
    /// Trusts a public key under a name; both must be new.
    pub fn trust_key(&self, name: &str, public_key: &str) -> Result<(), StoreError> {
        let (name, key) = (name.to_string(), public_key.to_string());
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.writer.run_blocking(Box::new(move |conn| {
            let clash: Option<String> = conn
                .query_row("SELECT name FROM trusted_keys WHERE name = ?1 OR public_key = ?2", params![name, key], |r| r.get(0))
                .optional()
                .map_err(sql_error)?;
            if let Some(existing) = clash {
                return Err(StoreError(format!("a key named {existing} is trusted already with that name or key")));
            }
            conn.execute("INSERT INTO trusted_keys (name, public_key, added_at) VALUES (?1, ?2, ?3)", params![name, key, now])
                .map_err(sql_error)?;
            Ok(())
        }))
    }

    pub fn trusted_keys(&self) -> Result<Vec<TrustedKey>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare("SELECT name, public_key, added_at FROM trusted_keys ORDER BY name")?;
            statement.query_map([], |r| Ok(TrustedKey { name: r.get(0)?, public_key: r.get(1)?, added_at: r.get(2)? }))?.collect()
        })
    }

    /// Stops trusting a key; plugins it signed stay installed.
    pub fn distrust_key(&self, name: &str) -> Result<(), StoreError> {
        let key = name.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        self.writer.run_blocking(Box::new(move |conn| {
            let _ = tx.send(conn.execute("DELETE FROM trusted_keys WHERE name = ?1", params![key]).map_err(sql_error)?);
            Ok(())
        }))?;
        match rx.try_iter().last() {
            Some(0) | None => Err(StoreError(format!("no key named {name} is trusted"))),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_like_semver() {
        let mut versions = vec!["1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9"];
        versions.sort_by_key(|v| version_order(v));
        assert_eq!(versions, ["0.9.9", "1.2.0-rc.1", "1.2.0", "1.10.0"]);
    }
}
