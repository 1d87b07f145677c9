//! Checkpoints off the commit path. Once the WAL holds [`BACKGROUND_PAGES`] pages,
//! a commit asks a thread with a connection of its own to copy the WAL back into
//! the database (a passive checkpoint, which never blocks writers or readers), so
//! the committing writer does not do that copying and its fsyncs itself. Under a
//! steady stream of commits the WAL never becomes fully copied between two of
//! them, so it cannot start over from its beginning; when it holds
//! [`INLINE_PAGES`] pages the writer checkpoints inline, as SQLite's automatic
//! checkpoint does, and then has little left to copy.

use std::ffi::c_int;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use bosun_engine::StoreError;
use rusqlite::Connection;
use rusqlite::hooks::Wal;

use crate::schema;
use crate::writer::Durability;

/// WAL pages (4 KiB each) from which a commit asks for a background checkpoint.
const BACKGROUND_PAGES: c_int = 1000;
/// WAL pages from which the writer checkpoints inline.
const INLINE_PAGES: c_int = 8000;
/// The shortest time between two background checkpoints: each one syncs the WAL and
/// the database, and under a stream of commits a request is always pending.
const PAUSE: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Requests {
    pending: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Requests>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request(&self) {
        let mut requests = self.lock();
        if !requests.pending {
            requests.pending = true;
            self.wake.notify_one();
        }
    }

    /// Waits for a request; false once the store is closing.
    fn next(&self) -> bool {
        let mut requests = self.lock();
        while !requests.pending && !requests.stop {
            requests = self.wake.wait(requests).unwrap_or_else(|e| e.into_inner());
        }
        requests.pending = false;
        !requests.stop
    }
}

pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on a connection of its own to the database at `path`, and
    /// hooks `writer` (the connection that commits) to ask it for checkpoints.
    pub(crate) fn start(path: &Path, durability: Durability, writer: &mut Connection) -> Result<Self, StoreError> {
        let conn = schema::connect(path, durability)?;
        let shared = Arc::new(Shared::default());
        let spawned = thread::Builder::new().name("bosun-store-checkpoint".into()).spawn({
            let shared = Arc::clone(&shared);
            move || {
                while shared.next() {
                    if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(%error, "a background checkpoint failed; the writer checkpoints once the WAL grows further");
                    }
                    thread::sleep(PAUSE);
                }
            }
        });
        let thread = match spawned {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "cannot start the store's checkpoint thread; commits checkpoint the WAL themselves");
                None
            }
        };
        let background = thread.as_ref().map(|_| Arc::clone(&shared));
        // Made before the hook, so that if the hook cannot be set the thread is stopped.
        let checkpointer = Self { shared, thread };
        writer
            .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
                if pages >= INLINE_PAGES {
                    // Its outcome is not the commit's: an error returned here would make the
                    // commit, which has happened, report a failure. A checkpoint that finds the
                    // thread checkpointing (busy) is tried again at the next commit.
                    if let Err(error) = wal.checkpoint() {
                        tracing::debug!(%error, "an inline checkpoint did not run; the next commit tries again");
                    }
                    return Ok(());
                }
                if let Some(background) = background.as_ref().filter(|_| pages >= BACKGROUND_PAGES) {
                    background.request();
                }
                Ok(())
            }))
            .map_err(crate::sql_error)?;
        Ok(checkpointer)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write connection to `test.db` in a new directory, hooked to a checkpointer, with
    /// a table `t (id, v BLOB)`.
    fn checkpointed() -> (tempfile::TempDir, Connection, Checkpointer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let mut writer = schema::connect(&path, Durability::Normal).unwrap();
        let checkpointer = Checkpointer::start(&path, Durability::Normal, &mut writer).unwrap();
        writer.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)").unwrap();
        (dir, writer, checkpointer)
    }

    /// Pages in the WAL not yet copied into the database, as a new connection sees them.
    fn uncopied(path: &Path) -> i64 {
        let conn = Connection::open(path).unwrap();
        // A passive checkpoint that copies nothing new reports the log and what was copied.
        let (log, copied): (i64, i64) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?))).unwrap();
        log - copied
    }

    #[test]
    fn the_thread_copies_the_wal_back_while_commits_go_on() {
        let (dir, writer, checkpointer) = checkpointed();
        let path = dir.path().join("test.db");
        let before = std::fs::metadata(&path).unwrap().len();
        // About 1,200 pages, one commit each: past the background threshold, short of the inline one.
        for _ in 0..1200 {
            writer.execute("INSERT INTO t (v) VALUES (zeroblob(3000))", []).unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 1000 * 4096 {
            assert!(std::time::Instant::now() < deadline, "the database file did not grow: nothing was checkpointed");
            thread::sleep(Duration::from_millis(20));
        }
        drop(checkpointer);
        assert_eq!(writer.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1200);
    }

    #[test]
    fn commits_succeed_while_another_checkpoint_runs() {
        let (dir, writer, _checkpointer) = checkpointed();
        let path = dir.path().join("test.db");
        // Another checkpointer that never pauses, so that inline checkpoints find one running.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = thread::spawn({
            let (path, stop) = (path.clone(), Arc::clone(&stop));
            move || {
                let conn = Connection::open(&path).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            }
        });
        // Three times past the inline threshold.
        for i in 0..(3 * INLINE_PAGES) {
            if let Err(error) = writer.execute("INSERT INTO t (v) VALUES (zeroblob(100))", []) {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                panic!("commit {i} failed: {error}");
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy.join().unwrap();
        assert_eq!(writer.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), i64::from(3 * INLINE_PAGES));
    }

    #[test]
    fn without_the_thread_the_writer_checkpoints_at_the_inline_threshold() {
        let (dir, writer, checkpointer) = checkpointed();
        let path = dir.path().join("test.db");
        // The thread stops: requests go unanswered, as if it could not start.
        drop(checkpointer);
        for _ in 0..(INLINE_PAGES + 10) {
            writer.execute("INSERT INTO t (v) VALUES (zeroblob(100))", []).unwrap();
        }
        assert!(uncopied(&path) < i64::from(INLINE_PAGES), "the WAL grew past the inline threshold uncopied");
    }
}
