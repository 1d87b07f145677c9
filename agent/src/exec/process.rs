//! One child process in its own process group: output captured concurrently and
//! capped, a time limit and a cancel signal that kill the whole group (SIGTERM,
//! then SIGKILL), so the children a script started die with it.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::output::Capped;

/// How long a group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long output is still read after the process ended, for children that keep
/// its pipes open (a daemon the script started); then reading stops.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Added to the agent's environment.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// Bytes kept of each of stdout and stderr.
    pub max_output: usize,
    /// Where to note the process group while it runs, so that a restarted agent
    /// can kill what an agent killed with SIGKILL left behind ([`kill_leftover`]).
    pub group_file: Option<PathBuf>,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    /// Killed by a signal the agent did not send.
    Signalled(i32),
    /// Ran past its time limit; the group was killed.
    TimedOut,
    /// Cancelled; the group was killed.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
}

/// Kills the process group when dropped while armed: a run abandoned half way
/// (the agent shutting down) leaves no process behind.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.0 {
            // ESRCH (the group is gone already) is the expected outcome at times.
            let _ = killpg(pgid, signal);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

/// Runs `spec` to its end, its time limit or `cancel`, whichever comes first.
pub async fn run(spec: Spec, cancel: &CancellationToken) -> std::io::Result<Finished> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn()?;
    let mut guard = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw));
    if let (Some(path), Some(pgid)) = (&spec.group_file, guard.0) {
        let mark = start_time(pgid.as_raw()).map(|t| format!("{} {t}\n", pgid.as_raw()));
        if let Some(Err(e)) = mark.map(|m| std::fs::write(path, m)) {
            tracing::warn!(file = %path.display(), "cannot note the process group: {e}");
        }
    }
    let stdout = Reader::start(child.stdout.take(), spec.max_output);
    let stderr = Reader::start(child.stderr.take(), spec.max_output);

    let ending = tokio::select! {
        status = child.wait() => Some(ending_of(status?)),
        () = tokio::time::sleep(spec.timeout) => None,
        () = cancel.cancelled() => Some(Ending::Cancelled),
    };
    let ending = match ending {
        Some(Ending::Cancelled) => {
            terminate(&guard, &mut child).await;
            Ending::Cancelled
        }
        None => {
            terminate(&guard, &mut child).await;
            Ending::TimedOut
        }
        Some(ending) => {
            // A normal end: what the script left running in the background stays.
            guard.disarm();
            ending
        }
    };
    let (stdout, stderr) = tokio::join!(stdout.finish(), stderr.finish());
    if let Some(path) = &spec.group_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(Finished { ending, stdout, stderr })
}

/// The start time of a process (clock ticks since boot), which tells it apart from
/// a later process that got the same id.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (in parentheses, maybe with spaces): state is
    // field 3, starttime field 22.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// Kills the process group noted in `group_file` if its leader still runs (same
/// id, same start time), and removes the file. True when a group was killed.
pub fn kill_leftover(group_file: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(group_file) else { return false };
    let _ = std::fs::remove_file(group_file);
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(pgid)), Some(Ok(started))) = (fields.next(), fields.next()) else { return false };
    let Ok(pgid) = i32::try_from(pgid) else { return false };
    if pgid <= 1 || start_time(pgid) != Some(started) {
        return false;
    }
    killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok()
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled(signal),
        (None, None) => Ending::Signalled(0),
    }
}

/// SIGTERM to the group; SIGKILL to it after the grace period or once the leader
/// is gone (for children that ignored SIGTERM); then reaps the leader.
async fn terminate(guard: &GroupGuard, child: &mut tokio::process::Child) {
    guard.signal(Signal::SIGTERM);
    let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
    guard.signal(Signal::SIGKILL);
    let _ = child.wait().await;
}

/// Reads one pipe into a capped buffer on its own task.
struct Reader {
    buffer: Arc<Mutex<Capped>>,
    task: Option<JoinHandle<()>>,
}

impl Reader {
    fn start(pipe: Option<impl AsyncRead + Unpin + Send + 'static>, limit: usize) -> Self {
        let buffer = Arc::new(Mutex::new(Capped::new(limit)));
        let task = pipe.map(|mut pipe| {
            let buffer = Arc::clone(&buffer);
            tokio::spawn(async move {
                let mut chunk = vec![0u8; 16 * 1024];
                while let Ok(n) = pipe.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    buffer.lock().unwrap_or_else(|e| e.into_inner()).push(&chunk[..n]);
                }
            })
        });
        Self { buffer, task }
    }

    /// Waits a little for the pipe to close, then takes what was read.
    async fn finish(mut self) -> String {
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(DRAIN_AFTER_EXIT, &mut task).await.is_err()
        {
            task.abort();
        }
        let capped = std::mem::replace(&mut *self.buffer.lock().unwrap_or_else(|e| e.into_inner()), Capped::new(0));
        capped.into_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Spec {
        Spec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: vec![("GREETING".into(), "hi".into())],
            timeout,
            max_output: 1 << 20,
            group_file: None,
        }
    }

    #[tokio::test]
    async fn captures_both_streams_and_the_exit_code() {
        let done = run(sh("echo out $GREETING; echo err >&2; exit 3", Duration::from_secs(60)), &CancellationToken::new()).await.unwrap();
        assert_eq!(done.ending, Ending::Exited(3));
        assert_eq!(done.stdout, "out hi\n");
        assert_eq!(done.stderr, "err\n");
    }

    #[tokio::test]
    async fn a_signal_is_reported() {
        let done = run(sh("kill -9 $$", Duration::from_secs(60)), &CancellationToken::new()).await.unwrap();
        assert_eq!(done.ending, Ending::Signalled(9));
    }

    #[tokio::test]
    async fn a_group_left_behind_is_killed_by_its_note() {
        let dir = tempfile::tempdir().unwrap();
        let note = dir.path().join("step.pid");
        let marker = dir.path().join("started");
        let mut spec = sh(&format!("sleep 300 & touch {}; wait", marker.display()), Duration::from_secs(600));
        spec.group_file = Some(note.clone());
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let running = tokio::spawn(async move { run(spec, &cancel).await });
        super::super::testutil::wait_for(|| marker.exists() && note.exists()).await;
        let pgid: u32 = std::fs::read_to_string(&note).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        // As after an agent killed with SIGKILL: the note is there and the group runs.
        let copy = dir.path().join("copy.pid");
        std::fs::copy(&note, &copy).unwrap();
        assert!(kill_leftover(&copy));
        super::super::testutil::wait_for(|| super::super::testutil::process_gone(pgid)).await;
        assert!(!copy.exists());
        assert!(!kill_leftover(&copy), "no note, nothing to kill");
        stop.cancel();
        let done = running.await.unwrap().unwrap();
        assert_ne!(done.ending, Ending::Exited(0));
        assert!(!note.exists(), "the note goes when the process ends");
    }

    #[test]
    fn a_stale_note_kills_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let note = dir.path().join("old.pid");
        std::fs::write(&note, format!("{} 1\n", std::process::id())).unwrap();
        assert!(!kill_leftover(&note), "same id, other start time: another process");
        std::fs::write(&note, "garbage").unwrap();
        assert!(!kill_leftover(&note));
    }

    #[tokio::test]
    async fn cancel_kills_the_group() {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("started");
        let script = format!("touch {}; sleep 60", marker.display());
        let waiter = tokio::spawn(async move { run(sh(&script, Duration::from_secs(600)), &cancel).await });
        super::super::testutil::wait_for(|| marker.exists()).await;
        trigger.cancel();
        let done = waiter.await.unwrap().unwrap();
        assert_eq!(done.ending, Ending::Cancelled);
    }
}
