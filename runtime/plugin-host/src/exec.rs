//! `exec`: runs a granted program with allowed arguments, on nodes only, with
//! an empty environment, bounded output, and killed at the call's deadline.

use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::bindings::{ExecRequest, ExecResult, GuestError};
use crate::capabilities::Denial;
use crate::services::HostKind;
use crate::state::CallState;

pub async fn run(state: &mut CallState, request: ExecRequest) -> Result<ExecResult, GuestError> {
    if state.services.kind != HostKind::Node {
        let denial = Denial {
            capability: "exec",
            message: format!("exec of {} denied: programs run only on nodes, and this host is the control plane", request.program),
        };
        return Err(GuestError::Denied(state.deny(denial)));
    }
    if let Err(denial) = state.caps.check_exec(&request.program, &request.args) {
        return Err(GuestError::Denied(state.deny(denial)));
    }
    if request.args.iter().any(|a| a.contains('\0')) {
        return Err(GuestError::InvalidInput("an argument contains a NUL byte".into()));
    }
    let mut child = Command::new(&request.program)
        .args(&request.args)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| GuestError::Failed(format!("cannot start {}: {e}", request.program)))?;
    let limit = state.services.max_transfer_bytes;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let input = request.stdin;
    let work = async move {
        let feed = async move {
            // A program that does not read its input closes the pipe; that is not an error.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let (_, out, err, status) = tokio::join!(feed, read_capped(stdout, limit), read_capped(stderr, limit), child.wait());
        (out, err, status)
    };
    let remaining = state.deadline.saturating_duration_since(Instant::now());
    let (stdout, stderr, status) = tokio::time::timeout(remaining, work)
        .await
        .map_err(|_| GuestError::TimedOut(format!("{} was still running at the call's deadline and was killed", request.program)))?;
    let status = status.map_err(|e| GuestError::Failed(format!("waiting for {}: {e}", request.program)))?;
    let (stdout, stderr) = (stdout.map_err(GuestError::Failed)?, stderr.map_err(GuestError::Failed)?);
    Ok(ExecResult { exit_code: status.code().unwrap_or(-1), stdout, stderr })
}

async fn read_capped(mut stream: impl AsyncRead + Unpin, limit: usize) -> Result<Vec<u8>, String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| format!("reading the program's output: {e}"))?;
        if n == 0 {
            return Ok(buffer);
        }
        if buffer.len() + n > limit {
            return Err(format!("the program wrote more than {limit} bytes to one stream"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}
