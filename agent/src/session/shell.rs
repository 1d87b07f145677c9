//! A terminal session on the node: the process in a PTY (a login shell, or one
//! command), its output read in pieces of at most one frame and sent as the socket
//! takes them (a full socket stops the reads, and the PTY then stops the
//! process), input and resizes written to the PTY, and the exit code sent last.
//! When the socket closes first, the process and its process group are killed.

use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use bosun_protocol::session::{Frame, MAX_PAYLOAD, SessionOffer};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::run_as::{self, Launch};
use super::socket::{FrameReader, Incoming};

/// After the process exits, output still buffered in the PTY is read for at most this
/// long (a background job may hold the terminal open for ever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Runs `command` (None: a login shell) for the session until it exits, the peer goes or `stop`.
pub async fn run(offer: &SessionOffer, command: Option<&str>, out: mpsc::Sender<Frame>, mut input: FrameReader, stop: CancellationToken) {
    let launch = match run_as::prepare(offer, command) {
        Ok(launch) => launch,
        Err(message) => return refuse(&out, message).await,
    };
    let (pty, mut child) = match spawn(&launch, offer) {
        Ok(spawned) => spawned,
        Err(message) => return refuse(&out, message).await,
    };
    tracing::info!(session = %offer.session_id, user = %launch.user, pid = child.id(), "session process started");
    let (mut reader, mut writer) = pty.into_split();
    if let Some(notice) = &launch.notice {
        let _ = out.send(Frame::Data(notice.clone().into_bytes())).await;
    }
    if !offer.shell_profile.is_empty() && command.is_none() {
        let _ = writer.write_all(format!("{}\n", offer.shell_profile).as_bytes()).await;
    }
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let relay_input = async {
        loop {
            match input.next().await {
                Incoming::Frame(Frame::Data(bytes)) => {
                    if writer.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Incoming::Frame(Frame::Resize { rows, cols }) => {
                    let _ = writer.resize(pty_process::Size::new(rows.max(1), cols.max(1)));
                }
                Incoming::Frame(other) => tracing::debug!(session = %offer.session_id, ?other, "a frame a terminal session does not use"),
                Incoming::Closed => return,
                Incoming::Bad(e) => {
                    tracing::warn!(session = %offer.session_id, "ending the session: {e}");
                    return;
                }
            }
        }
    };
    let relay_output = async {
        let mut buffer = vec![0u8; MAX_PAYLOAD];
        let mut exited: Option<std::process::ExitStatus> = None;
        let mut drain_until = None;
        loop {
            tokio::select! {
                read = reader.read(&mut buffer) => match read {
                    // EIO once every end of the terminal is closed: the output is complete.
                    Ok(0) | Err(_) => break,
                    Ok(n) => if out.send(Frame::Data(buffer[..n].to_vec())).await.is_err() { return None },
                },
                status = child.wait(), if exited.is_none() => {
                    exited = Some(status.ok()?);
                    drain_until = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                }
                () = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)), if drain_until.is_some() => break,
            }
        }
        let status = match exited {
            Some(status) => status,
            None => child.wait().await.ok()?,
        };
        Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    };
    tokio::select! {
        code = relay_output => {
            if let Some(code) = code {
                tracing::info!(session = %offer.session_id, code, "session process exited");
                let _ = out.send(Frame::Exit(code)).await;
            }
        }
        () = relay_input => tracing::info!(session = %offer.session_id, "the session's connection closed; ending its process"),
        () = stop.cancelled() => {}
    }
    if let Some(pid) = pid {
        // The process leads its own session and process group; its jobs hear the hangup.
        let _ = killpg(pid, Signal::SIGHUP);
        let _ = killpg(pid, Signal::SIGKILL);
    }
}

fn spawn(launch: &Launch, offer: &SessionOffer) -> Result<(pty_process::Pty, tokio::process::Child), String> {
    let (pty, pts) = pty_process::open().map_err(|e| format!("cannot open a PTY: {e}"))?;
    pty.resize(pty_process::Size::new(offer.rows.max(1), offer.cols.max(1))).map_err(|e| format!("cannot size the PTY: {e}"))?;
    let mut command = pty_process::Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&launch.cwd)
        .kill_on_drop(true);
    if let Some((uid, gid)) = launch.ids {
        command = command.uid(uid).gid(gid);
    }
    let child = command.spawn(pts).map_err(|e| format!("cannot start {} for the session: {e}", launch.program.display()))?;
    Ok((pty, child))
}

/// Tells the peer why the session cannot start, and ends it with exit code 1.
async fn refuse(out: &mpsc::Sender<Frame>, message: String) {
    tracing::warn!("session refused: {message}");
    let _ = out.send(Frame::Closed(message)).await;
    let _ = out.send(Frame::Exit(1)).await;
}
