//! Per-execution wake-ups: a signal or a child's end wakes the task that
//! drives the execution instead of waiting for the next poll.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct Handle {
    notify: Notify,
    /// Set when something may be waiting in the store for this execution.
    flagged: AtomicBool,
}

impl Handle {
    pub fn wake(&self) {
        self.flagged.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// True (once) when woken since the last call.
    pub fn take_flag(&self) -> bool {
        self.flagged.swap(false, Ordering::AcqRel)
    }

    pub async fn woken(&self) {
        self.notify.notified().await;
    }
}

/// Handles by execution id.
#[derive(Debug, Default)]
pub struct Handles(Mutex<HashMap<String, Arc<Handle>>>);

impl Handles {
    pub fn get(&self, id: &str) -> Arc<Handle> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id.to_string()).or_default().clone()
    }

    pub fn remove(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Wakes the execution's task if this process drives it.
    pub fn wake(&self, id: &str) {
        if let Some(handle) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            handle.wake();
        }
    }
}
