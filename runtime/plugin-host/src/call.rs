//! One call of a plugin: a fresh store from the pooling allocator with the
//! call's limits and WASI context, instantiate from `InstancePre`, run, and
//! turn every way it can end into a typed outcome. The host is unaffected by
//! whatever the plugin does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::PluginHost;
use crate::bindings::GuestError;
use crate::capabilities::{Capabilities, Denial};
use crate::control_plane::ControlPlaneLink;
use crate::error::CallError;
use crate::limiter::CallLimiter;
use crate::plugin::Plugin;
use crate::state::{CallState, LogLine};
use bosun_plugin_manifest::Limits;

/// What every call of one loaded plugin, action or collector, is sandboxed with.
#[derive(Clone, Copy)]
pub(crate) struct Sandbox<'a> {
    pub name: &'a Arc<str>,
    pub caps: &'a Arc<Capabilities>,
    pub limits: &'a Limits,
}

/// What the plugin wrote to stderr (a panic message, say) is kept up to this size.
const STDERR_CAPTURE: usize = 64 << 10;
/// The most validation errors an invalid-input failure lists.
const MAX_SCHEMA_ERRORS: usize = 10;

/// Everything a call produced, whether it succeeded or not: an action's outputs,
/// or a collector's items.
#[derive(Debug)]
pub struct CallOutcome<T = Map<String, Value>> {
    pub result: Result<T, CallError>,
    pub logs: Vec<LogLine>,
    pub logs_dropped: usize,
    pub denials: Vec<Denial>,
    /// What the plugin wrote to stdout and stderr.
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    pub peak_memory_bytes: usize,
}

impl PluginHost {
    /// Runs `action` of `plugin` with `inputs` (a JSON object).
    pub async fn call(&self, plugin: &Plugin, action: &str, inputs: &Value) -> CallOutcome {
        self.call_linked(plugin, action, inputs, None).await
    }

    /// The same, with relative URLs of `http-request` going to the control plane `link` names.
    pub async fn call_linked(&self, plugin: &Plugin, action: &str, inputs: &Value, link: Option<Arc<ControlPlaneLink>>) -> CallOutcome {
        let started = Instant::now();
        let early = |error: CallError| CallOutcome::early(error, started);
        if plugin.manifest.action(action).is_none() {
            return early(CallError::UnknownAction(action.to_string()));
        }
        if let Err(message) = check_inputs(plugin, action, inputs) {
            return early(CallError::InvalidInput(message));
        }
        let _permit = self.slots.acquire().await.expect("the slot semaphore is never closed");
        let (mut store, stdout, stderr) = match self.new_store(plugin.sandbox(), false) {
            Ok(parts) => parts,
            Err(error) => return early(error),
        };
        store.data_mut().link = link;
        let timeout = Duration::from_secs(plugin.limits.timeout_seconds.into());
        let inputs_json = inputs.to_string();
        let run = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            instance.bosun_plugin_action().call_run(&mut store, action, &inputs_json).await
        };
        let ran = tokio::time::timeout(timeout, run).await;
        finish(started, timeout, ran, store, &stdout, &stderr, |outputs, state| {
            collect_outputs(&outputs, &mut state.outputs, state.output_limit)
        })
    }

    /// The actions the component says it implements.
    pub(crate) async fn implemented_actions(&self, plugin: &Plugin) -> Result<Vec<String>, CallError> {
        let _permit = self.slots.acquire().await.expect("the slot semaphore is never closed");
        let (mut store, _, stderr) = self.new_store(plugin.sandbox(), false)?;
        let timeout = Duration::from_secs(plugin.limits.timeout_seconds.into());
        let probe = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            instance.bosun_plugin_action().call_actions(&mut store).await
        };
        match tokio::time::timeout(timeout, probe).await {
            Err(_) => Err(CallError::TimedOut("listing its actions took longer than its deadline".into())),
            Ok(Err(trap)) => {
                let stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
                Err(trap_error(store.data(), &trap, &stderr))
            }
            Ok(Ok(actions)) => Ok(actions),
        }
    }

    /// A fresh store for one call. With `skip_missing_read_only`, a granted read-only
    /// directory that does not exist on this host is left out instead of failing the call.
    pub(crate) fn new_store(
        &self,
        sandbox: Sandbox<'_>,
        skip_missing_read_only: bool,
    ) -> Result<(Store<CallState>, MemoryOutputPipe, MemoryOutputPipe), CallError> {
        let stdout = MemoryOutputPipe::new(STDERR_CAPTURE);
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut wasi = WasiCtxBuilder::new();
        // Before the preopens: each directory captures the setting when opened.
        wasi.allow_blocking_current_thread(true).stdout(stdout.clone()).stderr(stderr.clone());
        for mount in &sandbox.caps.mounts {
            if skip_missing_read_only && !mount.writable && !std::path::Path::new(&mount.host).is_dir() {
                tracing::debug!(plugin = %sandbox.name, directory = %mount.host, "a granted directory is not on this host; left out");
                continue;
            }
            let perms = if mount.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            wasi.preopened_dir(&mount.host, &mount.guest, perms)
                .map_err(|e| CallError::Failed(format!("the granted directory {} cannot be opened on this host: {e:#}", mount.host)))?;
        }
        for name in &sandbox.caps.env {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        let state = CallState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: CallLimiter::new((sandbox.limits.memory_mib as usize) << 20),
            caps: sandbox.caps.clone(),
            services: self.services.clone(),
            plugin: sandbox.name.clone(),
            outputs: Map::new(),
            output_bytes: 0,
            output_limit: (sandbox.limits.output_kib as usize) << 10,
            logs: Vec::new(),
            logs_dropped: 0,
            denials: Vec::new(),
            deadline: Instant::now() + Duration::from_secs(sandbox.limits.timeout_seconds.into()),
            link: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        if self.fuel {
            store.set_fuel(sandbox.limits.fuel.unwrap_or(u64::MAX)).map_err(|e| CallError::Failed(format!("{e:#}")))?;
        }
        Ok((store, stdout, stderr))
    }
}

impl<T> CallOutcome<T> {
    /// A call that ended before the plugin ran.
    pub(crate) fn early(error: CallError, started: Instant) -> CallOutcome<T> {
        CallOutcome {
            result: Err(error),
            logs: Vec::new(),
            logs_dropped: 0,
            denials: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            wall: started.elapsed(),
            peak_memory_bytes: 0,
        }
    }
}

/// What a guest export answers once instantiated: a trap, or its own result.
type Ran<R> = Result<Result<Result<R, GuestError>, wasmtime::Error>, tokio::time::error::Elapsed>;

/// Turns how a call ended into its outcome; `accept` checks what the guest returned.
pub(crate) fn finish<R, T>(
    started: Instant,
    timeout: Duration,
    ran: Ran<R>,
    store: Store<CallState>,
    stdout: &MemoryOutputPipe,
    stderr: &MemoryOutputPipe,
    accept: impl FnOnce(R, &mut CallState) -> Result<T, CallError>,
) -> CallOutcome<T> {
    let stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
    let mut state = store.into_data();
    let result = match ran {
        Err(_) => Err(CallError::TimedOut(format!("the plugin ran past its {} s deadline and was stopped", timeout.as_secs()))),
        Ok(Err(trap)) => Err(trap_error(&state, &trap, &stderr)),
        Ok(Ok(Err(guest))) => Err(guest_error(guest, &state.denials)),
        Ok(Ok(Ok(returned))) => accept(returned, &mut state),
    };
    CallOutcome {
        result,
        logs: std::mem::take(&mut state.logs),
        logs_dropped: state.logs_dropped,
        denials: std::mem::take(&mut state.denials),
        stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
        stderr,
        wall: started.elapsed(),
        peak_memory_bytes: state.limiter.peak_memory,
    }
}

fn check_inputs(plugin: &Plugin, action: &str, inputs: &Value) -> Result<(), String> {
    if !inputs.is_object() {
        return Err(format!("inputs must be a map, got {inputs}"));
    }
    let Some(validator) = plugin.schemas.get(action) else { return Ok(()) };
    let errors: Vec<String> = validator
        .iter_errors(inputs)
        .take(MAX_SCHEMA_ERRORS)
        .map(|e| {
            let at = e.instance_path.to_string();
            if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

fn trap_error(state: &CallState, trap: &wasmtime::Error, stderr: &str) -> CallError {
    if let Some(asked) = state.limiter.exceeded {
        return CallError::MemoryLimit(format!(
            "memory limit exceeded: the plugin asked for {} MiB, its limit is {} MiB",
            asked.div_ceil(1 << 20),
            state.limiter.memory_limit >> 20
        ));
    }
    if let Some(denial) = state.denials.last() {
        return CallError::Denied(denial.message.clone());
    }
    let what = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => return CallError::TimedOut("the plugin used up its fuel".into()),
        Some(trap) => trap.to_string(),
        None => format!("{trap:#}"),
    };
    let said = last_lines(stderr, 5);
    if said.is_empty() { CallError::Trap(what) } else { CallError::Trap(format!("{what}; it wrote: {said}")) }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

fn guest_error(error: GuestError, denials: &[Denial]) -> CallError {
    match error {
        GuestError::InvalidInput(m) => CallError::InvalidInput(m),
        GuestError::Denied(m) => CallError::Denied(m),
        GuestError::TimedOut(m) => CallError::TimedOut(m),
        // A plugin that turned a denial into its own failure still failed for that reason.
        GuestError::Failed(m) => match denials.last() {
            Some(denial) if !m.contains(&denial.message) => CallError::Denied(format!("{}; the plugin said: {m}", denial.message)),
            Some(_) => CallError::Denied(m),
            None => CallError::Failed(m),
        },
    }
}

fn collect_outputs(returned: &str, set: &mut Map<String, Value>, limit: usize) -> Result<Map<String, Value>, CallError> {
    if returned.len() > limit {
        return Err(CallError::OutputTooLarge { size: returned.len(), limit });
    }
    match serde_json::from_str::<Value>(returned) {
        Ok(Value::Object(map)) => {
            let mut outputs = std::mem::take(set);
            outputs.extend(map);
            Ok(outputs)
        }
        Ok(_) => Err(CallError::Failed("the plugin returned outputs that are not a map".into())),
        Err(e) => Err(CallError::Failed(format!("the plugin returned outputs that are not JSON: {e}"))),
    }
}
