//! A package's zip archive: `install.sh` and `uninstall.sh` at its root (and
//! optionally `update.sh`), any other files beside them. Names are checked one
//! by one (no absolute path, no `..`, no `.`, no backslash, no control
//! character, no duplicate), symbolic links are refused, and sizes are bounded
//! twice: by what the archive declares before anything is written, and by the
//! bytes actually inflated while unpacking, so a lying header cannot fill a disk.

use std::collections::BTreeSet;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The script Install runs, at the root of every archive.
pub const INSTALL_SCRIPT: &str = "install.sh";
/// The script Uninstall runs, at the root of every archive.
pub const UNINSTALL_SCRIPT: &str = "uninstall.sh";
/// The script an in-place update runs when the archive has one (otherwise `install.sh`).
pub const UPDATE_SCRIPT: &str = "update.sh";
/// The longest entry name accepted.
const MAX_NAME: usize = 512;

/// How much one archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    pub max_entries: usize,
    /// The sum of every file's uncompressed size.
    pub max_unpacked_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits { max_entries: 10_000, max_unpacked_bytes: 1 << 30 }
    }
}

/// What an archive holds, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The files (not directories), relative, in archive order.
    pub files: Vec<String>,
    pub unpacked_bytes: u64,
    pub has_update_script: bool,
}

/// A file written by [`unpack`]: its path relative to the directory, its SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpackedFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// An entry name as a relative path of plain components, or why it is refused.
pub fn entry_path(name: &str) -> Result<String, String> {
    let shown: String = name.chars().take(80).collect();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("entry {shown:?}: a name has 1 to {MAX_NAME} bytes"));
    }
    if name.chars().any(|c| c.is_control()) || name.contains('\\') {
        return Err(format!("entry {shown:?}: a name holds no control character and no backslash"));
    }
    if name.starts_with('/') {
        return Err(format!("entry {shown:?}: an absolute path"));
    }
    let parts: Vec<&str> = name.trim_end_matches('/').split('/').collect();
    if parts.iter().any(|p| *p == ".." || *p == "." || p.is_empty()) {
        return Err(format!("entry {shown:?}: a path with '..', '.' or an empty part"));
    }
    Ok(parts.join("/"))
}

fn open<R: Read + Seek>(reader: R) -> Result<zip::ZipArchive<R>, String> {
    zip::ZipArchive::new(reader).map_err(|e| format!("not a zip archive: {e}"))
}

/// Checks an archive without unpacking it.
pub fn inspect<R: Read + Seek>(reader: R, limits: ArchiveLimits) -> Result<Listing, String> {
    let mut archive = open(reader)?;
    listing(&mut archive, limits)
}

fn listing<R: Read + Seek>(archive: &mut zip::ZipArchive<R>, limits: ArchiveLimits) -> Result<Listing, String> {
    if archive.len() > limits.max_entries {
        return Err(format!("{} entries; at most {} are accepted", archive.len(), limits.max_entries));
    }
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(|e| format!("entry {index}: {e}"))?;
        let name = entry.name().map_err(|e| format!("entry {index}: {e}"))?;
        let path = entry_path(&name)?;
        if entry.is_symlink() {
            return Err(format!("entry {path:?}: a symbolic link; archives hold files and directories only"));
        }
        if !seen.insert(path.clone()) {
            return Err(format!("entry {path:?}: appears twice"));
        }
        if entry.is_dir() {
            continue;
        }
        unpacked = unpacked.saturating_add(entry.size());
        if unpacked > limits.max_unpacked_bytes {
            return Err(format!("the files unpack to more than {} bytes", limits.max_unpacked_bytes));
        }
        files.push(path);
    }
    // A file under a path that is also a file ("a" and "a/b") cannot be unpacked.
    for file in &files {
        if let Some((parent, _)) = file.rsplit_once('/')
            && files.iter().any(|f| f == parent)
        {
            return Err(format!("entry {file:?}: lies under {parent:?}, which is a file"));
        }
    }
    for script in [INSTALL_SCRIPT, UNINSTALL_SCRIPT] {
        if !files.iter().any(|f| f == script) {
            return Err(format!("no {script} at the root of the archive"));
        }
    }
    let has_update_script = files.iter().any(|f| f == UPDATE_SCRIPT);
    Ok(Listing { files, unpacked_bytes: unpacked, has_update_script })
}

/// Unpacks a checked archive into `dir` (which must exist and be empty), and
/// returns every file written with its SHA-256.
pub fn unpack<R: Read + Seek>(reader: R, dir: &Path, limits: ArchiveLimits) -> Result<Vec<UnpackedFile>, String> {
    let mut archive = open(reader)?;
    listing(&mut archive, limits)?;
    let mut written = Vec::new();
    let mut budget = limits.max_unpacked_bytes;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|e| format!("entry {index}: {e}"))?;
        let path = entry_path(&entry.name().map_err(|e| format!("entry {index}: {e}"))?)?;
        let target: PathBuf = dir.join(&path);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("cannot create {}: {e}", target.display()))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = entry.read(&mut chunk).map_err(|e| format!("entry {path:?}: {e}"))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > budget {
                return Err(format!("entry {path:?}: the files unpack to more than {} bytes", limits.max_unpacked_bytes));
            }
            hasher.update(&chunk[..n]);
            file.write_all(&chunk[..n]).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
        budget -= size;
        written.push(UnpackedFile { path, sha256: hex::encode(hasher.finalize()), size });
    }
    Ok(written)
}

/// A zip archive of `files` (name, content), deflated: for tests, benchmarks and examples.
pub fn write_zip(files: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        writer.start_file(*name, options).map_err(|e| format!("{name}: {e}"))?;
        writer.write_all(content).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(writer.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    const SCRIPTS: [(&str, &[u8]); 2] = [("install.sh", b"echo in\n"), ("uninstall.sh", b"echo out\n")];

    fn zip_of(extra: &[(&str, &[u8])]) -> Vec<u8> {
        let mut files = SCRIPTS.to_vec();
        files.extend_from_slice(extra);
        write_zip(&files).unwrap()
    }

    #[test]
    fn a_good_archive_unpacks_with_hashes() {
        let bytes = zip_of(&[("bin/tool", b"binary"), ("update.sh", b"echo up\n")]);
        let listing = inspect(Cursor::new(&bytes), ArchiveLimits::default()).unwrap();
        assert!(listing.has_update_script);
        assert_eq!(listing.files.len(), 4);
        let dir = tempfile::tempdir().unwrap();
        let files = unpack(Cursor::new(&bytes), dir.path(), ArchiveLimits::default()).unwrap();
        let tool = files.iter().find(|f| f.path == "bin/tool").unwrap();
        assert_eq!(tool.sha256, crate::sha256_hex(b"binary"));
        assert_eq!(std::fs::read(dir.path().join("bin/tool")).unwrap(), b"binary");
    }

    #[test]
    fn hostile_entries_are_refused() {
        for (name, why) in [
            ("../evil", "'..'"),
            ("a/../../evil", "'..'"),
            ("/etc/passwd", "absolute"),
            ("a\\..\\b", "backslash"),
            ("./x", "'.'"),
            ("a//b", "empty part"),
            ("a\nb", "control"),
        ] {
            let bytes = zip_of(&[(name, b"x")]);
            let error = inspect(Cursor::new(&bytes), ArchiveLimits::default()).unwrap_err();
            assert!(error.contains(why), "{name:?}: {error}");
            let dir = tempfile::tempdir().unwrap();
            assert!(unpack(Cursor::new(&bytes), dir.path(), ArchiveLimits::default()).is_err());
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{name:?}: nothing is written");
        }
        // The same path twice: as a directory and as a file.
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in SCRIPTS.iter().chain([("lib", b"file".as_slice())].iter()) {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.add_directory("lib/", zip::write::SimpleFileOptions::default()).unwrap();
        let twice = writer.finish().unwrap().into_inner();
        assert!(inspect(Cursor::new(&twice), ArchiveLimits::default()).unwrap_err().contains("appears twice"));
        let under_file = zip_of(&[("a", b"x"), ("a/b", b"y")]);
        assert!(inspect(Cursor::new(&under_file), ArchiveLimits::default()).unwrap_err().contains("which is a file"));
        assert!(inspect(Cursor::new(b"not a zip".to_vec()), ArchiveLimits::default()).unwrap_err().contains("not a zip"));
        let no_uninstall = write_zip(&[("install.sh", b"x")]).unwrap();
        assert!(inspect(Cursor::new(&no_uninstall), ArchiveLimits::default()).unwrap_err().contains("no uninstall.sh"));
    }

    #[test]
    fn sizes_and_counts_are_bounded() {
        let big = vec![0u8; 1 << 20];
        let bytes = zip_of(&[("zeros", &big)]);
        let small = ArchiveLimits { max_entries: 100, max_unpacked_bytes: 512 << 10 };
        assert!(inspect(Cursor::new(&bytes), small).unwrap_err().contains("more than 524288 bytes"));
        let dir = tempfile::tempdir().unwrap();
        assert!(unpack(Cursor::new(&bytes), dir.path(), small).is_err());
        let few = ArchiveLimits { max_entries: 2, ..ArchiveLimits::default() };
        assert!(inspect(Cursor::new(&bytes), few).unwrap_err().contains("3 entries"));
    }

    #[test]
    fn a_symbolic_link_is_refused() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in SCRIPTS {
            writer.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.add_symlink("link", "/etc/shadow", zip::write::SimpleFileOptions::default()).unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        assert!(inspect(Cursor::new(&bytes), ArchiveLimits::default()).unwrap_err().contains("symbolic link"));
    }
}
