//! The relay of one session between the client's WebSocket and the node's: each
//! direction reads a frame, checks that its sender may send it, and writes it on
//! before reading the next, so a slow reader anywhere holds up the writer behind
//! it (TCP and the agent's PTY carry the pause back to the process) and no queue
//! grows. Terminal output is recorded on the way. The relay ends the session when
//! the process exits, either side goes, a frame is refused, the session stays idle
//! or runs past its maximum duration, or someone terminates it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use bosun_protocol::session::{EXIT_ENDED_BY_SERVER, Frame};
use bosun_store::sessions::{FAILED, TERMINATED};
use bosun_store::{SessionEnd, Store};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;

use super::recorder::Recorder;

/// What a relay needs besides its two sockets.
pub struct RelayContext {
    pub store: Arc<Store>,
    pub session_id: String,
    /// Record terminal output (not forwarded connections' bytes).
    pub record: bool,
    pub max_recorded_bytes: u64,
    pub idle_timeout: Duration,
    pub max_duration: Duration,
    /// Set to a reason to end the session.
    pub stop: watch::Receiver<Option<String>>,
}

/// Why the relay stopped.
#[derive(Debug)]
enum Ending {
    Exited(i32),
    ClientGone,
    NodeGone,
    BadClient(String),
    BadNode(String),
    Ended(String),
}

/// Reads the next frame: Err(None) when the socket closed, Err(Some(why)) for a message that is not a frame.
async fn read_frame(stream: &mut SplitStream<WebSocket>) -> Result<Frame, Option<String>> {
    loop {
        return match stream.next().await {
            Some(Ok(Message::Binary(bytes))) => Frame::decode(&bytes).map_err(|e| Some(e.to_string())),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Text(_))) => Err(Some("a text message (frames are binary)".into())),
            Some(Ok(Message::Close(_))) | None => Err(None),
            Some(Err(e)) => Err(broken(e)),
        };
    }
}

/// A socket error: a peer that went away (None), or one that broke the protocol.
fn broken(error: axum::Error) -> Option<String> {
    use tungstenite::error::{Error, ProtocolError};
    let text = error.to_string();
    match error.into_inner().downcast_ref::<Error>() {
        Some(
            Error::ConnectionClosed | Error::AlreadyClosed | Error::Io(_) | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake),
        ) => None,
        _ => Some(text),
    }
}

async fn send(sink: &mut SplitSink<WebSocket, Message>, frame: &Frame) -> bool {
    sink.send(Message::Binary(frame.encode().into())).await.is_ok()
}

/// Runs the relay to the session's end and records how it ended.
pub async fn relay(mut ctx: RelayContext, client: WebSocket, node: WebSocket) {
    let started = Instant::now();
    let last_activity = AtomicU64::new(0);
    let touch = || last_activity.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
    let (mut to_client, mut from_client) = client.split();
    let (mut to_node, mut from_node) = node.split();
    let recorder = ctx.record.then(|| Recorder::start(ctx.store.clone(), ctx.session_id.clone(), ctx.max_recorded_bytes));
    let mut node_reason = None;
    let ending = {
        let upstream = async {
            loop {
                let frame = match read_frame(&mut from_client).await {
                    Ok(frame) => frame,
                    Err(None) => return Ending::ClientGone,
                    Err(Some(why)) => return Ending::BadClient(why),
                };
                if matches!(frame, Frame::Exit(_) | Frame::Closed(_)) {
                    return Ending::BadClient(format!("a client may not send {}", kind_name(&frame)));
                }
                touch();
                if !send(&mut to_node, &frame).await {
                    return Ending::NodeGone;
                }
            }
        };
        let downstream = async {
            loop {
                let frame = match read_frame(&mut from_node).await {
                    Ok(frame) => frame,
                    Err(None) => return Ending::NodeGone,
                    Err(Some(why)) => return Ending::BadNode(why),
                };
                match &frame {
                    Frame::Exit(code) => return Ending::Exited(*code),
                    Frame::Closed(reason) => node_reason = Some(reason.clone()),
                    Frame::Data(bytes) => {
                        if let Some(recorder) = &recorder {
                            recorder.record(started.elapsed().as_millis() as u64, bytes.clone()).await;
                        }
                    }
                    Frame::StreamData(..) | Frame::StreamClose(_) => {}
                    Frame::Resize { .. } | Frame::Open(_) => return Ending::BadNode(format!("a node may not send {}", kind_name(&frame))),
                }
                touch();
                if !send(&mut to_client, &frame).await {
                    return Ending::ClientGone;
                }
            }
        };
        let timers = async {
            loop {
                let now = started.elapsed();
                if now >= ctx.max_duration {
                    return Ending::Ended(format!("the session reached its maximum duration of {} s", ctx.max_duration.as_secs()));
                }
                let idle = now.saturating_sub(Duration::from_millis(last_activity.load(Ordering::Relaxed)));
                if idle >= ctx.idle_timeout {
                    return Ending::Ended(format!("the session was idle for {} s", ctx.idle_timeout.as_secs()));
                }
                tokio::time::sleep((ctx.max_duration - now).min(ctx.idle_timeout - idle)).await;
            }
        };
        let stop = ctx.stop.wait_for(Option::is_some);
        tokio::select! {
            ending = upstream => ending,
            ending = downstream => ending,
            ending = timers => ending,
            reason = stop => Ending::Ended(reason.ok().and_then(|r| r.clone()).unwrap_or_else(|| "the server is stopping".into())),
        }
    };
    if let Some(recorder) = recorder {
        recorder.finish().await;
    }
    let end = match ending {
        Ending::Exited(code) => {
            send(&mut to_client, &Frame::Exit(code)).await;
            // A node that gives a reason could not run the session (e.g. no such run-as user).
            match node_reason {
                Some(reason) => SessionEnd { status: FAILED, exit_code: Some(code), reason },
                None => SessionEnd { status: TERMINATED, exit_code: Some(code), reason: "the process exited".into() },
            }
        }
        Ending::ClientGone => SessionEnd { status: TERMINATED, exit_code: None, reason: "the client disconnected".into() },
        Ending::NodeGone => {
            let reason = "the node closed the session without an exit code".to_string();
            tell_client(&mut to_client, &reason).await;
            SessionEnd { status: FAILED, exit_code: None, reason }
        }
        Ending::BadClient(why) => SessionEnd { status: FAILED, exit_code: None, reason: format!("the client sent a bad frame: {why}") },
        Ending::BadNode(why) => {
            let reason = format!("the node sent a bad frame: {why}");
            tell_client(&mut to_client, &reason).await;
            SessionEnd { status: FAILED, exit_code: None, reason }
        }
        Ending::Ended(reason) => {
            tell_client(&mut to_client, &reason).await;
            SessionEnd { status: TERMINATED, exit_code: Some(EXIT_ENDED_BY_SERVER), reason }
        }
    };
    tracing::info!(session = %ctx.session_id, status = end.status, reason = %end.reason, exit_code = ?end.exit_code, "session ended");
    let _ = to_node.close().await;
    let _ = to_client.close().await;
    if let Err(error) = ctx.store.end_session(&ctx.session_id, end).await {
        tracing::error!(session = %ctx.session_id, %error, "cannot record the session's end");
    }
}

/// Tells the client why the session ended, with the exit code of an ended session.
async fn tell_client(to_client: &mut SplitSink<WebSocket, Message>, reason: &str) {
    if send(to_client, &Frame::Closed(reason.to_string())).await {
        send(to_client, &Frame::Exit(EXIT_ENDED_BY_SERVER)).await;
    }
}

fn kind_name(frame: &Frame) -> &'static str {
    match frame {
        Frame::Data(_) => "data",
        Frame::Resize { .. } => "a resize",
        Frame::Exit(_) => "an exit code",
        Frame::Closed(_) => "a closing reason",
        Frame::Open(_) => "a stream open",
        Frame::StreamData(..) => "stream data",
        Frame::StreamClose(_) => "a stream close",
    }
}
