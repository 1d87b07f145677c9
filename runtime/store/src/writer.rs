//! The single writer: a thread that owns the write connection, drains every
//! queued job, runs them in one transaction (each in its own savepoint, so one
//! failing job does not undo the others) and answers each job once the
//! transaction is durable. Concurrent executions thus share one fsync.

use std::sync::mpsc;
use std::thread;

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
const MAX_BATCH: usize = 512;

pub(crate) struct Writer {
    queue: mpsc::Sender<(Job, Reply)>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Self {
        let (queue, jobs) = mpsc::channel::<(Job, Reply)>();
        thread::Builder::new()
            .name("bosun-store-writer".into())
            .spawn(move || run(conn, jobs))
            .unwrap_or_else(|e| panic!("cannot start the store's writer thread: {e}"));
        Self { queue }
    }

    /// Queues a job; `reply` gets its result once the transaction holding it is committed.
    pub(crate) fn submit(&self, job: Job, reply: Reply) {
        if let Err(mpsc::SendError((_, reply))) = self.queue.send((job, reply)) {
            reply(Err(StoreError("the store's writer has stopped".into())));
        }
    }

    /// Runs a job and waits for it, from async code.
    pub(crate) async fn run_async(&self, job: Job) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(job, Box::new(move |r| drop(tx.send(r))));
        rx.await
            .map_err(|_| StoreError("the store's writer has stopped".into()))?
    }

    /// Runs a job and waits for it, from blocking code.
    pub(crate) fn run_blocking(&self, job: Job) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::channel();
        self.submit(job, Box::new(move |r| drop(tx.send(r))));
        rx.recv()
            .map_err(|_| StoreError("the store's writer has stopped".into()))?
    }
}

fn run(conn: Connection, jobs: mpsc::Receiver<(Job, Reply)>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, batch);
    }
}

fn commit_batch(conn: &Connection, batch: Vec<(Job, Reply)>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = sql_error(e);
        for (_, reply) in batch {
            reply(Err(error.clone()));
        }
        return;
    }
    let mut results = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for (job, reply) in batch {
        results.push(in_savepoint(conn, job));
        replies.push(reply);
    }
    let committed = conn.execute_batch("COMMIT").map_err(sql_error);
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for (result, reply) in results.into_iter().zip(replies) {
        reply(committed.clone().and(result));
    }
}

fn in_savepoint(conn: &Connection, job: Job) -> Result<(), StoreError> {
    conn.execute_batch("SAVEPOINT job").map_err(sql_error)?;
    match job(conn) {
        Ok(()) => conn.execute_batch("RELEASE job").map_err(sql_error),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}
