//! A terminal for the session tests: runs `bosun session start` in a PTY of its
//! own (the CLI sees a real terminal: raw mode, window size, SIGWINCH), keeps
//! everything the CLI shows, types keys and resizes the window.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fleet::FleetServer;
use crate::support::{bosun_path, poll};

const LIMIT: Duration = Duration::from_secs(60);

pub struct Terminal {
    pty: Arc<pty_process::blocking::Pty>,
    child: std::process::Child,
    shown: Arc<Mutex<Vec<u8>>>,
    /// Whether the reader thread drains the PTY (off: the CLI's output backs up).
    pub reading: Arc<std::sync::atomic::AtomicBool>,
    /// Set when the reader has read everything (the CLI's end of the PTY closed).
    drained: Arc<std::sync::atomic::AtomicBool>,
}

impl Terminal {
    /// `bosun ARGS...` against `server` as `token`, in a `rows`×`cols` terminal.
    pub fn start(server: &FleetServer, token: &str, args: &[&str], rows: u16, cols: u16) -> Self {
        let (pty, pts) = pty_process::blocking::open().unwrap();
        pty.resize(pty_process::Size::new(rows, cols)).unwrap();
        let child = pty_process::blocking::Command::new(bosun_path())
            .args(args)
            .env_remove("BOSUN_DATA_DIR")
            .env_remove("RUST_LOG")
            .env("BOSUN_ENDPOINT", &server.url)
            .env("BOSUN_TOKEN", token)
            .spawn(pts)
            .unwrap();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let reading = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let pty = Arc::new(pty);
        let reader = pty.clone();
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (sink, on, done) = (shown.clone(), reading.clone(), drained.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            loop {
                if !on.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                match (&*reader).read(&mut buffer) {
                    Ok(0) | Err(_) => return done.store(true, std::sync::atomic::Ordering::Relaxed),
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buffer[..n]),
                }
            }
        });
        Terminal { pty, child, shown, reading, drained }
    }

    /// Everything shown so far.
    pub fn shown(&self) -> Vec<u8> {
        self.shown.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.shown()).into_owned()
    }

    /// Waits until the terminal shows `needle`.
    #[track_caller]
    pub fn expect(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if self.text().contains(needle) {
                return;
            }
            assert!(!exited, "the CLI exited before showing {needle:?}:\n{}", self.text());
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {needle:?}; the terminal shows:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the remote side has shown something after the CLI's banner line
    /// (the CLI is in raw mode then: what is typed goes to the node, unechoed here).
    #[track_caller]
    pub fn wait_for_remote(&mut self) {
        self.expect("(run as ");
        poll("the remote side to show something", LIMIT, || {
            let text = self.text();
            let banner = text.find("(run as ")?;
            let after = &text[banner..];
            (after.find("\r\n").is_some_and(|end| after.len() > end + 2)).then_some(())
        });
    }

    pub fn type_bytes(&mut self, bytes: &[u8]) {
        (&*self.pty).write_all(bytes).unwrap();
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.pty.resize(pty_process::Size::new(rows, cols)).unwrap();
    }

    /// Waits for the CLI to exit and everything it showed to be read; its exit code.
    #[track_caller]
    pub fn wait(&mut self) -> i32 {
        let status = poll("the CLI to exit", LIMIT, || self.child.try_wait().ok().flatten());
        poll("the terminal's last output", LIMIT, || self.drained.load(std::sync::atomic::Ordering::Relaxed).then_some(()));
        status.code().unwrap_or(-1)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
