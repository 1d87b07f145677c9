//! The write path: group commit without a writer thread. Every writer queues
//! its job and, if no other writer holds the connection, takes it and commits
//! batches of queued jobs until the queue is empty, one transaction a batch,
//! answering each job; when a job fails, the batch is rolled back and each of
//! its jobs runs again alone, so one failing job does not undo the others. A writer that finds the connection taken leaves its job to the holder
//! and awaits its answer. Alone, a writer commits on its own thread with no
//! hand-off; under load, the jobs that queue during one fsync share the next.

use std::sync::{Mutex, mpsc};

use bosun_engine::StoreError;
use rusqlite::Connection;

use crate::sql_error;

/// How hard a commit holds on to its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with synchronous=NORMAL: survives a crash of the process, not a power loss.
    #[default]
    Normal,
    /// WAL with synchronous=FULL: every commit is fsynced; survives a power loss.
    Full,
}

/// A job may run twice: when another job of its batch fails, the batch is rolled back
/// and each job runs again in a transaction of its own.
pub(crate) type Job = Box<dyn Fn(&Connection) -> Result<(), StoreError> + Send>;
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 1024;

pub(crate) struct Writer {
    conn: Mutex<Connection>,
    queue: Mutex<Vec<(Job, Reply)>>,
}

impl Writer {
    pub(crate) fn new(conn: Connection) -> Self {
        Self { conn: Mutex::new(conn), queue: Mutex::new(Vec::new()) }
    }

    fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Runs a job and returns once the transaction holding it is committed.
    pub(crate) fn run_blocking(&self, job: Job) -> Result<(), StoreError> {
        let (reply, answer) = mpsc::channel();
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push((job, Box::new(move |r| drop(reply.send(r)))));
        self.drain_if_free();
        answer.recv().map_err(|_| StoreError("the store's writer stopped before committing".into()))?
    }

    /// The same from async code. A commit holds the runtime thread for its fsync; other
    /// tasks go on on the runtime's other threads and queue the next batch meanwhile.
    pub(crate) async fn run_async(&self, job: Job) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push((job, Box::new(move |r| drop(reply.send(r)))));
        self.drain_if_free();
        answer.await.map_err(|_| StoreError("the store's writer stopped before committing".into()))?
    }

    /// If no other writer holds the connection, commits batches until the queue is empty.
    /// Whoever lets go of the connection looks at the queue again afterwards, so a job
    /// queued while another writer held the connection is never left behind.
    fn drain_if_free(&self) {
        loop {
            let conn = match self.conn.try_lock() {
                Ok(conn) => conn,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return,
            };
            loop {
                let batch = {
                    let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                    let n = queue.len().min(MAX_BATCH);
                    queue.drain(..n).collect::<Vec<_>>()
                };
                if batch.is_empty() {
                    break;
                }
                commit_batch(&conn, batch);
            }
            drop(conn);
            if self.queued() == 0 {
                return;
            }
        }
    }
}

fn commit_batch(conn: &Connection, batch: Vec<(Job, Reply)>) {
    if batch.len() > 1 {
        match in_transaction(conn, |conn| batch.iter().try_for_each(|(job, _)| job(conn))) {
            Ok(()) => batch.into_iter().for_each(|(_, reply)| reply(Ok(()))),
            // Someone's job failed: each job again, alone, so only that one fails.
            Err(_) => batch.into_iter().for_each(|(job, reply)| reply(in_transaction(conn, &job))),
        }
    } else {
        batch.into_iter().for_each(|(job, reply)| reply(in_transaction(conn, &job)));
    }
}

/// Runs `work` in one transaction: committed when it succeeds, rolled back when it fails.
fn in_transaction(conn: &Connection, work: impl Fn(&Connection) -> Result<(), StoreError>) -> Result<(), StoreError> {
    run_cached(conn, "BEGIN IMMEDIATE")?;
    let result = work(conn).and_then(|()| run_cached(conn, "COMMIT"));
    if result.is_err() {
        let _ = run_cached(conn, "ROLLBACK");
    }
    result
}

/// Runs a statement without parameters through the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(sql_error)
}
