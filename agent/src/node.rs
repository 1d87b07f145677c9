//! One node (the real one, or one virtual node in simulate mode): its identity
//! (registering once if needed), recovery of what was in flight, and the poll
//! loop — heartbeats, long polls with backoff, new assignments, cancels and sessions.
//! A 401 anywhere stops the node with [`AgentError::Deregistered`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{Assignment, Heartbeat, InvocationReport, Platform, Poll, RegisterRequest, ReportAck, Work};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::client::{CallError, ControlPlane, NODE_POOL, http_client};
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::exec::ExecEnv;
use crate::exec::plugin::{PluginAccess, PluginRunner};
use crate::identity::{self, Identity};
use crate::state::{Durability, StateDir, valid_invocation_id};
use crate::{invocation, platform, report};

/// A poll that comes back empty faster than this is followed by a backoff delay,
/// so a server that answers at once (shutting down, misconfigured) is not hammered.
const MIN_EMPTY_POLL: Duration = Duration::from_secs(1);
/// After a failed heartbeat, the next try.
const HEARTBEAT_RETRY: Duration = Duration::from_secs(30);
/// After a poll that brought work, how long the next poll waits for that work to finish
/// and be reported. A quick command's reports then travel on the connection the poll
/// just freed, instead of each node opening a second one (and the server holding it)
/// while its next long poll is open; longer work is polled past after this.
const REPORT_SETTLE: Duration = Duration::from_millis(250);

/// What every node of this process shares.
#[derive(Debug)]
pub struct Shared {
    pub config: AgentConfig,
    pub control: ControlPlane,
    pub processes: Arc<Semaphore>,
    /// Bounds concurrent registrations (simulate mode registers many nodes at once).
    pub registrations: Semaphore,
    /// The plugin host of every node of this process.
    pub plugins: Arc<PluginRunner>,
}

impl Shared {
    /// The connection pool a node calls the server through. A simulated node gets its
    /// own, as a real agent has: a shared pool would hand one node's connection to
    /// another and open connections no real fleet opens.
    pub fn node_control(&self) -> Result<ControlPlane, AgentError> {
        if self.config.simulate == 0 {
            return Ok(self.control.clone());
        }
        ControlPlane::new(http_client(NODE_POOL, self.config.ca_cert.as_deref())?, self.control.server())
    }

    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.config.retry_delays.0, self.config.retry_delays.1)
    }
}

/// Where an invocation this node knows of stands.
#[derive(Debug, Clone)]
enum Active {
    Running(CancellationToken),
    RebootPending,
    Reporting,
}

/// The outcome of delivering a report.
#[derive(Debug)]
pub enum Delivery {
    Acked(ReportAck),
    /// The server refused it for good (a 4xx other than 401); logged.
    Refused,
    /// The node is stopping (shutdown or deregistration); the report stays on disk.
    Stopped,
}

#[derive(Debug)]
pub struct Node {
    pub shared: Arc<Shared>,
    /// This node's connections to the server.
    control: ControlPlane,
    pub identity: Identity,
    pub state: StateDir,
    pub exec: ExecEnv,
    platform: Platform,
    /// Re-read the machine's platform at each heartbeat (not for virtual nodes).
    refresh_platform: bool,
    active: Mutex<HashMap<String, Active>>,
    /// Notified when an invocation stops running or reporting.
    settled: tokio::sync::Notify,
    stop: CancellationToken,
    fatal: Mutex<Option<AgentError>>,
}

/// Runs one node until `shutdown` or a fatal error. In-flight state stays on disk.
pub async fn run_node(
    shared: Arc<Shared>,
    root: PathBuf,
    platform: Platform,
    refresh_platform: bool,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let durability = if shared.config.simulate > 0 { Durability::Unsynced } else { Durability::Synced };
    let state = StateDir::open(&root, durability)?;
    let identity = match identity::load(&root)? {
        Some(identity) => {
            if shared.config.activation.is_some() && shared.config.simulate == 0 {
                tracing::info!(node = %identity.node_id, "already registered; the activation is not used");
            }
            identity
        }
        None => match register(&shared, &root, &platform, &shutdown).await? {
            Some(identity) => identity,
            None => return Ok(()),
        },
    };
    let control = shared.node_control()?;
    let node = Arc::new(Node::new(shared, control, identity, state, platform, refresh_platform, shutdown.child_token()));
    tracing::info!(node = %node.identity.node_id, server = %node.control.server(), "agent started");
    let mut tasks = JoinSet::new();
    invocation::recover(&node, &mut tasks);
    node.poll_loop(&mut tasks).await;
    // Abandons what still runs: process groups are killed, records stay on disk.
    node.stop.cancel();
    tasks.shutdown().await;
    match node.fatal.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(error) => Err(error),
        None => {
            tracing::info!(node = %node.identity.node_id, "agent stopped");
            Ok(())
        }
    }
}

/// Registers with the configured activation and stores the identity. `None` on shutdown.
async fn register(shared: &Shared, root: &Path, platform: &Platform, shutdown: &CancellationToken) -> Result<Option<Identity>, AgentError> {
    let Some(activation) = &shared.config.activation else {
        return Err(AgentError::NotRegistered { state_dir: root.to_path_buf() });
    };
    let _slot = tokio::select! {
        slot = shared.registrations.acquire() => slot,
        () = shutdown.cancelled() => return Ok(None),
    };
    let request =
        RegisterRequest { activation_id: activation.id.clone(), activation_code: activation.code.clone(), platform: platform.clone() };
    let server = shared.control.server().to_string();
    let mut backoff = shared.backoff();
    loop {
        let answer = tokio::select! {
            answer = shared.control.register(&request) => answer,
            () = shutdown.cancelled() => return Ok(None),
        };
        match answer {
            Ok(registered) => {
                let identity = Identity { node_id: registered.node_id, credential: registered.credential, server: server.clone() };
                identity::save(root, &identity)?;
                tracing::info!(node = %identity.node_id, state_dir = %root.display(), "registered");
                return Ok(Some(identity));
            }
            Err(CallError::Rejected { status, message }) => return Err(AgentError::RegistrationRefused { server, status, message }),
            Err(CallError::Unauthorized(message)) => return Err(AgentError::RegistrationRefused { server, status: 401, message }),
            Err(CallError::Transient(e)) => {
                let delay = backoff.next_delay();
                tracing::warn!(server = %server, retry_in = ?delay, "cannot register yet: {e}");
                if !pause(shutdown, delay).await {
                    return Ok(None);
                }
            }
        }
    }
}

/// Sleeps unless `stop` comes first; false when stopped.
pub async fn pause(stop: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = stop.cancelled() => false,
    }
}

impl Node {
    pub fn new(
        shared: Arc<Shared>,
        control: ControlPlane,
        identity: Identity,
        state: StateDir,
        platform: Platform,
        refresh_platform: bool,
        stop: CancellationToken,
    ) -> Self {
        let exec = ExecEnv {
            node_id: identity.node_id.clone(),
            platform_type: platform.platform_type.clone(),
            http: control.http().clone(),
            processes: Arc::clone(&shared.processes),
            max_output: bosun_protocol::agent::MAX_OUTPUT_BYTES,
            plugins: Some(PluginAccess {
                runner: Arc::clone(&shared.plugins),
                control: control.clone(),
                credential: identity.credential.clone(),
            }),
        };
        Self {
            shared,
            control,
            identity,
            state,
            exec,
            platform,
            refresh_platform,
            active: Mutex::new(HashMap::new()),
            settled: tokio::sync::Notify::new(),
            stop,
            fatal: Mutex::new(None),
        }
    }

    fn credential(&self) -> &str {
        &self.identity.credential
    }

    /// Records a revoked credential and stops the node.
    fn deregistered(&self, message: String) {
        tracing::error!(node = %self.identity.node_id, "the server refused this node's credential (401): {message}; the node is deregistered, stopping");
        let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        fatal.get_or_insert_with(|| AgentError::Deregistered {
            node_id: self.identity.node_id.clone(),
            message,
            identity: identity::path(self.state.root()),
        });
        self.stop.cancel();
    }

    async fn poll_loop(self: &Arc<Self>, tasks: &mut JoinSet<()>) {
        let config = &self.shared.config;
        let mut backoff = self.shared.backoff();
        let mut next_heartbeat = Instant::now();
        loop {
            while tasks.try_join_next().is_some() {}
            if self.stop.is_cancelled() {
                return;
            }
            if Instant::now() >= next_heartbeat {
                next_heartbeat = Instant::now() + self.heartbeat().await.map_or(HEARTBEAT_RETRY, |()| self.heartbeat_gap());
            }
            let poll = Poll { wait_seconds: config.poll_wait(), running: self.running_ids() };
            let started = Instant::now();
            let answer = tokio::select! {
                answer = self.control.poll(self.credential(), &poll) => answer,
                () = self.stop.cancelled() => return,
            };
            let delay = match answer {
                Ok(work) => {
                    let empty = work.assignments.is_empty() && work.cancel.is_empty() && work.sessions.is_empty();
                    let assigned = !work.assignments.is_empty();
                    self.accept(work, tasks);
                    if assigned {
                        self.settle().await;
                    }
                    if empty && started.elapsed() < MIN_EMPTY_POLL {
                        Some(backoff.next_delay())
                    } else {
                        backoff.reset();
                        None
                    }
                }
                Err(CallError::Unauthorized(message)) => {
                    self.deregistered(message);
                    return;
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(node = %self.identity.node_id, retry_in = ?delay, "poll failed: {e}");
                    Some(delay)
                }
            };
            if let Some(delay) = delay
                && !pause(&self.stop, delay).await
            {
                return;
            }
        }
    }

    /// The time to the next heartbeat: the interval, shortened by up to a quarter by a
    /// per-node amount, so that nodes started together do not beat together.
    fn heartbeat_gap(&self) -> Duration {
        use std::hash::{Hash, Hasher};
        let interval = self.shared.config.heartbeat_interval;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.identity.node_id.hash(&mut hasher);
        let quarter = interval.as_millis() as u64 / 4;
        interval - Duration::from_millis(if quarter == 0 { 0 } else { hasher.finish() % quarter })
    }

    /// Sends the platform; Err when it should be tried again soon.
    async fn heartbeat(&self) -> Result<(), ()> {
        let platform = if self.refresh_platform { platform::detect() } else { self.platform.clone() };
        let heartbeat = Heartbeat { platform };
        let answer = tokio::select! {
            answer = self.control.heartbeat(self.credential(), &heartbeat) => answer,
            () = self.stop.cancelled() => return Ok(()),
        };
        match answer {
            Ok(()) => Ok(()),
            Err(CallError::Unauthorized(message)) => {
                self.deregistered(message);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(node = %self.identity.node_id, "heartbeat failed: {e}");
                Err(())
            }
        }
    }

    /// Waits up to [`REPORT_SETTLE`] until no invocation is running or reporting.
    async fn settle(&self) {
        let deadline = Instant::now() + REPORT_SETTLE;
        loop {
            let settled = self.settled.notified();
            let busy = self.active.lock().unwrap_or_else(|e| e.into_inner()).values().any(|a| !matches!(a, Active::RebootPending));
            if !busy {
                return;
            }
            tokio::select! {
                () = settled => {}
                () = tokio::time::sleep_until(deadline) => return,
                () = self.stop.cancelled() => return,
            }
        }
    }

    /// Invocations to list in a poll's `running`: those executing or waiting for a reboot.
    fn running_ids(&self) -> Vec<String> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> =
            active.iter().filter(|(_, a)| matches!(a, Active::Running(_) | Active::RebootPending)).map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids
    }

    fn accept(self: &Arc<Self>, work: Work, tasks: &mut JoinSet<()>) {
        for id in work.cancel {
            self.cancel(&id, tasks);
        }
        for assignment in work.assignments {
            self.accept_assignment(assignment, tasks);
        }
        for offer in work.sessions {
            let dial = crate::session::Dial {
                server: self.shared.config.server.clone(),
                credential: self.identity.credential.clone(),
                ca_cert: self.shared.config.ca_cert.clone(),
            };
            tasks.spawn(crate::session::serve(dial, offer, self.stop.child_token()));
        }
    }

    fn accept_assignment(self: &Arc<Self>, assignment: Assignment, tasks: &mut JoinSet<()>) {
        let id = assignment.invocation_id.clone();
        if !valid_invocation_id(&id) {
            tracing::error!(invocation = %id, "refusing an assignment whose id is not a safe file name");
            let report =
                report::terminal(InvocationStatus::Failed, format!("the agent refused the invocation id {id:?}: not a safe file name"));
            let node = Arc::clone(self);
            tasks.spawn(async move {
                let _ = node.send_until_acked(&id, &report).await;
            });
            return;
        }
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.contains_key(&id) || self.state.has_record(&id) {
            tracing::debug!(invocation = %id, "already have this invocation; the repeated delivery is ignored");
            return;
        }
        if let Some(status) = self.state.finished(&id) {
            tracing::info!(invocation = %id, %status, "delivered again after it finished; acknowledging, not running it again");
            let report = report::terminal(status, "this invocation had finished on this node already; it was not run again");
            let node = Arc::clone(self);
            tasks.spawn(async move {
                let _ = node.send_until_acked(&id, &report).await;
            });
            return;
        }
        let cancel = CancellationToken::new();
        active.insert(id.clone(), Active::Running(cancel.clone()));
        drop(active);
        tracing::info!(invocation = %id, command = %assignment.command_id, document = %assignment.document.name, "assignment received");
        tasks.spawn(invocation::start(Arc::clone(self), assignment, cancel));
    }

    fn cancel(self: &Arc<Self>, id: &str, tasks: &mut JoinSet<()>) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.get(id) {
            Some(Active::Running(token)) => {
                tracing::info!(invocation = %id, "cancel requested");
                token.cancel();
            }
            Some(Active::RebootPending) => {
                tracing::info!(invocation = %id, "cancel requested while waiting for a reboot");
                active.insert(id.to_string(), Active::Reporting);
                tasks.spawn(invocation::cancel_pending_reboot(Arc::clone(self), id.to_string()));
            }
            Some(Active::Reporting) | None => {}
        }
    }

    /// A new token for an invocation that starts running.
    pub fn set_running(&self, id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        self.active.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), Active::Running(token.clone()));
        token
    }

    pub fn set_reboot_pending(&self, id: &str) {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), Active::RebootPending);
        self.settled.notify_waiters();
    }

    pub fn set_reporting(&self, id: &str) {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), Active::Reporting);
    }

    /// Forgets an invocation: finished and acknowledged, or never stored.
    pub fn forget(&self, id: &str) {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        self.settled.notify_waiters();
    }

    /// Records the invocation as finished on disk and forgets it.
    pub async fn finish(&self, id: &str, status: InvocationStatus) {
        if let Err(e) = self.state.finish(id, status).await {
            tracing::error!(invocation = %id, "cannot record the invocation as finished: {e}");
        }
        self.forget(id);
    }

    /// Sends a report until the server acknowledges it, with backoff between tries.
    pub async fn send_until_acked(&self, id: &str, report: &InvocationReport) -> Delivery {
        let mut backoff = self.shared.backoff();
        loop {
            let answer = tokio::select! {
                answer = self.control.report(self.credential(), id, report) => answer,
                () = self.stop.cancelled() => return Delivery::Stopped,
            };
            match answer {
                Ok(ack) => return Delivery::Acked(ack),
                Err(CallError::Unauthorized(message)) => {
                    self.deregistered(message);
                    return Delivery::Stopped;
                }
                Err(CallError::Rejected { status, message }) => {
                    tracing::error!(invocation = %id, report = %report.status, "the server refused the report ({status}): {message}");
                    return Delivery::Refused;
                }
                Err(CallError::Transient(e)) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(invocation = %id, report = %report.status, retry_in = ?delay, "report not delivered yet: {e}");
                    if !pause(&self.stop, delay).await {
                        return Delivery::Stopped;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
