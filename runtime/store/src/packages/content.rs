//! The content store of package archives, addressed by SHA-256. [`ContentStore`]
//! is the seam for other backends (an S3-compatible bucket); [`LocalContent`]
//! keeps each archive as `<dir>/<aa>/<sha256>` and writes it through a staging
//! file that is hashed as it is written and renamed into place only when the
//! hash matches the one the uploader claimed, so no reader ever sees a partial
//! or a wrong archive.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why content was not stored or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("the content's sha256 is {actual}, not {expected} as claimed")]
    Mismatch { expected: String, actual: String },
    #[error("the content is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0:?} is not a sha256 (64 lowercase hex digits)")]
    BadName(String),
    #[error("content store: {0}")]
    Io(String),
}

/// Reads stored content and, when it has been read from its start to its end
/// in order, fails the last read unless the bytes hash to the sha256 they are
/// stored under (content changed in the store behind the server's back). A
/// seek anywhere but the start stops the check: a piece cannot be checked alone.
pub struct CheckedReader<R> {
    inner: R,
    expected: String,
    hasher: Option<Sha256>,
    position: u64,
}

impl<R: Read + Seek> CheckedReader<R> {
    pub fn new(inner: R, sha256: &str) -> CheckedReader<R> {
        CheckedReader { inner, expected: sha256.to_string(), hasher: Some(Sha256::new()), position: 0 }
    }
}

impl<R: Read> Read for CheckedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        match (n, self.hasher.as_mut()) {
            (0, Some(_)) if !buf.is_empty() => {
                let actual = hex::encode(self.hasher.take().unwrap_or_default().finalize());
                if actual != self.expected {
                    let message = format!("the content stored as sha256 {} hashes to {actual}: it was changed in the store", self.expected);
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, message));
                }
            }
            (_, Some(hasher)) => hasher.update(&buf[..n]),
            (_, None) => {}
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for CheckedReader<R> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let at = self.inner.seek(to)?;
        if at == 0 {
            self.hasher = Some(Sha256::new());
        } else if at != self.position {
            self.hasher = None;
        }
        self.position = at;
        Ok(at)
    }
}

/// Content being written: bytes go in with `write`, and `commit` keeps them
/// under the claimed sha256 if they have it. Dropped uncommitted, it leaves nothing.
pub trait StagedContent: Send {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ContentError>;
    /// Keeps the content; returns its size and whether the store lacked it before.
    fn commit(self: Box<Self>) -> Result<(u64, bool), ContentError>;
}

/// A reader of stored content that can seek (ranges, zip directories).
pub trait ContentReader: Read + Seek + Send {}
impl<T: Read + Seek + Send> ContentReader for T {}

/// Stored content with its size.
pub type StoredContent = (Box<dyn ContentReader>, u64);

/// Where package archives live.
pub trait ContentStore: Send + Sync {
    /// Starts writing content that must hash to `sha256` and hold at most `limit` bytes.
    fn stage(&self, sha256: &str, limit: u64) -> Result<Box<dyn StagedContent>, ContentError>;
    /// The stored content and its size, if present.
    fn open(&self, sha256: &str) -> Result<Option<StoredContent>, ContentError>;
    /// Removes content; removing what is absent is not an error.
    fn remove(&self, sha256: &str) -> Result<(), ContentError>;
    /// Where the content lives, for messages (`file:///…`, `s3://…`).
    fn location(&self) -> String;
}

/// Content in a local directory.
#[derive(Debug, Clone)]
pub struct LocalContent {
    dir: PathBuf,
}

/// `sha256` if it is one (64 lowercase hex digits), so it can name a file or an object.
pub fn checked(sha256: &str) -> Result<&str, ContentError> {
    if bosun_package::is_sha256(sha256) { Ok(sha256) } else { Err(ContentError::BadName(sha256.chars().take(80).collect())) }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ContentError {
    ContentError::Io(format!("cannot {what} {}: {e}", path.display()))
}

impl LocalContent {
    /// A store in `dir`, created (owner-only) if missing.
    pub fn open(dir: &Path) -> Result<LocalContent, ContentError> {
        std::fs::create_dir_all(dir.join("staging")).map_err(|e| io("create", dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io("protect", dir, e))?;
        }
        Ok(LocalContent { dir: dir.to_path_buf() })
    }

    /// The path of content `sha256` (already checked to be one).
    fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }
}

struct LocalStaged {
    file: File,
    staging: PathBuf,
    target: PathBuf,
    expected: String,
    hasher: Sha256,
    size: u64,
    limit: u64,
    committed: bool,
}

impl StagedContent for LocalStaged {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ContentError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(ContentError::TooLarge { limit: self.limit });
        }
        self.hasher.update(bytes);
        self.file.write_all(bytes).map_err(|e| io("write", &self.staging, e))
    }

    fn commit(mut self: Box<Self>) -> Result<(u64, bool), ContentError> {
        let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if actual != self.expected {
            return Err(ContentError::Mismatch { expected: self.expected.clone(), actual });
        }
        self.file.sync_all().map_err(|e| io("sync", &self.staging, e))?;
        let created = !self.target.exists();
        if let Some(parent) = self.target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        std::fs::rename(&self.staging, &self.target).map_err(|e| io("move into place", &self.target, e))?;
        self.committed = true;
        Ok((self.size, created))
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.staging);
        }
    }
}

impl ContentStore for LocalContent {
    fn stage(&self, sha256: &str, limit: u64) -> Result<Box<dyn StagedContent>, ContentError> {
        let sha256 = checked(sha256)?;
        let staging = self.dir.join("staging").join(format!("{sha256}.{}", uuid::Uuid::new_v4().simple()));
        let file = File::create(&staging).map_err(|e| io("create", &staging, e))?;
        Ok(Box::new(LocalStaged {
            file,
            staging,
            target: self.path_of(sha256),
            expected: sha256.to_string(),
            hasher: Sha256::new(),
            size: 0,
            limit,
            committed: false,
        }))
    }

    fn open(&self, sha256: &str) -> Result<Option<StoredContent>, ContentError> {
        let path = self.path_of(checked(sha256)?);
        match File::open(&path) {
            Ok(file) => {
                let size = file.metadata().map_err(|e| io("read", &path, e))?.len();
                Ok(Some((Box::new(file), size)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("open", &path, e)),
        }
    }

    fn remove(&self, sha256: &str) -> Result<(), ContentError> {
        let path = self.path_of(checked(sha256)?);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path, e)),
            _ => Ok(()),
        }
    }

    fn location(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        bosun_package::sha256_hex(bytes)
    }

    #[test]
    fn content_is_kept_only_under_its_own_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalContent::open(dir.path()).unwrap();
        let mut staged = store.stage(&sha(b"hello"), 100).unwrap();
        staged.write(b"hel").unwrap();
        staged.write(b"lo").unwrap();
        assert_eq!(staged.commit().unwrap(), (5, true));
        let (mut reader, size) = store.open(&sha(b"hello")).unwrap().unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!((text.as_str(), size), ("hello", 5));
        let mut again = store.stage(&sha(b"hello"), 100).unwrap();
        again.write(b"hello").unwrap();
        assert_eq!(again.commit().unwrap(), (5, false), "the same content twice is stored once");

        let mut wrong = store.stage(&sha(b"hello"), 100).unwrap();
        wrong.write(b"HELLO").unwrap();
        assert!(matches!(wrong.commit(), Err(ContentError::Mismatch { .. })));
        let mut big = store.stage(&sha(b"x"), 4).unwrap();
        assert_eq!(big.write(b"12345").unwrap_err(), ContentError::TooLarge { limit: 4 });
        drop(big);
        assert_eq!(std::fs::read_dir(dir.path().join("staging")).unwrap().count(), 0, "failed uploads leave nothing");

        for name in ["../../etc/passwd", "", &sha(b"x").to_uppercase()] {
            assert!(matches!(store.open(name), Err(ContentError::BadName(_))), "{name}");
            assert!(matches!(store.stage(name, 1).err(), Some(ContentError::BadName(_))), "{name}");
        }
        store.remove(&sha(b"hello")).unwrap();
        assert!(store.open(&sha(b"hello")).unwrap().is_none());
        store.remove(&sha(b"hello")).unwrap();
    }

    fn read_all(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map(|_| bytes)
    }

    #[test]
    fn content_read_whole_is_checked_against_its_name() {
        use std::io::{Cursor, SeekFrom};
        let mut good = CheckedReader::new(Cursor::new(b"hello".to_vec()), &sha(b"hello"));
        assert_eq!(read_all(&mut good).unwrap(), b"hello");
        let mut changed = CheckedReader::new(Cursor::new(b"HELLO".to_vec()), &sha(b"hello"));
        let error = read_all(&mut changed).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(error.to_string().contains(&format!("hashes to {}", sha(b"HELLO"))), "{error}");
        // Back to the start, the check starts again; a piece is not checked.
        changed.seek(SeekFrom::Start(0)).unwrap();
        assert!(read_all(&mut changed).is_err());
        changed.seek(SeekFrom::Start(2)).unwrap();
        assert_eq!(read_all(&mut changed).unwrap(), b"LLO");
    }
}
