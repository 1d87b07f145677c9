//! The package manifest, as AWS Distributor writes it:
//!
//! ```json
//! {
//!   "schemaVersion": "2.0",
//!   "version": "1.0.1",
//!   "packages": { "ubuntu": { "_any": { "x86_64": { "file": "tool-linux-amd64.zip" } } } },
//!   "files": { "tool-linux-amd64.zip": { "checksums": { "sha256": "…" } } }
//! }
//! ```
//!
//! `packages` maps a platform, a platform version (or `_any`) and an architecture
//! (or `_any`) to one archive of `files`, each with its SHA-256. Parsing refuses
//! duplicate keys (JSON allows them; the last would silently win) and checks every
//! name, so that nothing in a manifest can name a path.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::platform::{check_architecture, check_platform, check_platform_version};
use crate::{check_version_name, cut, is_sha256};

/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 << 10;
/// The most archive files one version may have.
pub const MAX_FILES: usize = 64;
/// The schema version of Distributor manifests.
pub const SCHEMA_VERSION: &str = "2.0";

/// One problem of a manifest: where (a JSON path such as `files."a.zip".checksums.sha256`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ManifestError {
    pub path: String,
    pub message: String,
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError { path: path.into(), message: message.into() }
}

/// A map whose keys are unique in the JSON text it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UniqueMap<V>(pub BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Unique<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Unique<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, value)) = access.next_entry::<String, V>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!("the key {:?} appears twice", cut(&key))));
                    }
                    map.insert(key, value);
                }
                Ok(UniqueMap(map))
            }
        }
        deserializer.deserialize_map(Unique(std::marker::PhantomData))
    }
}

/// Where one platform, version and architecture get their archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksums {
    pub sha256: String,
}

/// One archive of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub checksums: Checksums,
}

/// A package version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// platform → platform version (or `_any`) → architecture (or `_any`) → archive.
    pub packages: UniqueMap<UniqueMap<UniqueMap<Target>>>,
    pub files: UniqueMap<FileEntry>,
}

impl Manifest {
    /// Parses and checks a manifest; the errors name every problem found.
    pub fn parse(text: &str) -> Result<Manifest, Vec<ManifestError>> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(vec![problem("", format!("the manifest has {} bytes; at most {MAX_MANIFEST_BYTES} are accepted", text.len()))]);
        }
        let manifest: Manifest =
            serde_json::from_str(text).map_err(|e| vec![problem(format!("line {} column {}", e.line(), e.column()), e.to_string())])?;
        let problems = manifest.problems();
        if problems.is_empty() { Ok(manifest) } else { Err(problems) }
    }

    /// Everything wrong with the manifest's contents.
    pub fn problems(&self) -> Vec<ManifestError> {
        let mut found = Vec::new();
        if self.schema_version != SCHEMA_VERSION {
            found.push(problem("schemaVersion", format!("{:?} is not supported; use \"{SCHEMA_VERSION}\"", cut(&self.schema_version))));
        }
        if let Err(message) = check_version_name(&self.version) {
            found.push(problem("version", message));
        }
        for (field, text) in [("publisher", &self.publisher), ("description", &self.description)] {
            if text.as_ref().is_some_and(|t| t.len() > 1024) {
                found.push(problem(field, "longer than 1024 bytes"));
            }
        }
        if self.files.0.is_empty() {
            found.push(problem("files", "lists no archive"));
        }
        if self.files.0.len() > MAX_FILES {
            found.push(problem("files", format!("lists {} archives; at most {MAX_FILES} are accepted", self.files.0.len())));
        }
        for (name, entry) in &self.files.0 {
            let at = format!("files.{:?}", cut(name));
            if let Err(message) = check_file_name(name) {
                found.push(problem(&at, message));
            }
            if !is_sha256(&entry.checksums.sha256) {
                found.push(problem(format!("{at}.checksums.sha256"), "not a SHA-256: 64 lowercase hex digits"));
            }
        }
        if self.packages.0.is_empty() {
            found.push(problem("packages", "names no platform"));
        }
        let mut used = std::collections::BTreeSet::new();
        for (platform, versions) in &self.packages.0 {
            let at = format!("packages.{:?}", cut(platform));
            if let Err(message) = check_platform(platform) {
                found.push(problem(&at, message));
            }
            if versions.0.is_empty() {
                found.push(problem(&at, "names no platform version (use \"_any\" for every version)"));
            }
            for (version, architectures) in &versions.0 {
                let at = format!("{at}.{:?}", cut(version));
                if let Err(message) = check_platform_version(version) {
                    found.push(problem(&at, message));
                }
                if architectures.0.is_empty() {
                    found.push(problem(&at, "names no architecture (use \"_any\" for every architecture)"));
                }
                for (architecture, target) in &architectures.0 {
                    let at = format!("{at}.{:?}", cut(architecture));
                    if let Err(message) = check_architecture(architecture) {
                        found.push(problem(&at, message));
                    }
                    if !self.files.0.contains_key(&target.file) {
                        found.push(problem(format!("{at}.file"), format!("{:?} is not listed in files", cut(&target.file))));
                    }
                    used.insert(target.file.as_str());
                }
            }
        }
        for name in self.files.0.keys().filter(|name| !used.contains(name.as_str())) {
            found.push(problem(format!("files.{:?}", cut(name)), "no platform uses this archive"));
        }
        found
    }

    /// The SHA-256 the manifest gives for an archive.
    pub fn sha256_of(&self, file: &str) -> Option<&str> {
        self.files.0.get(file).map(|f| f.checksums.sha256.as_str())
    }

    /// The manifest as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a manifest serialises")
    }
}

/// An archive's name is a plain file name ending in `.zip`: no directory, no
/// parent, no control character, letters, digits and `_ - . +` only.
pub fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("a file name has 1 to 255 characters".into());
    }
    if name.contains('/') || name.contains('\\') {
        return Err("a file name is a plain name: no '/' or '\\' (the archives sit side by side)".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))) {
        return Err(format!("a file name holds {bad:?}; use letters, digits, '_', '-', '.' and '+'"));
    }
    if name.starts_with('.') {
        return Err("a file name does not start with '.'".into());
    }
    if !name.to_ascii_lowercase().ends_with(".zip") {
        return Err("an archive is a .zip file".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn text(packages: &str, files: &str) -> String {
        format!(r#"{{"schemaVersion":"2.0","version":"1.0","packages":{packages},"files":{files}}}"#)
    }

    fn one(file: &str) -> String {
        text(
            &format!(r#"{{"ubuntu":{{"_any":{{"x86_64":{{"file":"{file}"}}}}}}}}"#),
            &format!(r#"{{"{file}":{{"checksums":{{"sha256":"{SHA}"}}}}}}"#),
        )
    }

    fn errors(text: &str) -> String {
        Manifest::parse(text).unwrap_err().iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_good_manifest_round_trips() {
        let manifest = Manifest::parse(&one("tool.zip")).unwrap();
        assert_eq!(manifest.sha256_of("tool.zip"), Some(SHA));
        assert_eq!(Manifest::parse(&manifest.to_json()).unwrap(), manifest);
    }

    #[test]
    fn malformed_manifests_say_where() {
        assert!(errors("{").starts_with("line 1 column 1:"), "{}", errors("{"));
        assert!(errors("[]").contains("expected struct Manifest"), "{}", errors("[]"));
        let unknown = one("a.zip").replace("\"version\"", "\"extra\":1,\"version\"");
        assert!(errors(&unknown).contains("unknown field `extra`"), "{}", errors(&unknown));
        let schema = one("a.zip").replace("2.0", "1.0.0");
        assert!(errors(&schema).contains("schemaVersion: \"1.0.0\" is not supported"), "{}", errors(&schema));
        let huge = format!("{}{}", one("a.zip"), " ".repeat(MAX_MANIFEST_BYTES));
        assert!(errors(&huge).contains("at most 65536"));
        let no_file =
            text(r#"{"ubuntu":{"_any":{"x86_64":{"file":"b.zip"}}}}"#, &format!(r#"{{"a.zip":{{"checksums":{{"sha256":"{SHA}"}}}}}}"#));
        let said = errors(&no_file);
        assert!(said.contains(r#"packages."ubuntu"."_any"."x86_64".file: "b.zip" is not listed in files"#), "{said}");
        assert!(said.contains(r#"files."a.zip": no platform uses this archive"#), "{said}");
        let bad_sha = one("a.zip").replace(SHA, &SHA.to_uppercase());
        assert!(errors(&bad_sha).contains(r#"files."a.zip".checksums.sha256: not a SHA-256"#), "{}", errors(&bad_sha));
    }

    #[test]
    fn unknown_platforms_and_architectures_are_refused() {
        let said = errors(&one("a.zip").replace("ubuntu", "beos").replace("x86_64", "sparc"));
        assert!(said.contains(r#"packages."beos": unknown platform"#), "{said}");
        assert!(said.contains(r#"."x86_64""#) || said.contains(r#""sparc": unknown architecture"#), "{said}");
        let windows = errors(&one("a.zip").replace("ubuntu", "windows"));
        assert!(windows.contains("Bosun nodes run Linux"), "{windows}");
    }

    #[test]
    fn hostile_names_are_refused() {
        for (name, why) in [
            ("../../etc/passwd.zip", "no '/'"),
            ("/etc/cron.d/x.zip", "no '/'"),
            ("..\\x.zip", "no '/'"),
            ("..zip", "start with '.'"),
            ("a\u{0}.zip", "holds"),
            ("tool.tar.gz", ".zip file"),
        ] {
            let said = errors(&one(&name.replace('\\', "\\\\").replace('\u{0}', "\\u0000")));
            assert!(said.contains(why), "{name}: {said}");
        }
        let long = format!("{}.zip", "a".repeat(300));
        assert!(errors(&one(&long)).contains("1 to 255"));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let files = format!(r#"{{"a.zip":{{"checksums":{{"sha256":"{SHA}"}}}},"a.zip":{{"checksums":{{"sha256":"{SHA}"}}}}}}"#);
        let said = errors(&text(r#"{"ubuntu":{"_any":{"x86_64":{"file":"a.zip"}}}}"#, &files));
        assert!(said.contains(r#"the key "a.zip" appears twice"#), "{said}");
        let platforms = r#"{"ubuntu":{"_any":{"x86_64":{"file":"a.zip"}}},"ubuntu":{"_any":{"arm64":{"file":"a.zip"}}}}"#;
        let said = errors(&text(platforms, &format!(r#"{{"a.zip":{{"checksums":{{"sha256":"{SHA}"}}}}}}"#)));
        assert!(said.contains(r#"the key "ubuntu" appears twice"#), "{said}");
    }

    #[test]
    fn too_many_files_are_refused() {
        let files: Vec<String> = (0..=MAX_FILES).map(|i| format!(r#""f{i}.zip":{{"checksums":{{"sha256":"{SHA}"}}}}"#)).collect();
        let said = errors(&text(r#"{"ubuntu":{"_any":{"x86_64":{"file":"f0.zip"}}}}"#, &format!("{{{}}}", files.join(","))));
        assert!(said.contains("at most 64 are accepted"), "{said}");
    }
}
