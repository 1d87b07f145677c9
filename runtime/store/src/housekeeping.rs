//! Housekeeping off the commit path: after executions end, a background thread
//! deletes the step-log rows no running execution needs, in a write job of its
//! own, so an execution's last commit does not carry that work.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use crate::executions;
use crate::writer::Writer;

pub(crate) struct Housekeeper {
    /// None once dropping: closing the channel ends the thread.
    requests: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Housekeeper {
    /// Starts the thread; it ends when the store (the sender) is dropped.
    pub(crate) fn start(writer: Arc<Writer>) -> Self {
        let (requests, pending) = mpsc::channel::<()>();
        let spawned = thread::Builder::new().name("bosun-store-housekeeping".into()).spawn(move || {
            while pending.recv().is_ok() {
                while pending.try_recv().is_ok() {} // one pass serves every request so far
                if let Err(error) = writer.run_blocking(Box::new(executions::tidy)) {
                    tracing::warn!(%error, "store housekeeping failed; it is tried again after the next execution ends");
                }
            }
        });
        let thread = match spawned {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "cannot start the store's housekeeping thread; ended executions' step-log rows stay until `tidy`");
                None
            }
        };
        Self { requests: Some(requests), thread }
    }

    /// Asks for a pass; returns at once.
    pub(crate) fn request(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.send(());
        }
    }
}

impl Drop for Housekeeper {
    /// Ends the thread and waits for it, so that its handle on the write connection is
    /// gone when the store is: the connection then closes (and SQLite checkpoints the
    /// WAL) as the store is dropped, not at some later point or never.
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
