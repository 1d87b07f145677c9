//! apt's package lists (`var/lib/apt/lists/*_Packages`, plain or compressed
//! with lz4 or gzip as apt keeps them) and the release files beside them
//! (`*_InRelease`, `*_Release`): which versions each archive offers, whether
//! the archive is a security archive, and when its index was published.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::stanza::{Stanza, StanzaError, StanzaReader};

/// The largest list read, decompressed.
pub const MAX_LIST_BYTES: u64 = 1 << 30;
/// The most list files one scan reads.
pub const MAX_LISTS: usize = 512;
/// How much of a release file is read for its fields.
const MAX_RELEASE_BYTES: u64 = 1 << 20;

/// One archive (a suite of a repository), from its release file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Archive {
    /// The list file, as named under the lists directory.
    pub list: String,
    pub origin: String,
    pub label: String,
    pub suite: String,
    /// When the archive's index was published: an upper bound of each package's release.
    pub date: Option<DateTime<Utc>>,
    pub security: bool,
}

/// A version some archive offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub version: String,
    pub arch: String,
    pub section: String,
    pub priority: String,
    /// Index into the archives.
    pub archive: usize,
}

/// Errors reading the lists.
#[derive(Debug)]
pub enum ListError {
    Io { path: String, message: String },
    Parse(StanzaError),
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListError::Io { path, message } => write!(f, "{path}: {message}"),
            ListError::Parse(e) => e.fmt(f),
        }
    }
}

/// What a lists directory holds.
#[derive(Debug, Default)]
pub struct Lists {
    /// The `Packages` lists, sorted by name.
    pub packages: Vec<PathBuf>,
    /// The release files beside them.
    pub releases: Vec<PathBuf>,
    /// Lists in a format this reader does not know (`.xz`, `.zst`), to be reported.
    pub unknown: Vec<String>,
}

/// The lists and release files of a lists directory.
pub fn find_lists(dir: &Path) -> Result<Lists, ListError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ListError::Io { path: dir.display().to_string(), message: e.to_string() })?;
    let (mut lists, mut releases, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("_InRelease") || name.ends_with("_Release") {
            releases.push(entry.path());
        } else if name.ends_with("_Packages") || name.ends_with("_Packages.lz4") || name.ends_with("_Packages.gz") {
            lists.push(entry.path());
        } else if name.contains("_Packages.") {
            unknown.push(name);
        }
    }
    if lists.len() > MAX_LISTS {
        return Err(ListError::Io { path: dir.display().to_string(), message: format!("more than {MAX_LISTS} package lists") });
    }
    lists.sort();
    releases.sort();
    Ok(Lists { packages: lists, releases, unknown })
}

/// The archive a list belongs to: the release file whose name (without
/// `InRelease`/`Release`) is the longest prefix of the list's name.
pub fn archive_of(list: &Path, releases: &[PathBuf]) -> Result<Archive, ListError> {
    let list_name = list.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix_of = |p: &PathBuf| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        name.strip_suffix("InRelease").or_else(|| name.strip_suffix("Release")).map(str::to_string).unwrap_or_default()
    };
    let release = releases.iter().filter(|r| list_name.starts_with(&prefix_of(r))).max_by_key(|r| prefix_of(r).len());
    let mut archive = match release {
        Some(path) => read_release(path)?,
        None => Archive::default(),
    };
    archive.list = list_name;
    archive.security = archive.label.to_ascii_lowercase().contains("security")
        || archive.origin.to_ascii_lowercase().contains("security")
        || archive.suite.ends_with("-security")
        || (release.is_none() && archive.list.contains("-security_"));
    Ok(archive)
}

/// The fields of a release file (clear-signed or not).
fn read_release(path: &Path) -> Result<Archive, ListError> {
    let file = std::fs::File::open(path).map_err(|e| ListError::Io { path: path.display().to_string(), message: e.to_string() })?;
    let mut text = String::new();
    BufReader::new(file)
        .take(MAX_RELEASE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| ListError::Io { path: path.display().to_string(), message: e.to_string() })?;
    let mut archive = Archive::default();
    for line in text.lines() {
        if line.starts_with("-----BEGIN PGP SIGNATURE") {
            break;
        }
        if line.starts_with(char::is_whitespace) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim().to_string();
        match key {
            "Origin" => archive.origin = value,
            "Label" => archive.label = value,
            "Suite" => archive.suite = value,
            "Date" => archive.date = parse_release_date(&value),
            _ => {}
        }
    }
    Ok(archive)
}

/// A release file's `Date` (RFC 2822, e.g. `Sat, 16 May 2026 09:43:24 UTC`).
pub fn parse_release_date(text: &str) -> Option<DateTime<Utc>> {
    let normalised = text.trim().replace(" UTC", " +0000");
    DateTime::parse_from_rfc2822(&normalised).ok().map(|d| d.with_timezone(&Utc))
}

/// A list opened for reading, decompressed by its extension.
pub fn open_list(path: &Path) -> Result<Box<dyn BufRead>, ListError> {
    let file = std::fs::File::open(path).map_err(|e| ListError::Io { path: path.display().to_string(), message: e.to_string() })?;
    let name = path.to_string_lossy();
    Ok(if name.ends_with(".lz4") {
        Box::new(BufReader::with_capacity(1 << 16, lz4_flex::frame::FrameDecoder::new(BufReader::new(file))))
    } else if name.ends_with(".gz") {
        Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(BufReader::new(file))))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    })
}

const FIELDS: &[&str] = &["Package", "Version", "Architecture", "Section", "Priority"];

/// Adds the versions a list offers of the `wanted` packages to `found`.
pub fn read_packages(
    reader: impl BufRead,
    file: &str,
    archive: usize,
    wanted: &HashSet<&str>,
    found: &mut HashMap<String, Vec<Available>>,
) -> Result<(), ListError> {
    let mut reader = StanzaReader::new(reader, file, MAX_LIST_BYTES);
    let mut stanza = Stanza::default();
    let mut keep = |field: &str, value: &str| field.eq_ignore_ascii_case("Package") && wanted.contains(value);
    while reader.next_stanza(FIELDS, &mut stanza, &mut keep).map_err(ListError::Parse)? {
        let (Some(name), Some(version)) = (stanza.get("Package"), stanza.get("Version")) else { continue };
        found.entry(name.to_string()).or_default().push(Available {
            version: version.to_string(),
            arch: stanza.get("Architecture").unwrap_or("all").to_string(),
            section: stanza.get("Section").unwrap_or("").to_string(),
            priority: stanza.get("Priority").unwrap_or("").to_string(),
            archive,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_dates_parse() {
        let date = parse_release_date("Sat, 16 May 2026 09:43:24 UTC").unwrap();
        assert_eq!(date.to_rfc3339(), "2026-05-16T09:43:24+00:00");
        assert!(parse_release_date("yesterday").is_none());
    }

    #[test]
    fn lists_find_their_archive_and_decompress() {
        let dir = tempfile::tempdir().unwrap();
        let release = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nLabel: Debian-Security\nSuite: oldstable-security\nDate: Sat, 16 May 2026 09:43:24 UTC\nSHA256:\n abc 1 main/x\n-----BEGIN PGP SIGNATURE-----\n";
        std::fs::write(dir.path().join("deb.debian.org_debian-security_dists_bookworm-security_InRelease"), release).unwrap();
        std::fs::write(
            dir.path().join("deb.debian.org_debian_dists_bookworm_InRelease"),
            "Origin: Debian\nLabel: Debian\nSuite: oldstable\n",
        )
        .unwrap();
        let packages = "Package: openssl\nVersion: 3.0.20-1~deb12u1\nArchitecture: amd64\nSection: utils\nPriority: optional\n\nPackage: other\nVersion: 1\n";
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        std::io::Write::write_all(&mut lz4, packages.as_bytes()).unwrap();
        let security = dir.path().join("deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4");
        std::fs::write(&security, lz4.finish().unwrap()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, packages.as_bytes()).unwrap();
        std::fs::write(dir.path().join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.gz"), gz.finish().unwrap())
            .unwrap();
        std::fs::write(dir.path().join("x_dists_y_main_binary-amd64_Packages.xz"), b"").unwrap();

        let Lists { packages: lists, releases, unknown } = find_lists(dir.path()).unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(unknown, ["x_dists_y_main_binary-amd64_Packages.xz"]);
        let sec = archive_of(&lists[0], &releases).unwrap();
        let main = archive_of(&lists[1], &releases).unwrap();
        assert!(!main.security && sec.security, "{main:?} {sec:?}");
        assert_eq!(sec.date.unwrap().to_rfc3339(), "2026-05-16T09:43:24+00:00");
        let wanted: HashSet<&str> = ["openssl"].into_iter().collect();
        let mut found = HashMap::new();
        for (i, list) in lists.iter().enumerate() {
            read_packages(open_list(list).unwrap(), "x", i, &wanted, &mut found).unwrap();
        }
        assert_eq!(found["openssl"].len(), 2);
        assert!(!found.contains_key("other"));
        assert_eq!(found["openssl"][1].section, "utils");
        assert_eq!(found["openssl"][0].archive, 0);
    }
}
