//! Wakes a node's waiting long poll when work for it is dispatched or cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// One [`Notify`] per node. A wake with no poll waiting leaves a permit, so the
/// node's next poll looks for work at once instead of waiting.
#[derive(Debug, Default)]
pub struct NodeWaker {
    nodes: Mutex<HashMap<String, Arc<Notify>>>,
}

impl NodeWaker {
    pub fn notifier(&self, node_id: &str) -> Arc<Notify> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.entry(node_id.to_string()).or_default().clone()
    }

    pub fn wake(&self, node_id: &str) {
        self.notifier(node_id).notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_before_the_wait_is_not_lost() {
        let waker = NodeWaker::default();
        waker.wake("mi-1");
        tokio::time::timeout(std::time::Duration::from_secs(5), waker.notifier("mi-1").notified()).await.unwrap();
    }
}
