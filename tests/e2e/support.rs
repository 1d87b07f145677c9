//! Helpers for the end-to-end tests: running `bosun`, a `bosun dev` process
//! that is killed when dropped, and polling with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn bosun_path() -> &'static str {
    env!("CARGO_BIN_EXE_bosun")
}

/// The root of the repository.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/e2e/fixtures").join(name)
}

/// The result of one `bosun` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

fn command(args: &[&str], dir: Option<&Path>) -> Command {
    let mut cmd = Command::new(bosun_path());
    cmd.args(args).env_remove("BOSUN_DATA_DIR").env_remove("RUST_LOG");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `bosun ARGS...` to completion.
pub fn bosun(args: &[&str]) -> Run {
    finish(command(args, None).output().unwrap_or_else(|e| panic!("cannot run bosun: {e}")))
}

/// Runs `bosun ARGS...` in a directory (so relative paths in messages are short).
pub fn bosun_in(dir: &Path, args: &[&str]) -> Run {
    finish(command(args, Some(dir)).output().unwrap_or_else(|e| panic!("cannot run bosun: {e}")))
}

/// Polls `check` until it gives a value, failing after `limit`.
#[track_caller]
pub fn poll<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `bosun dev`; killed (SIGKILL) when dropped.
pub struct Dev {
    child: Child,
    pub log: PathBuf,
}

impl Dev {
    pub fn start(data_dir: &Path) -> Self {
        let log = unique(data_dir.with_extension("dev"));
        let out = log.with_extension("out");
        let create = |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
        let data = data_dir.to_str().unwrap_or_default();
        let child = command(&["dev", "--data-dir", data, "--listen", "127.0.0.1:0"], None)
            .stdin(Stdio::null())
            .stdout(create(&out))
            .stderr(create(&log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start bosun dev: {e}"));
        let mut dev = Dev { child, log };
        // Ready once it has printed how to use it (after taking the lock and resuming).
        poll("bosun dev to start", Duration::from_secs(60), || {
            if let Ok(Some(status)) = dev.child.try_wait() {
                panic!("bosun dev exited with {status}:\n{}", dev.log_text());
            }
            std::fs::read_to_string(&out).ok().filter(|t| t.contains("Press Ctrl-C")).map(|_| ())
        });
        dev
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ctrl-C (SIGINT); the exit code once it has stopped.
    pub fn interrupt(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let status = poll("bosun dev to stop", Duration::from_secs(30), || self.child.try_wait().ok().flatten());
        status.code().unwrap_or(-1)
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = path.with_extension(format!("{n}.log"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bosun automation get ID --output json` on a data directory.
pub fn get(data_dir: &Path, id: &str) -> Value {
    bosun(&["automation", "get", "--data-dir", data_dir.to_str().unwrap_or_default(), id, "--output", "json"]).expect_code(0).json()
}

/// `bosun automation start` of a file; returns the execution id.
pub fn start(data_dir: &Path, file: &Path, params: &[&str]) -> String {
    let mut args = vec!["automation", "start", "--data-dir", data_dir.to_str().unwrap_or_default(), file.to_str().unwrap_or_default()];
    for p in params {
        args.push("-p");
        args.push(p);
    }
    let run = bosun(&args);
    run.expect_code(0);
    run.stdout.trim().to_string()
}

/// Waits until the execution's status is one of `statuses`; returns the execution.
#[track_caller]
pub fn wait_status(data_dir: &Path, id: &str, statuses: &[&str], limit: Duration) -> Value {
    poll(&format!("execution {id} to reach {statuses:?}"), limit, || {
        let execution = get(data_dir, id);
        statuses.contains(&execution["status"].as_str().unwrap_or_default()).then_some(execution)
    })
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}
