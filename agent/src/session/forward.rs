//! Port forwarding on the node: each stream the peer opens is a TCP connection to
//! the session's port on the node's loopback (`streams.rs` carries them); a stream
//! that cannot connect is closed at once.

use bosun_protocol::session::Frame;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::socket::{FrameReader, Incoming};
use super::streams::Streams;

/// Serves the session's streams until the peer goes or `stop`.
pub async fn run(session_id: &str, port: u16, out: mpsc::Sender<Frame>, mut input: FrameReader, stop: CancellationToken) {
    let mut streams = Streams::default();
    loop {
        let incoming = tokio::select! {
            incoming = input.next() => incoming,
            () = stop.cancelled() => break,
        };
        match incoming {
            Incoming::Frame(Frame::Open(id)) => {
                let connected = if streams.has_room_for(id) { TcpStream::connect(("127.0.0.1", port)).await.ok() } else { None };
                match connected {
                    Some(connection) => streams.add(id, connection, out.clone()),
                    None => {
                        let _ = out.send(Frame::StreamClose(id)).await;
                    }
                }
            }
            Incoming::Frame(Frame::StreamData(id, data)) => streams.deliver(id, data).await,
            Incoming::Frame(Frame::StreamClose(id)) => streams.close(id),
            Incoming::Frame(other) => tracing::debug!(session = session_id, ?other, "a frame port forwarding does not use"),
            Incoming::Closed => break,
            Incoming::Bad(e) => {
                tracing::warn!(session = session_id, "ending the session: {e}");
                break;
            }
        }
    }
    streams.shutdown().await;
}
