//! The moto fixture: an EC2-compatible API (moto in server mode) on a loopback
//! port, one per test binary. moto is installed once into a virtual
//! environment under the target directory (with a file lock, so concurrent
//! test processes do not race), and the server stops when the tests end (its
//! stdin closes).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The moto release the tests were written against.
pub const MOTO_VERSION: &str = "5.1.22";

pub struct Moto {
    pub url: String,
    // Kept so its stdin stays open while the tests run.
    _child: Mutex<Child>,
}

/// The moto server of this test process, started on first use.
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{MOTO_VERSION}"))
}

fn python() -> &'static str {
    ["python3.11", "python3"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success()))
        .expect("the cloud tests need python3 (3.9 or later) to run moto")
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot {what}: {e}"));
    assert!(
        output.status.success(),
        "cannot {what}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Installs moto into the virtual environment unless it is there; returns its python.
fn install() -> PathBuf {
    let dir = venv_dir();
    let venv_python = dir.join("bin/python");
    let done = dir.join(".installed");
    if done.exists() {
        return venv_python;
    }
    std::fs::create_dir_all(dir.parent().expect("the venv has a parent")).expect("cannot create the target's tmp directory");
    let lock_path = dir.with_extension("lock");
    let lock = std::fs::File::create(&lock_path).unwrap_or_else(|e| panic!("cannot create {}: {e}", lock_path.display()));
    lock.lock().expect("cannot lock the moto install");
    if !done.exists() {
        run(Command::new(python()).args(["-m", "venv"]).arg(&dir), "create a python virtual environment for moto");
        run(
            Command::new(&venv_python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("moto[server]=={MOTO_VERSION}"),
            ]),
            "install moto with pip",
        );
        std::fs::write(&done, MOTO_VERSION).expect("cannot mark the moto install done");
    }
    venv_python
}

fn start() -> Moto {
    let python = install();
    let script = super::super::support::fixture("moto_server.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start moto: {e}"));
    let stdout = child.stdout.take().expect("moto's stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("cannot read moto's port");
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("moto did not print its port: {line:?}"));
    Moto { url: format!("http://127.0.0.1:{port}"), _child: Mutex::new(child) }
}

impl Moto {
    /// Calls an EC2 or Auto Scaling Query API directly (moto does not check
    /// signatures; the scope in the header names the service) and returns the XML.
    pub fn call(&self, service: &str, form: &[(&str, &str)]) -> String {
        let version = if service == "ec2" { "2016-11-15" } else { "2011-01-01" };
        let mut fields = vec![("Version", version)];
        fields.extend_from_slice(form);
        let auth =
            format!("AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0");
        let response = reqwest::blocking::Client::new()
            .post(&self.url)
            .header("authorization", auth)
            .form(&fields)
            .send()
            .unwrap_or_else(|e| panic!("cannot call moto: {e}"));
        response.text().expect("moto's answer is text")
    }
}

/// The text of every `<name>` element of an XML answer, in order.
pub fn texts(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close).map(|(text, _)| text.to_string())).collect()
}
