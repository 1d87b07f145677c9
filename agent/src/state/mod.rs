//! The node's state directory (0700):
//!
//! ```text
//! identity.json          node id and credential (0600)
//! inflight/<id>.json     invocations not yet finished and acknowledged
//! finished.log           the last 10,000 finished invocation ids, with their status
//! work/<id>/             an invocation's working directory
//! scripts/<id>/          its shell steps' scripts
//! ```
//!
//! Writes of records are atomic and synced, and run on the blocking pool.

mod finished;
mod record;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bosun_protocol::InvocationStatus;

pub use finished::{FinishedLog, KEEP as FINISHED_KEPT};
pub use record::{InflightRecord, Phase};

use crate::error::AgentError;
use crate::fsutil;

/// A state directory, shared by the tasks of one node.
#[derive(Debug, Clone)]
pub struct StateDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    finished: Mutex<FinishedLog>,
    /// Whether writes are synced to disk (see [`Durability`]).
    durability: Durability,
}

/// Whether the state survives a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every record is synced before it is relied on: a real node.
    Synced,
    /// Written but not synced: simulated nodes, which share one disk that real nodes
    /// would not share, so their syncs would measure the disk, not the protocol.
    Unsynced,
}

/// Invocation ids become file names: letters, digits, `-`, `_` and `.`, not starting with a dot.
pub fn valid_invocation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl StateDir {
    /// Creates the directory layout (owner-only) and reads the finished log.
    pub fn open(root: &Path, durability: Durability) -> Result<Self, AgentError> {
        for dir in [root.to_path_buf(), root.join("inflight"), root.join("work"), root.join("scripts")] {
            fsutil::private_dir(&dir).map_err(|e| AgentError::state(&dir, e))?;
        }
        let log_path = root.join("finished.log");
        let finished =
            FinishedLog::open(&log_path, FINISHED_KEPT, durability == Durability::Synced).map_err(|e| AgentError::state(&log_path, e))?;
        Ok(Self { inner: Arc::new(Inner { root: root.to_path_buf(), finished: Mutex::new(finished), durability }) })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub fn work_dir(&self, id: &str) -> PathBuf {
        self.inner.root.join("work").join(id)
    }

    pub fn script_dir(&self, id: &str) -> PathBuf {
        self.inner.root.join("scripts").join(id)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.inner.root.join("inflight").join(format!("{id}.json"))
    }

    pub fn has_record(&self, id: &str) -> bool {
        self.record_path(id).exists()
    }

    /// Writes a record durably.
    pub async fn save(&self, record: &InflightRecord) -> std::io::Result<()> {
        let path = self.record_path(record.id());
        let bytes = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        let synced = self.inner.durability == Durability::Synced;
        blocking(move || fsutil::write_private(&path, &bytes, synced)).await
    }

    pub fn load(&self, id: &str) -> Result<InflightRecord, String> {
        let text = std::fs::read_to_string(self.record_path(id)).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// Every in-flight record by invocation id, or why it cannot be read.
    pub fn load_all(&self) -> Vec<(String, Result<InflightRecord, String>)> {
        let Ok(entries) = std::fs::read_dir(self.inner.root.join("inflight")) else { return Vec::new() };
        let mut out: Vec<_> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").filter(|id| valid_invocation_id(id)).map(str::to_string))
            .map(|id| {
                let record = self.load(&id);
                (id, record)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The final status of a finished invocation this node remembers.
    pub fn finished(&self, id: &str) -> Option<InvocationStatus> {
        self.inner.finished.lock().unwrap_or_else(|e| e.into_inner()).get(id)
    }

    /// Marks an invocation finished: remembered in the log, its record, script and
    /// working directories removed.
    pub async fn finish(&self, id: &str, status: InvocationStatus) -> std::io::Result<()> {
        let this = self.clone();
        let id = id.to_string();
        blocking(move || {
            this.inner.finished.lock().unwrap_or_else(|e| e.into_inner()).add(&id, status)?;
            fsutil::remove_if_present(&this.record_path(&id))?;
            for dir in [this.work_dir(&id), this.script_dir(&id)] {
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
            }
            Ok(())
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use bosun_protocol::agent::{Assignment, DocumentText};

    use super::*;

    fn assignment(id: &str) -> Assignment {
        Assignment {
            invocation_id: id.into(),
            command_id: "c".into(),
            document: DocumentText { name: "D".into(), file_name: "D.yaml".into(), content: "x".into() },
            included: Vec::new(),
            parameters: Default::default(),
            timeout_seconds: 60,
            plugins: Vec::new(),
        }
    }

    #[tokio::test]
    async fn records_survive_a_reopen_and_finishing_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        let state = StateDir::open(&root, Durability::Synced).unwrap();
        for sub in ["", "inflight", "work", "scripts"] {
            assert_eq!(std::fs::metadata(root.join(sub)).unwrap().mode() & 0o777, 0o700, "{sub}");
        }
        let mut record = InflightRecord::new(assignment("inv-1"));
        state.save(&record).await.unwrap();
        record.phase = Phase::Running;
        state.save(&record).await.unwrap();
        state.save(&InflightRecord::new(assignment("inv-2"))).await.unwrap();
        std::fs::write(root.join("inflight/inv-3.json"), "{broken").unwrap();
        assert_eq!(std::fs::metadata(root.join("inflight/inv-1.json")).unwrap().mode() & 0o777, 0o600);

        let reopened = StateDir::open(&root, Durability::Synced).unwrap();
        let all = reopened.load_all();
        let ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["inv-1", "inv-2", "inv-3"]);
        assert_eq!(all[0].1.as_ref().unwrap().phase, Phase::Running);
        assert!(all[2].1.is_err());

        std::fs::create_dir_all(reopened.work_dir("inv-1")).unwrap();
        reopened.finish("inv-1", InvocationStatus::Success).await.unwrap();
        assert!(!reopened.has_record("inv-1"));
        assert!(!reopened.work_dir("inv-1").exists());
        assert_eq!(StateDir::open(&root, Durability::Synced).unwrap().finished("inv-1"), Some(InvocationStatus::Success));
    }

    #[test]
    fn ids_that_are_not_file_names_are_refused() {
        assert!(valid_invocation_id("8a1f-22_b.c"));
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(129)] {
            assert!(!valid_invocation_id(bad), "{bad}");
        }
    }
}
