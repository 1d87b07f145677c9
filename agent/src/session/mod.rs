//! Session Manager on the node: a session offer from the long poll makes the agent
//! dial the server's session stream (`GET /v1/agent/sessions/{id}/stream`, the
//! node credential as bearer) and run the session there: a shell or one command in
//! a PTY (`shell.rs`, as the user `run_as.rs` picks), or port forwarding to a port
//! of the node's loopback (`forward.rs`). The node opens no port.

mod forward;
mod run_as;
mod shell;
pub mod socket;
pub mod streams;

use std::path::PathBuf;

use bosun_protocol::session::{SessionKind, SessionOffer};
use tokio_util::sync::CancellationToken;

/// Where and as whom the agent dials its sessions.
#[derive(Debug, Clone)]
pub struct Dial {
    pub server: String,
    pub credential: String,
    pub ca_cert: Option<PathBuf>,
}

/// Whether a session id is safe in a URL path: 1 to 64 letters, digits and '-'.
pub fn valid_session_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Connects to the session's stream and runs it to its end.
pub async fn serve(dial: Dial, offer: SessionOffer, stop: CancellationToken) {
    if !valid_session_id(&offer.session_id) {
        tracing::error!(session = %offer.session_id, "refusing a session whose id is not 1 to 64 letters, digits and '-'");
        return;
    }
    let tls = match socket::tls_config(dial.ca_cert.as_deref()) {
        Ok(tls) => tls,
        Err(e) => return tracing::error!(session = %offer.session_id, "cannot open the session: {e}"),
    };
    let path = format!("/v1/agent/sessions/{}/stream", offer.session_id);
    let connected = tokio::select! {
        connected = socket::connect(&dial.server, &path, &dial.credential, tls) => connected,
        () = stop.cancelled() => return,
    };
    let socket = match connected {
        Ok(socket) => socket,
        Err(e) => return tracing::warn!(session = %offer.session_id, "cannot open the session: {e}"),
    };
    tracing::info!(session = %offer.session_id, kind = ?offer.kind, "session opened");
    let (out, input, writer) = socket::split(socket);
    match &offer.kind {
        SessionKind::Shell => shell::run(&offer, None, out, input, stop).await,
        SessionKind::Command { command } => shell::run(&offer, Some(command), out, input, stop).await,
        SessionKind::PortForward { port } => forward::run(&offer.session_id, *port, out, input, stop).await,
    }
    let _ = writer.await;
    tracing::info!(session = %offer.session_id, "session closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_must_be_safe_path_segments() {
        assert!(valid_session_id("0f8a-11"));
        for bad in ["", "../x", "a/b", "a?b", &"a".repeat(65)] {
            assert!(!valid_session_id(bad), "{bad:?}");
        }
    }
}
