//! Housekeeping off the commit path: after executions end, a background thread
//! deletes the step-log rows no running execution needs, in a write job of its
//! own, so an execution's last commit does not carry that work.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use crate::executions;
use crate::writer::Writer;

pub(crate) struct Housekeeper {
    requests: mpsc::Sender<()>,
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
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the store's housekeeping thread; ended executions' step-log rows stay until `tidy`");
        }
        Self { requests }
    }

    /// Asks for a pass; returns at once.
    pub(crate) fn request(&self) {
        let _ = self.requests.send(());
    }
}
