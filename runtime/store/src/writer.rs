//! The write path: group commit without a writer thread. Every writer queues
//! its job and, if no other writer holds the connection, takes it and commits
//! batches of queued jobs until the queue is empty (each job in its own
//! savepoint, so one failing job does not undo the others), answering each
//! job. A writer that finds the connection taken leaves its job to the holder
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

type Job = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;
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

fn commit_batch(conn: &Connection, mut batch: Vec<(Job, Reply)>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        for (_, reply) in batch {
            reply(Err(e.clone()));
        }
        return;
    }
    let results: Vec<_> = if batch.len() == 1 {
        // Alone in its transaction, a failing job is undone by the rollback below.
        batch.drain(..).map(|(job, reply)| (job(conn), reply)).collect()
    } else {
        batch.drain(..).map(|(job, reply)| (in_savepoint(conn, job), reply)).collect()
    };
    let committed =
        if results.len() == 1 && results[0].0.is_err() { Err(StoreError("rolled back".into())) } else { run_cached(conn, "COMMIT") };
    if committed.is_err() {
        let _ = run_cached(conn, "ROLLBACK");
    }
    for (result, reply) in results {
        reply(result.and(committed.clone()));
    }
}

/// Runs a statement without parameters through the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(sql_error)
}

fn in_savepoint(conn: &Connection, job: Job) -> Result<(), StoreError> {
    run_cached(conn, "SAVEPOINT job")?;
    match job(conn) {
        Ok(()) => run_cached(conn, "RELEASE job"),
        Err(e) => {
            let _ = run_cached(conn, "ROLLBACK TO job");
            let _ = run_cached(conn, "RELEASE job");
            Err(e)
        }
    }
}
