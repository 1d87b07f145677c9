//! Wakes a node's waiting long poll: to look for work, when work for it is
//! dispatched or cancelled; or to answer at once, when the node reported over
//! another connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// What a node's long poll waits for.
#[derive(Debug, Default)]
pub struct NodeSignals {
    /// Work may be waiting. A wake with no poll waiting leaves a permit, so the
    /// node's next poll looks for work at once instead of waiting.
    pub work: Notify,
    /// The node reported while its poll waited: that poll should answer now, so
    /// that the node goes on with one connection instead of holding two. Only
    /// polls already waiting are released; no permit is left for the next.
    pub release: Notify,
}

/// The signals of every node that has polled.
#[derive(Debug, Default)]
pub struct NodeWaker {
    nodes: Mutex<HashMap<String, Arc<NodeSignals>>>,
}

impl NodeWaker {
    pub fn signals(&self, node_id: &str) -> Arc<NodeSignals> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.entry(node_id.to_string()).or_default().clone()
    }

    pub fn wake(&self, node_id: &str) {
        self.signals(node_id).work.notify_one();
    }

    pub fn release(&self, node_id: &str) {
        self.signals(node_id).release.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_wake_before_the_wait_is_not_lost() {
        let waker = NodeWaker::default();
        waker.wake("mi-1");
        tokio::time::timeout(Duration::from_secs(5), waker.signals("mi-1").work.notified()).await.unwrap();
    }

    #[tokio::test]
    async fn a_release_reaches_the_waiting_poll_only() {
        let waker = NodeWaker::default();
        let signals = waker.signals("mi-1");
        let waiting = signals.release.notified();
        waker.release("mi-1");
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap();
        // No permit is left: a later poll waits as usual.
        waker.release("mi-1");
        let later = tokio::time::timeout(Duration::from_millis(50), signals.release.notified()).await;
        assert!(later.is_err(), "a release with no poll waiting must not end the next poll");
    }
}
