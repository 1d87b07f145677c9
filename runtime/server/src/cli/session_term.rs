//! `bosun session start`: the terminal end of a session. The local terminal goes
//! into raw mode (every key, Ctrl-C included, is a byte for the remote side) and is
//! restored on the way out; stdin goes to the session from a thread of its own,
//! output is written as it comes, a window change sends the new size, and the
//! command exits with the remote process's exit code.

use std::io::{IsTerminal as _, Read as _};
use std::os::fd::AsFd;
use std::process::ExitCode;

use bosun_agent::session::socket::{self, Incoming};
use bosun_protocol::session::{Frame, MAX_PAYLOAD, SessionView, StartSession};
use tokio::io::AsyncWriteExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::client::Client;
use super::{CliError, Context};

/// The terminal's size (rows, cols), when stdin is a terminal.
fn terminal_size() -> Option<(u16, u16)> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return None;
    }
    let size = rustix::termios::tcgetwinsize(stdin.as_fd()).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// Raw mode on stdin while alive; the terminal's settings come back on drop.
struct RawMode {
    saved: rustix::termios::Termios,
}

impl RawMode {
    fn enter() -> Option<Self> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = rustix::termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(std::io::stdin().as_fd(), rustix::termios::OptionalActions::Now, &self.saved);
    }
}

/// Where the CLI's session sockets connect, and with what.
pub struct StreamAccess {
    pub endpoint: String,
    pub token: String,
    pub tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
}

impl StreamAccess {
    pub fn from_context(ctx: &Context) -> Result<Self, CliError> {
        // The same checks and messages as the API client.
        Client::from_context(ctx)?;
        let tls = socket::tls_config(ctx.ca_cert.as_deref()).map_err(|e| CliError::usage(e.to_string()))?;
        Ok(Self { endpoint: ctx.endpoint.clone().unwrap_or_default(), token: ctx.token.clone().unwrap_or_default(), tls })
    }

    /// Opens the session and connects to its stream.
    pub async fn open(&self, client: &Client, request: &StartSession) -> Result<(SessionView, socket::Socket), CliError> {
        let view: SessionView = client.post("/v1/sessions", request).await?;
        let path = format!("/v1/sessions/{}/stream", view.session_id);
        let socket = socket::connect(&self.endpoint, &path, &self.token, self.tls.clone()).await.map_err(|e| match e {
            socket::ConnectError::Refused { status, body } if (400..500).contains(&status) => {
                CliError::usage(format!("session {}: {body}", view.session_id))
            }
            other => CliError::failed(format!("session {}: {other}", view.session_id)),
        })?;
        Ok((view, socket))
    }
}

/// Reads stdin on a thread of its own (a blocking read must not hold up the exit) and sends it as data.
fn forward_stdin(out: mpsc::Sender<Frame>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buffer = vec![0u8; MAX_PAYLOAD];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if out.blocking_send(Frame::Data(buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Runs an interactive session to its end; the remote exit code.
pub async fn run(
    ctx: &Context,
    target: String,
    document: Option<String>,
    parameters: serde_json::Map<String, serde_json::Value>,
) -> Result<ExitCode, CliError> {
    let client = Client::from_context(ctx)?;
    let access = StreamAccess::from_context(ctx)?;
    let (rows, cols) = terminal_size().unwrap_or((24, 80));
    let request = StartSession { target, document, parameters, rows: Some(rows), cols: Some(cols) };
    let (view, socket) = access.open(&client, &request).await?;
    crate::errln!("session {} to {} (run as {})", view.session_id, view.target, view.run_as.as_deref().unwrap_or("-"));
    let (out, mut input, writer) = socket::split(socket);
    let raw = RawMode::enter();
    forward_stdin(out.clone());
    let mut resized = signal(SignalKind::window_change()).map_err(|e| CliError::failed(format!("cannot watch the window size: {e}")))?;
    let mut stdout = tokio::io::stdout();
    let mut reason = None;
    let code = loop {
        tokio::select! {
            incoming = input.next() => match incoming {
                Incoming::Frame(Frame::Data(bytes)) => {
                    if stdout.write_all(&bytes).await.is_err() || stdout.flush().await.is_err() {
                        break None;
                    }
                }
                Incoming::Frame(Frame::Exit(code)) => break Some(code),
                Incoming::Frame(Frame::Closed(why)) => reason = Some(why),
                Incoming::Frame(_) => {}
                Incoming::Closed => break None,
                Incoming::Bad(e) => {
                    reason = Some(format!("the server sent a bad frame: {e}"));
                    break None;
                }
            },
            _ = resized.recv() => {
                if let Some((rows, cols)) = terminal_size() {
                    let _ = out.send(Frame::Resize { rows, cols }).await;
                }
            }
        }
    };
    drop(raw);
    drop(out);
    writer.abort();
    if let Some(reason) = &reason {
        crate::errln!("\r\nsession {} ended: {reason}", view.session_id);
    }
    match code {
        Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(255))),
        None => Err(CliError::failed(format!("session {}: the connection closed before the remote process exited", view.session_id))),
    }
}
