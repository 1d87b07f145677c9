//! Plugin steps: an action an installed plugin implements (`bosun:readFile`,
//! `plugin:NAME[@VERSION]`), run in the agent's own plugin host. The server
//! names the plugin version it checked the step against (`Assignment.plugins`);
//! the agent fetches that version once per sha256 — the component and the
//! artifact the server precompiled for this agent's engine — checks the hash,
//! keeps both under `<state-dir>/plugins/`, and asks the server for the
//! operator's grants at every step, so a revoked grant applies at once. The
//! host has no compiler: it loads precompiled artifacts only. A step's relative
//! URLs reach the control plane's package routes with the node's credential,
//! added by the host, so a plugin fetches packages without ever holding it.
//! `aws:configurePackage` steps of one package run one at a time (`serial.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bosun_document::Step;
use bosun_plugin_host::{CallOutcome, Collector, ControlPlaneLink, Grant, HostConfig, Limits, Plugin, PluginHost, sha256_hex};
use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{PluginArtifact, PluginRef};
use serde_json::{Map, Value};

use super::InvocationCtx;
use super::flow::{Flow, StepOutcome};
use super::params::DocParams;
use super::serial::KeyedLocks;
use crate::client::ControlPlane;

/// The control-plane paths a plugin step reaches with relative URLs, the host adding
/// the node's credential: the packages `aws:configurePackage` installs.
const CONTROL_PLANE_PATHS: &[&str] = &["/v1/agent/packages/"];

/// How many loaded plugin versions (with their grants) are kept, of actions and of collectors each.
const LOADED_KEPT: usize = 64;

/// A plugin version's bytes and settings, ready to load.
struct Fetched {
    host: Arc<PluginHost>,
    wasm: Vec<u8>,
    /// Names the bytes, grants and limits together.
    key: String,
    grants: Vec<Grant>,
    limits: Option<Limits>,
}

/// Keeps a loaded plugin under `key` (at most [`LOADED_KEPT`]) and returns it.
fn keep<T>(kept: &Mutex<HashMap<String, Arc<T>>>, key: String, loaded: Arc<T>) -> Arc<T> {
    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() >= LOADED_KEPT {
        kept.clear();
    }
    kept.insert(key, loaded.clone());
    loaded
}

/// Where a node gets its plugins from.
#[derive(Debug, Clone)]
pub struct PluginAccess {
    pub runner: Arc<PluginRunner>,
    pub control: ControlPlane,
    pub credential: String,
}

/// The plugin host every node of this process shares, created at the first plugin step.
pub struct PluginRunner {
    dir: PathBuf,
    host: tokio::sync::OnceCell<Result<Arc<PluginHost>, String>>,
    /// Held while fetching and storing a component, so two steps never write one file at once.
    fetching: tokio::sync::Mutex<()>,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    collectors: Mutex<HashMap<String, Arc<Collector>>>,
    /// Held by steps that must not overlap (`aws:configurePackage` of one package).
    serial: KeyedLocks,
}

impl std::fmt::Debug for PluginRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRunner").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl PluginRunner {
    /// A runner keeping components and artifacts under `dir` (`<state-dir>/plugins`).
    pub fn new(dir: PathBuf) -> PluginRunner {
        PluginRunner {
            dir,
            host: tokio::sync::OnceCell::new(),
            fetching: tokio::sync::Mutex::new(()),
            loaded: Mutex::new(HashMap::new()),
            collectors: Mutex::new(HashMap::new()),
            serial: KeyedLocks::default(),
        }
    }

    async fn host(&self) -> Result<Arc<PluginHost>, String> {
        self.host
            .get_or_init(|| async {
                let config = HostConfig { cache_dir: Some(self.dir.clone()), ..HostConfig::node() };
                PluginHost::new(config).map(Arc::new).map_err(|e| format!("cannot start the plugin host: {e}"))
            })
            .await
            .clone()
    }

    fn component_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("components").join(format!("{sha256}.wasm"))
    }

    /// The plugin version `wanted` names, loaded with the grants the server holds now.
    pub async fn plugin(&self, access: &PluginAccess, wanted: &PluginRef) -> Result<(Arc<PluginHost>, Arc<Plugin>), String> {
        let fetched = self.fetched(access, wanted).await?;
        if let Some(plugin) = self.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(&fetched.key) {
            return Ok((fetched.host, plugin.clone()));
        }
        let plugin = fetched
            .host
            .load(&fetched.wasm, fetched.grants, fetched.limits)
            .await
            .map_err(|e| format!("plugin {}@{} cannot be loaded: {e}", wanted.name, wanted.version))?;
        Ok((fetched.host, keep(&self.loaded, fetched.key, Arc::new(plugin))))
    }

    /// The inventory collector `wanted` names, loaded with the grants the server holds now.
    pub async fn collector(&self, access: &PluginAccess, wanted: &PluginRef) -> Result<(Arc<PluginHost>, Arc<Collector>), String> {
        let fetched = self.fetched(access, wanted).await?;
        if let Some(collector) = self.collectors.lock().unwrap_or_else(|e| e.into_inner()).get(&fetched.key) {
            return Ok((fetched.host, collector.clone()));
        }
        let collector = fetched
            .host
            .load_collector(&fetched.wasm, fetched.grants, fetched.limits)
            .await
            .map_err(|e| format!("collector {}@{} cannot be loaded: {e}", wanted.name, wanted.version))?;
        Ok((fetched.host, keep(&self.collectors, fetched.key, Arc::new(collector))))
    }

    /// The component of `wanted` with the grants and limits the server holds now.
    async fn fetched(&self, access: &PluginAccess, wanted: &PluginRef) -> Result<Fetched, String> {
        if wanted.sha256.len() != 64 || !wanted.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("the server named plugin {}@{} with an invalid sha256", wanted.name, wanted.version));
        }
        let host = self.host().await?;
        let (wasm, answer) = self.fetch(access, &host, wanted).await?;
        let key = format!("{}\n{:?}\n{:?}", wanted.sha256, answer.grants, answer.limits);
        let grants = answer
            .grants
            .iter()
            .map(|g| Grant::parse(g).map_err(|e| format!("grant \"{g}\" of {}: {e}", wanted.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let limits = answer
            .limits
            .map(|l| serde_json::from_value::<Limits>(l).map_err(|e| format!("limits of {}: {e}", wanted.name)))
            .transpose()?;
        Ok(Fetched { host, wasm, key, grants, limits })
    }

    /// The component's bytes (fetched with the artifact the first time) and the server's answer.
    /// The agent names its engine by wasmtime version and target (the runtime-only key, even
    /// in a build where feature unification gave the host a compiler): the engine settings
    /// are the same on both sides by construction ([`HostConfig::node`]).
    async fn fetch(&self, access: &PluginAccess, host: &PluginHost, wanted: &PluginRef) -> Result<(Vec<u8>, PluginArtifact), String> {
        let _writing = self.fetching.lock().await;
        let path = self.component_path(&wanted.sha256);
        let have = host.has_artifact(&wanted.sha256) && path.is_file();
        let answer = access
            .control
            .plugin_artifact(&access.credential, &wanted.name, &wanted.version, &bosun_plugin_host::runtime_engine_key(), !have)
            .await
            .map_err(|e| format!("cannot get plugin {}@{} from the server: {e}", wanted.name, wanted.version))?;
        if answer.sha256 != wanted.sha256 {
            return Err(format!(
                "plugin {}@{} on the server has sha256 {}, not {} as when the command was sent",
                wanted.name, wanted.version, answer.sha256, wanted.sha256
            ));
        }
        let wasm = if have {
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        } else {
            let wasm = STANDARD.decode(&answer.wasm).map_err(|e| format!("the server sent unreadable component bytes: {e}"))?;
            let artifact = STANDARD.decode(&answer.artifact).map_err(|e| format!("the server sent an unreadable artifact: {e}"))?;
            if sha256_hex(&wasm) != wanted.sha256 {
                return Err(format!("the component the server sent for {}@{} does not match its sha256", wanted.name, wanted.version));
            }
            host.store_artifact(&wanted.sha256, &artifact).map_err(|e| format!("cannot keep the plugin's artifact: {e}"))?;
            if let Some(parent) = path.parent() {
                crate::fsutil::private_dir(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            crate::fsutil::write_private(&path, &wasm, false).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            wasm
        };
        if sha256_hex(&wasm) != wanted.sha256 {
            let _ = std::fs::remove_file(&path);
            return Err(format!("{} does not match its sha256 (removed; the next step fetches it again)", path.display()));
        }
        Ok((wasm, answer))
    }
}

/// The plugin that runs `action` in this assignment, if the server named one.
pub fn plugin_for<'a>(ctx: &'a InvocationCtx<'_>, action: &str) -> Option<&'a PluginRef> {
    ctx.assignment.plugins.iter().find(|p| p.action == action)
}

/// Runs a plugin step.
pub async fn run(ctx: &InvocationCtx<'_>, params: &DocParams, step: &Step, wanted: &PluginRef) -> StepOutcome {
    let Some(access) = &ctx.env.plugins else {
        return StepOutcome::failed(step, format!("this agent has no plugin host to run {} (plugin {})", step.action, wanted.name));
    };
    let inputs = match params.interpolate(&step.inputs) {
        Ok(Value::Object(mut map)) => {
            // An SSM step option, not the plugin's.
            map.remove("finallyStep");
            Value::Object(map)
        }
        Ok(Value::Null) => Value::Object(Map::new()),
        Ok(other) => return StepOutcome::failed(step, format!("the inputs of a plugin step are a map, not {other}")),
        Err(e) => return StepOutcome::failed(step, format!("inputs: {}: {}", e.reference, e.message)),
    };
    match call(ctx, access, step, wanted, &inputs).await {
        Ok((outcome, grants)) => report(step, wanted, outcome, &grants),
        Err(ended) => ended,
    }
}

/// Calls the plugin's action with `inputs`, unless the invocation is cancelled or
/// its deadline passes first; the outcome comes with the grants the plugin had.
/// The error is the step's outcome when the call did not end normally.
pub(super) async fn call(
    ctx: &InvocationCtx<'_>,
    access: &PluginAccess,
    step: &Step,
    wanted: &PluginRef,
    inputs: &Value,
) -> Result<(CallOutcome, Vec<String>), StepOutcome> {
    let work = async {
        // Waiting here counts against the deadline and ends on cancellation, like the call.
        let _serial = match super::serial::key_of(&wanted.plugin_action, inputs) {
            Some(key) => Some(access.runner.serial.lock(&key).await),
            None => None,
        };
        let (host, plugin) = access.runner.plugin(access, wanted).await?;
        let grants: Vec<String> = plugin.grants.iter().map(ToString::to_string).collect();
        let link = ControlPlaneLink::new(access.control.server(), &access.credential, CONTROL_PLANE_PATHS)?;
        Ok::<_, String>((host.call_linked(&plugin, &wanted.plugin_action, inputs, Some(Arc::new(link))).await, grants))
    };
    tokio::select! {
        r = work => r.map_err(|message| StepOutcome::failed(step, message)),
        () = ctx.cancel.cancelled() => Err(StepOutcome::new(step, InvocationStatus::Cancelled, Flow::Cancelled)),
        () = tokio::time::sleep_until(ctx.deadline) => {
            let mut o = StepOutcome::new(step, InvocationStatus::ExecutionTimedOut, Flow::Deadline);
            o.report.message = Some(format!("the command's execution timeout ran out while plugin {} ran", wanted.name));
            Err(o)
        }
    }
}

/// A call's outcome as a step report: the outputs as JSON on stdout, the
/// plugin's log lines and its own output on stderr, denials in the message,
/// with the grants the plugin had (a file outside them is simply not there for it).
pub(super) fn report(step: &Step, wanted: &PluginRef, outcome: CallOutcome, grants: &[String]) -> StepOutcome {
    let mut stderr = String::new();
    for line in &outcome.logs {
        stderr.push_str(&format!("[{}] {}", line.level.as_str(), line.message));
        for (key, value) in &line.fields {
            stderr.push_str(&format!(" {key}={value}"));
        }
        stderr.push('\n');
    }
    if outcome.logs_dropped > 0 {
        stderr.push_str(&format!("({} more log lines were dropped)\n", outcome.logs_dropped));
    }
    stderr.push_str(&outcome.stderr);
    match outcome.result {
        Ok(outputs) => {
            let mut o = StepOutcome::new(step, InvocationStatus::Success, Flow::Next);
            o.report.stdout = format!("{}\n{}", Value::Object(outputs), outcome.stdout);
            o.report.stderr = stderr;
            o
        }
        Err(error) => {
            let mut message = format!("plugin {}@{}: {error}", wanted.name, wanted.version);
            for denial in &outcome.denials {
                if !message.contains(&denial.message) {
                    message.push_str(&format!("; denied ({}): {}", denial.capability, denial.message));
                }
            }
            if grants.is_empty() {
                message.push_str(" (the plugin is granted nothing on this node: `bosun plugin grant`)");
            } else {
                message.push_str(&format!(" (the plugin is granted {})", grants.join(", ")));
            }
            let mut o = StepOutcome::failed(step, message.clone());
            o.report.stdout = outcome.stdout;
            o.report.stderr = if stderr.is_empty() { message } else { format!("{stderr}{message}") };
            o
        }
    }
}

#[cfg(test)]
mod tests {
    use bosun_plugin_host::{CallError, Denial, LogLevel, LogLine};
    use serde_json::json;

    use super::*;
    use crate::testserver::{FakeServer, Reply};

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn wanted() -> PluginRef {
        PluginRef {
            action: "bosun:readFile".into(),
            plugin_action: "bosun:readFile".into(),
            name: "read-file".into(),
            version: "0.1.0".into(),
            sha256: SHA.into(),
        }
    }

    fn access(server: &FakeServer, dir: &std::path::Path) -> PluginAccess {
        PluginAccess {
            runner: Arc::new(PluginRunner::new(dir.join("plugins"))),
            control: ControlPlane::new(reqwest::Client::new(), &server.url).unwrap(),
            credential: "cred-1".into(),
        }
    }

    fn step() -> Step {
        let text = "schemaVersion: '2.2'\nmainSteps:\n- {name: Read, action: 'bosun:readFile', inputs: {Path: /x}}\n";
        let loaded = bosun_document::load("d.yaml", text, &bosun_document::actions::StructureOnly);
        loaded.document.unwrap().main_steps.remove(0)
    }

    fn outcome(result: Result<Map<String, Value>, CallError>) -> CallOutcome {
        CallOutcome {
            result,
            logs: vec![LogLine { level: LogLevel::Info, message: "read file".into(), fields: vec![("size".into(), "5".into())] }],
            logs_dropped: 0,
            denials: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            wall: std::time::Duration::ZERO,
            peak_memory_bytes: 0,
        }
    }

    #[tokio::test]
    async fn the_component_is_checked_against_the_sha256_the_server_named() {
        let answer = json!({
            "name": "read-file", "version": "0.1.0", "sha256": SHA, "wasm": STANDARD.encode(b"not the component"),
            "artifact": STANDARD.encode(b"x"), "engineKey": bosun_plugin_host::runtime_engine_key(), "grants": [],
        });
        let server = FakeServer::start(move |_, _| Reply::Json(200, answer.to_string())).await;
        let dir = tempfile::tempdir().unwrap();
        let access = access(&server, dir.path());
        let error = access.runner.plugin(&access, &wanted()).await.err().unwrap();
        assert!(error.contains("does not match its sha256"), "{error}");
        let seen = server.seen();
        assert_eq!(seen[0].authorization.as_deref(), Some("Bearer cred-1"));
        let key = bosun_plugin_host::runtime_engine_key();
        assert_eq!(seen[0].path, format!("/v1/agent/plugins/read-file/0.1.0?engineKey={key}&bytes=true"));
        assert!(!dir.path().join(format!("plugins/components/{SHA}.wasm")).exists(), "nothing unchecked is kept");
    }

    #[tokio::test]
    async fn a_refusal_names_the_plugin_and_the_servers_reason() {
        let server = FakeServer::start(|_, _| {
            Reply::Json(409, json!({"error": "engine_mismatch", "message": "this server compiles for another engine"}).to_string())
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let access = access(&server, dir.path());
        let error = access.runner.plugin(&access, &wanted()).await.err().unwrap();
        assert!(error.contains("read-file@0.1.0") && error.contains("409") && error.contains("another engine"), "{error}");
        // Another version on the server than the one the command was checked against.
        let other = json!({"name": "read-file", "version": "0.1.0", "sha256": "f".repeat(64), "engineKey": "k", "grants": []});
        let server = FakeServer::start(move |_, _| Reply::Json(200, other.to_string())).await;
        let access = self::access(&server, dir.path());
        let error = access.runner.plugin(&access, &wanted()).await.err().unwrap();
        assert!(error.contains("not 0123") && error.contains("as when the command was sent"), "{error}");
        let bad = PluginRef { sha256: "../../etc".into(), ..wanted() };
        assert!(access.runner.plugin(&access, &bad).await.err().unwrap().contains("invalid sha256"));
    }

    #[test]
    fn outcomes_become_step_reports() {
        let outputs = json!({"Content": "hello"}).as_object().cloned().unwrap();
        let done = report(&step(), &wanted(), outcome(Ok(outputs)), &[]);
        assert_eq!(done.report.status, InvocationStatus::Success);
        assert_eq!(done.report.stdout, "{\"Content\":\"hello\"}\n");
        assert_eq!(done.report.stderr, "[INFO] read file size=5\n");

        let mut denied = outcome(Err(CallError::Denied("http to evil.example is not granted".into())));
        denied.denials.push(Denial { capability: "http", message: "http to evil.example is not granted".into() });
        let failed = report(&step(), &wanted(), denied, &["fs:ro:/srv".to_string()]);
        assert_eq!(failed.report.status, InvocationStatus::Failed);
        let message = failed.report.message.unwrap();
        assert!(message.starts_with("plugin read-file@0.1.0: denied: http to evil.example"), "{message}");
        assert!(message.ends_with("(the plugin is granted fs:ro:/srv)"), "{message}");

        let trapped = report(&step(), &wanted(), outcome(Err(CallError::Trap("unreachable".into()))), &[]);
        let message = trapped.report.message.unwrap();
        assert!(message.contains("the plugin crashed: unreachable") && message.contains("granted nothing"), "{message}");
    }
}
