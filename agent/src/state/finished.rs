//! The ids of the invocations this node finished, with their final status: an
//! append-only log (`finished.log`, one `<id> <status>` a line) kept to the last
//! [`KEEP`] entries, so a re-delivered assignment is acknowledged, not run again.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bosun_protocol::InvocationStatus;

use crate::fsutil;

/// How many finished invocations are remembered.
pub const KEEP: usize = 10_000;

#[derive(Debug)]
pub struct FinishedLog {
    path: PathBuf,
    keep: usize,
    synced: bool,
    status: HashMap<String, InvocationStatus>,
    order: VecDeque<String>,
    /// Lines in the file, compacted when it reaches twice `keep`.
    lines: usize,
}

impl FinishedLog {
    /// Reads the log at `path` (missing: empty). Unreadable lines are skipped.
    /// `synced`: every line is synced to disk before `add` returns.
    pub fn open(path: &Path, keep: usize, synced: bool) -> io::Result<Self> {
        let mut log = Self { path: path.to_path_buf(), keep, synced, status: HashMap::new(), order: VecDeque::new(), lines: 0 };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        for line in text.lines() {
            log.lines += 1;
            if let Some((id, status)) = line.split_once(' ').and_then(|(id, s)| Some((id, InvocationStatus::parse(s.trim())?))) {
                log.remember(id, status);
            }
        }
        Ok(log)
    }

    pub fn get(&self, id: &str) -> Option<InvocationStatus> {
        self.status.get(id).copied()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Records a finished invocation durably.
    pub fn add(&mut self, id: &str, status: InvocationStatus) -> io::Result<()> {
        if self.lines + 1 >= 2 * self.keep {
            self.remember(id, status);
            return self.compact();
        }
        let mut file = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?;
        file.write_all(format!("{id} {status}\n").as_bytes())?;
        if self.synced {
            file.sync_data()?;
        }
        self.lines += 1;
        self.remember(id, status);
        Ok(())
    }

    fn remember(&mut self, id: &str, status: InvocationStatus) {
        if self.status.insert(id.to_string(), status).is_none() {
            self.order.push_back(id.to_string());
        }
        while self.order.len() > self.keep {
            if let Some(old) = self.order.pop_front() {
                self.status.remove(&old);
            }
        }
    }

    /// Rewrites the file with the remembered entries only.
    fn compact(&mut self) -> io::Result<()> {
        let mut text = String::new();
        for id in &self.order {
            if let Some(status) = self.status.get(id) {
                text.push_str(&format!("{id} {status}\n"));
            }
        }
        fsutil::write_private(&self.path, text.as_bytes(), self.synced)?;
        self.lines = self.order.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_reopen_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("finished.log");
        let mut log = FinishedLog::open(&path, 5, true).unwrap();
        for i in 0..23 {
            log.add(&format!("inv-{i}"), InvocationStatus::Success).unwrap();
        }
        log.add("inv-failed", InvocationStatus::Failed).unwrap();
        assert_eq!(log.len(), 5);
        assert_eq!(log.get("inv-failed"), Some(InvocationStatus::Failed));
        assert_eq!(log.get("inv-0"), None);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines < 10, "the file is compacted: {lines} lines");

        let reopened = FinishedLog::open(&path, 5, true).unwrap();
        assert_eq!(reopened.get("inv-failed"), Some(InvocationStatus::Failed));
        assert_eq!(reopened.get("inv-22"), Some(InvocationStatus::Success));
        assert_eq!(reopened.len(), 5);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("finished.log");
        std::fs::write(&path, "inv-1 Success\nnonsense\ninv-2 Bogus\n\ninv-3 Cancelled").unwrap();
        let log = FinishedLog::open(&path, 100, true).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log.get("inv-3"), Some(InvocationStatus::Cancelled));
    }
}
