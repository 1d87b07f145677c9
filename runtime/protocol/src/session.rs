//! Session Manager: the API's session types (`/v1/sessions`), the offer a node's
//! long poll carries, and the binary frames the CLI, the server and the agent
//! exchange over their WebSockets.
//!
//! Every WebSocket message of a session is one binary [`Frame`]: a kind byte, then
//! the kind's fields in network byte order. Text messages are refused, and so is a
//! frame longer than [`MAX_FRAME`].
//!
//! | kind | frame | sent by |
//! |---|---|---|
//! | 0x01 | [`Frame::Data`]: bytes of the terminal (input or output) | CLI, agent |
//! | 0x02 | [`Frame::Resize`]: rows u16, cols u16 | CLI |
//! | 0x03 | [`Frame::Exit`]: the remote process's exit code, i32 | agent, then server |
//! | 0x04 | [`Frame::Closed`]: why the server ended the session (UTF-8) | server |
//! | 0x10 | [`Frame::Open`]: stream u32 (a forwarded TCP connection) | CLI |
//! | 0x11 | [`Frame::StreamData`]: stream u32, bytes | CLI, agent |
//! | 0x12 | [`Frame::StreamClose`]: stream u32 | CLI, agent |

use serde::{Deserialize, Serialize};

use crate::JsonMap;

/// The largest payload of one frame; a reader sends at most this much at once.
pub const MAX_PAYLOAD: usize = 32 * 1024;
/// The largest frame: the payload and a header.
pub const MAX_FRAME: usize = MAX_PAYLOAD + 16;
/// The document of an interactive shell (the default).
pub const SHELL_DOCUMENT: &str = "Bosun-StartInteractiveShell";
/// The document that runs one command interactively (`-p command=...`).
pub const COMMAND_DOCUMENT: &str = "Bosun-StartInteractiveCommand";
/// The document that forwards TCP connections to a port of the node.
pub const PORT_FORWARD_DOCUMENT: &str = "Bosun-StartPortForwardingSession";
/// The exit code a session reports when the server ended it (terminate, timeouts).
pub const EXIT_ENDED_BY_SERVER: i32 = 130;

/// One frame of a session's WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Data(Vec<u8>),
    Resize { rows: u16, cols: u16 },
    Exit(i32),
    Closed(String),
    Open(u32),
    StreamData(u32, Vec<u8>),
    StreamClose(u32),
}

/// Why a message is not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("an empty message is not a frame")]
    Empty,
    #[error("the frame is {0} bytes; the most is {MAX_FRAME}")]
    TooLarge(usize),
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownKind(u8),
    #[error("a frame of kind 0x{kind:02x} needs {needed} bytes after the kind byte, it has {got}")]
    Truncated { kind: u8, needed: usize, got: usize },
    #[error("a closing reason is not UTF-8")]
    NotText,
}

fn fixed<const N: usize>(kind: u8, rest: &[u8]) -> Result<[u8; N], FrameError> {
    if rest.len() != N {
        return Err(FrameError::Truncated { kind, needed: N, got: rest.len() });
    }
    let mut out = [0u8; N];
    out.copy_from_slice(rest);
    Ok(out)
}

fn stream_header(kind: u8, rest: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    if rest.len() < 4 {
        return Err(FrameError::Truncated { kind, needed: 4, got: rest.len() });
    }
    let (id, data) = rest.split_at(4);
    Ok((u32::from_be_bytes([id[0], id[1], id[2], id[3]]), data))
}

impl Frame {
    /// Reads one frame from a message's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        if bytes.len() > MAX_FRAME {
            return Err(FrameError::TooLarge(bytes.len()));
        }
        let (&kind, rest) = bytes.split_first().ok_or(FrameError::Empty)?;
        Ok(match kind {
            0x01 => Self::Data(rest.to_vec()),
            0x02 => {
                let b = fixed::<4>(kind, rest)?;
                Self::Resize { rows: u16::from_be_bytes([b[0], b[1]]), cols: u16::from_be_bytes([b[2], b[3]]) }
            }
            0x03 => Self::Exit(i32::from_be_bytes(fixed::<4>(kind, rest)?)),
            0x04 => Self::Closed(String::from_utf8(rest.to_vec()).map_err(|_| FrameError::NotText)?),
            0x10 => Self::Open(u32::from_be_bytes(fixed::<4>(kind, rest)?)),
            0x11 => {
                let (id, data) = stream_header(kind, rest)?;
                Self::StreamData(id, data.to_vec())
            }
            0x12 => Self::StreamClose(u32::from_be_bytes(fixed::<4>(kind, rest)?)),
            other => return Err(FrameError::UnknownKind(other)),
        })
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let with = |kind: u8, parts: &[&[u8]]| {
            let mut out = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
            out.push(kind);
            for part in parts {
                out.extend_from_slice(part);
            }
            out
        };
        match self {
            Self::Data(data) => with(0x01, &[data]),
            Self::Resize { rows, cols } => with(0x02, &[&rows.to_be_bytes(), &cols.to_be_bytes()]),
            Self::Exit(code) => with(0x03, &[&code.to_be_bytes()]),
            Self::Closed(reason) => with(0x04, &[reason.as_bytes()]),
            Self::Open(id) => with(0x10, &[&id.to_be_bytes()]),
            Self::StreamData(id, data) => with(0x11, &[&id.to_be_bytes(), data]),
            Self::StreamClose(id) => with(0x12, &[&id.to_be_bytes()]),
        }
    }
}

/// What a session runs on the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum SessionKind {
    /// The run-as user's login shell in a PTY.
    Shell,
    /// One command line, run by the shell in a PTY.
    Command { command: String },
    /// TCP connections to this port on the node's loopback.
    PortForward { port: u16 },
}

/// `POST /v1/sessions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartSession {
    /// The node id.
    pub target: String,
    /// The session document (default [`SHELL_DOCUMENT`]).
    #[serde(default)]
    pub document: Option<String>,
    /// The document's parameters: `command` for [`COMMAND_DOCUMENT`], `portNumber` for [`PORT_FORWARD_DOCUMENT`].
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: JsonMap,
    /// The terminal's size when the session opens.
    #[serde(default)]
    pub rows: Option<u16>,
    #[serde(default)]
    pub cols: Option<u16>,
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session_id: String,
    pub target: String,
    /// The token that opened it.
    pub owner: String,
    pub document: String,
    /// Connecting, Connected, Terminated or Failed.
    pub status: String,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Why it ended: the shell exited, terminated by a token, idle timeout, ...
    #[serde(default)]
    pub reason: Option<String>,
    /// The user the node ran it as.
    #[serde(default)]
    pub run_as: Option<String>,
    /// Bytes of output recorded, and whether the recording stopped at its cap.
    pub recorded_bytes: u64,
    pub truncated: bool,
}

/// One recorded piece of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TranscriptChunk {
    /// Milliseconds since the session connected.
    pub at_ms: u64,
    /// The bytes, base64.
    pub data: String,
}

/// `GET /v1/sessions/{id}/transcript`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub session: SessionView,
    pub rows: u16,
    pub cols: u16,
    pub chunks: Vec<TranscriptChunk>,
}

/// The server-side preferences of sessions (`/v1/session-preferences`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPreferences {
    /// A session without input or output for this long is ended (1 to 86400).
    pub idle_timeout_seconds: u64,
    /// A session is ended after this long whatever it does (1 to 604800).
    pub max_duration_seconds: u64,
    /// The user shells run as when the agent runs as root.
    pub run_as: String,
    /// Commands the shell runs first (e.g. `cd /srv; export PS1='$ '`); empty for none.
    #[serde(default)]
    pub shell_profile: String,
    /// The most bytes of output recorded per session.
    pub max_recorded_bytes: u64,
}

impl Default for SessionPreferences {
    fn default() -> Self {
        Self {
            idle_timeout_seconds: 20 * 60,
            max_duration_seconds: 24 * 3600,
            run_as: "bosun-session".into(),
            shell_profile: String::new(),
            max_recorded_bytes: 16 * 1024 * 1024,
        }
    }
}

impl SessionPreferences {
    /// The first problem with these preferences, as (field, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=86_400).contains(&self.idle_timeout_seconds) {
            return Err(("idleTimeoutSeconds", format!("{} is not between 1 and 86400", self.idle_timeout_seconds)));
        }
        if !(1..=604_800).contains(&self.max_duration_seconds) {
            return Err(("maxDurationSeconds", format!("{} is not between 1 and 604800", self.max_duration_seconds)));
        }
        let user_ok = !self.run_as.is_empty()
            && self.run_as.len() <= 32
            && self.run_as.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && !self.run_as.starts_with('-');
        if !user_ok {
            return Err(("runAs", format!("{:?} is not a user name (1 to 32 letters, digits, _ . -)", self.run_as)));
        }
        if self.shell_profile.len() > 4096 || self.shell_profile.contains('\0') {
            return Err(("shellProfile", "holds at most 4096 bytes and no NUL".into()));
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.max_recorded_bytes) {
            return Err(("maxRecordedBytes", format!("{} is not between 1024 and 1073741824", self.max_recorded_bytes)));
        }
        Ok(())
    }
}

/// A session a node's long poll hands it: connect to
/// `GET /v1/agent/sessions/{sessionId}/stream` and run `kind` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionOffer {
    pub session_id: String,
    pub kind: SessionKind,
    /// Whom to run as when the agent is root (otherwise the agent's own user).
    pub run_as: String,
    #[serde(default)]
    pub shell_profile: String,
    pub rows: u16,
    pub cols: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for frame in [
            Frame::Data(vec![0, 255, 3, b'\n']),
            Frame::Data(Vec::new()),
            Frame::Resize { rows: 40, cols: 132 },
            Frame::Exit(-1),
            Frame::Closed("idle for 600 s".into()),
            Frame::Open(7),
            Frame::StreamData(u32::MAX, vec![1, 2, 3]),
            Frame::StreamClose(1),
        ] {
            assert_eq!(Frame::decode(&frame.encode()), Ok(frame));
        }
    }

    #[test]
    fn malformed_frames_are_refused() {
        assert_eq!(Frame::decode(&[]), Err(FrameError::Empty));
        assert_eq!(Frame::decode(&[0x7f]), Err(FrameError::UnknownKind(0x7f)));
        assert_eq!(Frame::decode(&[0x02, 0, 1]), Err(FrameError::Truncated { kind: 2, needed: 4, got: 2 }));
        assert_eq!(Frame::decode(&[0x03, 0, 0, 0, 0, 0]), Err(FrameError::Truncated { kind: 3, needed: 4, got: 5 }));
        assert_eq!(Frame::decode(&[0x11, 0, 0]), Err(FrameError::Truncated { kind: 0x11, needed: 4, got: 2 }));
        assert_eq!(Frame::decode(&[0x04, 0xff, 0xfe]), Err(FrameError::NotText));
        let big = vec![0x01; MAX_FRAME + 1];
        assert_eq!(Frame::decode(&big), Err(FrameError::TooLarge(MAX_FRAME + 1)));
    }

    #[test]
    fn preferences_are_checked() {
        assert!(SessionPreferences::default().check().is_ok());
        let bad = |f: fn(&mut SessionPreferences)| {
            let mut p = SessionPreferences::default();
            f(&mut p);
            p.check().unwrap_err().0
        };
        assert_eq!(bad(|p| p.idle_timeout_seconds = 0), "idleTimeoutSeconds");
        assert_eq!(bad(|p| p.max_duration_seconds = 10_000_000), "maxDurationSeconds");
        assert_eq!(bad(|p| p.run_as = "root; rm -rf /".into()), "runAs");
        assert_eq!(bad(|p| p.run_as = "-x".into()), "runAs");
        assert_eq!(bad(|p| p.shell_profile = "a\0b".into()), "shellProfile");
        assert_eq!(bad(|p| p.max_recorded_bytes = 1), "maxRecordedBytes");
    }
}
