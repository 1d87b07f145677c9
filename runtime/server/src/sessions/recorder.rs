//! Records a session's output in the store as it is relayed: a bounded queue to
//! a task that writes what has gathered in one batch, so a slow store holds up the
//! relay instead of growing memory, and recording stops at the session's cap.

use std::sync::Arc;

use bosun_store::{RecordedChunk, Store};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks waiting for the store.
const QUEUED: usize = 16;
/// The most bytes written in one batch.
const BATCH_BYTES: usize = 256 * 1024;

pub struct Recorder {
    tx: mpsc::Sender<RecordedChunk>,
    task: JoinHandle<()>,
}

impl Recorder {
    pub fn start(store: Arc<Store>, session_id: String, max_bytes: u64) -> Self {
        let (tx, rx) = mpsc::channel(QUEUED);
        Self { tx, task: tokio::spawn(write(store, session_id, max_bytes, rx)) }
    }

    /// Queues output seen `at_ms` after the session connected; waits while the queue is full.
    pub async fn record(&self, at_ms: u64, data: Vec<u8>) {
        // After the cap the task is gone and the chunk is dropped: that is the cap.
        let _ = self.tx.send(RecordedChunk { at_ms, data }).await;
    }

    /// Writes what is queued and stops.
    pub async fn finish(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

async fn write(store: Arc<Store>, session_id: String, max_bytes: u64, mut rx: mpsc::Receiver<RecordedChunk>) {
    while let Some(first) = rx.recv().await {
        let mut size = first.data.len();
        let mut batch = vec![first];
        while size < BATCH_BYTES
            && let Ok(next) = rx.try_recv()
        {
            size += next.data.len();
            batch.push(next);
        }
        match store.record_session_output(&session_id, batch, max_bytes).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(session = %session_id, max_bytes, "the session's recording reached its cap; the rest is not recorded");
                return;
            }
            Err(error) => {
                tracing::error!(session = %session_id, %error, "cannot record the session's output; recording stops");
                return;
            }
        }
    }
}
