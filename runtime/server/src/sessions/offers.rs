//! Sessions waiting for their node's long poll: the poll takes a node's offers
//! (and answers at once when there are some); an offer not taken when its session
//! gives up is withdrawn.

use std::collections::HashMap;
use std::sync::Mutex;

use bosun_protocol::session::SessionOffer;

#[derive(Debug, Default)]
pub struct SessionOffers {
    by_node: Mutex<HashMap<String, Vec<SessionOffer>>>,
}

impl SessionOffers {
    pub fn push(&self, node_id: &str, offer: SessionOffer) {
        self.by_node.lock().unwrap_or_else(|e| e.into_inner()).entry(node_id.to_string()).or_default().push(offer);
    }

    /// The node's offers, removed.
    pub fn take(&self, node_id: &str) -> Vec<SessionOffer> {
        self.by_node.lock().unwrap_or_else(|e| e.into_inner()).remove(node_id).unwrap_or_default()
    }

    /// Removes a session's offer if the node has not taken it.
    pub fn withdraw(&self, node_id: &str, session_id: &str) {
        let mut by_node = self.by_node.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(offers) = by_node.get_mut(node_id) {
            offers.retain(|o| o.session_id != session_id);
            if offers.is_empty() {
                by_node.remove(node_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::session::SessionKind;

    fn offer(id: &str) -> SessionOffer {
        SessionOffer { session_id: id.into(), kind: SessionKind::Shell, run_as: "u".into(), shell_profile: String::new(), rows: 1, cols: 1 }
    }

    #[test]
    fn offers_are_taken_once_and_withdrawn() {
        let offers = SessionOffers::default();
        offers.push("mi-1", offer("a"));
        offers.push("mi-1", offer("b"));
        offers.withdraw("mi-1", "a");
        assert_eq!(offers.take("mi-1"), vec![offer("b")]);
        assert_eq!(offers.take("mi-1"), vec![]);
        assert_eq!(offers.take("mi-2"), vec![]);
    }
}
