//! The TCP connections multiplexed over one port-forwarding session, on either
//! side (the node connects to its port, the CLI accepts local connections): each
//! stream's data from the peer goes through a small bounded queue to its
//! connection, and its connection's data goes to the peer in frames of at most one
//! payload. A stream close is a half close: no more data that way.

use std::collections::HashMap;

use bosun_protocol::session::{Frame, MAX_PAYLOAD};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::socket::QUEUED_FRAMES;

/// The most streams open at once in one session.
pub const MAX_STREAMS: usize = 64;

/// The open streams of one session.
#[derive(Default)]
pub struct Streams {
    to_connection: HashMap<u32, mpsc::Sender<Vec<u8>>>,
    tasks: JoinSet<()>,
}

impl Streams {
    /// Whether another stream may open (not too many, and `id` not in use).
    pub fn has_room_for(&self, id: u32) -> bool {
        self.to_connection.len() < MAX_STREAMS && !self.to_connection.contains_key(&id)
    }

    /// Carries stream `id` over `connection`, its data to the peer through `out`.
    pub fn add(&mut self, id: u32, connection: TcpStream, out: mpsc::Sender<Frame>) {
        let (tx, rx) = mpsc::channel(QUEUED_FRAMES);
        self.to_connection.insert(id, tx);
        self.tasks.spawn(pump(id, connection, rx, out));
        while self.tasks.try_join_next().is_some() {}
    }

    /// The peer's data for stream `id`; waits while the connection's queue is full.
    pub async fn deliver(&mut self, id: u32, data: Vec<u8>) {
        if let Some(tx) = self.to_connection.get(&id)
            && tx.send(data).await.is_err()
        {
            self.to_connection.remove(&id);
        }
    }

    /// The peer will send no more on stream `id`.
    pub fn close(&mut self, id: u32) {
        self.to_connection.remove(&id);
    }

    /// Ends every stream.
    pub async fn shutdown(mut self) {
        self.to_connection.clear();
        self.tasks.shutdown().await;
    }
}

/// One stream: the peer's data to the connection, the connection's data to the peer.
async fn pump(id: u32, connection: TcpStream, mut from_peer: mpsc::Receiver<Vec<u8>>, out: mpsc::Sender<Frame>) {
    let (mut read, mut write) = connection.into_split();
    let upstream = async {
        while let Some(data) = from_peer.recv().await {
            if write.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    };
    let downstream = async {
        let mut buffer = vec![0u8; MAX_PAYLOAD];
        loop {
            match read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.send(Frame::StreamData(id, buffer[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = out.send(Frame::StreamClose(id)).await;
    };
    tokio::join!(upstream, downstream);
}
