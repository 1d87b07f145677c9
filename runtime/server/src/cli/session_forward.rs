//! `bosun session forward`: port forwarding through a session. The CLI listens on
//! a local address; each connection it accepts is a stream of the session, which
//! the node connects to its port (`bosun_agent::session::streams` carries the
//! bytes on both sides). Ctrl-C or the session's end stops it.

use std::net::SocketAddr;
use std::process::ExitCode;

use bosun_agent::session::socket::{self, Incoming};
use bosun_agent::session::streams::Streams;
use bosun_protocol::session::{Frame, PORT_FORWARD_DOCUMENT, StartSession};
use serde_json::json;

use super::client::Client;
use super::session_term::StreamAccess;
use super::{CliError, Context};

pub async fn run(ctx: &Context, target: String, remote_port: u16, local: SocketAddr) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let access = StreamAccess::from_context(ctx)?;
    let listener = tokio::net::TcpListener::bind(local)
        .await
        .map_err(|e| CliError::failed(format!("cannot listen on {local}: {e} (pick another --local-port)")))?;
    let bound = listener.local_addr().map_err(|e| CliError::failed(e.to_string()))?;
    let mut parameters = serde_json::Map::new();
    parameters.insert("portNumber".into(), json!(remote_port));
    let request = StartSession { target, document: Some(PORT_FORWARD_DOCUMENT.into()), parameters, rows: None, cols: None };
    let (view, socket) = access.open(&client, &request).await?;
    crate::outln!("forwarding {bound} to port {remote_port} of {} (session {}); Ctrl-C stops", view.target, view.session_id);
    let (out, mut input, writer) = socket::split(socket);
    let mut streams = Streams::default();
    let mut next_id: u32 = 0;
    let mut reason = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((connection, _)) = accepted else { continue };
                next_id = next_id.wrapping_add(1);
                if !streams.has_room_for(next_id) || out.send(Frame::Open(next_id)).await.is_err() {
                    continue;
                }
                streams.add(next_id, connection, out.clone());
            }
            incoming = input.next() => match incoming {
                Incoming::Frame(Frame::StreamData(id, data)) => streams.deliver(id, data).await,
                Incoming::Frame(Frame::StreamClose(id)) => streams.close(id),
                Incoming::Frame(Frame::Closed(why)) => reason = Some(why),
                Incoming::Frame(Frame::Exit(_)) | Incoming::Closed => break,
                Incoming::Frame(_) => {}
                Incoming::Bad(e) => {
                    reason = Some(format!("the server sent a bad frame: {e}"));
                    break;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    streams.shutdown().await;
    drop(out);
    let _ = writer.await;
    match reason {
        Some(reason) => Err(CliError::failed(format!("session {} ended: {reason}", view.session_id))),
        None => Ok(ExitCode::SUCCESS),
    }
}
