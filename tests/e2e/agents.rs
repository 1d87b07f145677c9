//! Real `bosun-agent` processes for the end-to-end tests: each registers with an
//! activation of its own (tagged `Name=<name>` plus the given tags), so a test
//! finds its node id by that tag; it can be killed with SIGKILL and started again
//! on the same state directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::fleet::{FleetServer, json_of};
use crate::support::{bosun_path, poll};

const LIMIT: Duration = Duration::from_secs(60);

/// The `bosun-agent` binary beside `bosun` (`cargo test --workspace` builds both).
pub fn agent_path() -> PathBuf {
    let path = Path::new(bosun_path()).with_file_name("bosun-agent");
    assert!(path.is_file(), "{} is missing: build it with `cargo build -p bosun-agent` (cargo test --workspace does)", path.display());
    path
}

pub struct Agent {
    child: Option<Child>,
    url: String,
    pub state: PathBuf,
    log: PathBuf,
    flags: Vec<String>,
    pub node_id: String,
}

impl Agent {
    /// Starts an agent on a new state directory under `dir` and waits until its node is registered.
    pub fn start(server: &FleetServer, dir: &Path, name: &str, tags: &[(&str, &str)]) -> Agent {
        Self::start_with(server, dir, name, tags, &[])
    }

    /// The same, with extra `bosun-agent` flags.
    pub fn start_with(server: &FleetServer, dir: &Path, name: &str, tags: &[(&str, &str)], flags: &[&str]) -> Agent {
        let mut all = Map::new();
        all.insert("Name".into(), json!(name));
        for (k, v) in tags {
            all.insert((*k).into(), json!(v));
        }
        let (id, code) = server.activation(&json!({"tags": all}));
        let state = dir.join(name);
        let log = dir.join(format!("{name}.log"));
        let flags = flags.iter().map(|f| f.to_string()).collect();
        let mut agent = Agent { child: None, url: server.url.clone(), state, log, flags, node_id: String::new() };
        agent.spawn(Some((&id, &code)));
        agent.node_id = poll(&format!("agent {name} to register"), LIMIT, || {
            agent.assert_running();
            let nodes = json_of(server.get(&format!("/v1/nodes?tag=Name={name}"), Some(&server.token)), StatusCode::OK);
            nodes.as_array()?.first()?["nodeId"].as_str().map(str::to_string)
        });
        agent
    }

    fn spawn(&mut self, activation: Option<(&str, &str)>) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut command = Command::new(agent_path());
        command
            .args(["--server", &self.url, "--state-dir", self.state.to_str().unwrap(), "--poll-seconds", "20"])
            .args(&self.flags)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some((id, code)) = activation {
            command.args(["--activation-id", id, "--activation-code", code]);
        }
        self.child = Some(command.spawn().unwrap_or_else(|e| panic!("cannot start bosun-agent: {e}")));
    }

    #[track_caller]
    fn assert_running(&mut self) {
        if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
            panic!("bosun-agent exited with {status}:\n{}", self.log_text());
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The agent process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the agent runs").id()
    }

    /// SIGKILL, as a crash or a power cut would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the agent again on its state directory (its identity is there).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn(None);
    }

    /// Waits for the process to exit by itself; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> i32 {
        let child = self.child.as_mut().expect("the agent runs");
        let status = poll("the agent to exit", limit, || child.try_wait().ok().flatten());
        self.child = None;
        status.code().unwrap_or(-1)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends a command through the API; returns its id.
pub fn send(server: &FleetServer, body: &Value) -> String {
    let sent = json_of(server.post("/v1/commands", Some(&server.token), body), StatusCode::CREATED);
    sent["commandId"].as_str().unwrap().to_string()
}

/// A command's full view.
pub fn command(server: &FleetServer, id: &str) -> Value {
    json_of(server.get(&format!("/v1/commands/{id}?full=true"), Some(&server.token)), StatusCode::OK)
}

/// Waits until the command has one of `statuses`; its full view.
#[track_caller]
pub fn wait_command(server: &FleetServer, id: &str, statuses: &[&str]) -> Value {
    poll(&format!("command {id} to reach {statuses:?}"), LIMIT, || {
        let view = command(server, id);
        statuses.contains(&view["status"].as_str()?).then_some(view)
    })
}

/// Waits until some invocation of the command is InProgress.
#[track_caller]
pub fn wait_running(server: &FleetServer, id: &str) -> Value {
    poll(&format!("command {id} to run somewhere"), LIMIT, || {
        let view = command(server, id);
        view["invocations"].as_array()?.iter().find(|i| i["status"] == "InProgress").cloned()
    })
}

/// A send body for AWS-RunShellScript.
pub fn shell(targets: Value, commands: &[&str]) -> Value {
    json!({"documentName": "AWS-RunShellScript", "targets": targets, "parameters": {"commands": commands}})
}

/// `{"key": "InstanceIds", "values": ids}` in a list.
pub fn ids(ids: &[&str]) -> Value {
    json!([{"key": "InstanceIds", "values": ids}])
}

/// The invocation of one node in a command's view.
pub fn invocation<'a>(view: &'a Value, node: &str) -> &'a Value {
    view["invocations"]
        .as_array()
        .and_then(|list| list.iter().find(|i| i["nodeId"] == node))
        .unwrap_or_else(|| panic!("no invocation for {node} in {view}"))
}
