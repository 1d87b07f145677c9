//! Run Command: sending Command documents to nodes (`send.rs`), the dispatcher that
//! applies rate control, error threshold and timeouts (`dispatcher.rs`), the agents'
//! long polls (answered from one shared rendering per command, `rendering.rs`) and
//! reports, cancel, the views of commands (`view.rs`), and the
//! completion notifications to a webhook (`notify.rs`), and Automation's steps that
//! use them (`automation.rs`, `wait_for_node.rs`).

pub mod automation;
pub mod dispatcher;
pub mod notify;
mod rendering;
pub mod send;
mod ssm;
pub mod view;
pub mod wait_for_node;
mod waker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bosun_engine::StoreError;
use bosun_protocol::InvocationStatus;
use bosun_protocol::agent::{InvocationReport, MAX_POLL_SECONDS, Poll, REDELIVER_AFTER_SECONDS, ReportAck};
use bosun_protocol::command::{CommandView, SendCommand};
use bosun_store::{Report, ReportOutcome, Store, timestamp};
use chrono::Utc;
use tokio::sync::{Notify, watch};

pub use rendering::WorkReply;
use rendering::{NodeAssignment, Renderings};
pub use send::{SendError, SentDocument};
pub use view::Detail;
use waker::NodeWaker;

/// The Run Command service of one control plane.
pub struct RunCommand {
    store: Arc<Store>,
    waker: NodeWaker,
    dispatcher_wake: Notify,
    /// Poked when a command ends: the notifier sends its completion notification.
    notifier_wake: Notify,
    /// Set when the server stops: open long polls answer at once.
    stopping: watch::Sender<bool>,
    /// The server's heartbeat gap, in seconds: silent nodes' undelivered invocations are Delayed.
    heartbeat_gap: AtomicU64,
    /// Parameter Store, for `{{ ssm:... }}` in parameter values.
    parameters: std::sync::OnceLock<Arc<crate::params::Parameters>>,
    /// Session Manager's offers, handed to nodes by their long polls.
    session_offers: crate::sessions::offers::SessionOffers,
    /// What the nodes of recent commands are sent, read once per command.
    renderings: Renderings,
}

/// Why a report was refused.
#[derive(Debug)]
pub enum ReportError {
    /// No such invocation for this node.
    NotFound,
    /// A status a node may not report.
    Invalid(String),
    Store(StoreError),
}

impl RunCommand {
    pub fn new(store: Arc<Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            session_offers: Default::default(),
            renderings: Renderings::default(),
            waker: NodeWaker::default(),
            dispatcher_wake: Notify::new(),
            notifier_wake: Notify::new(),
            stopping: watch::Sender::new(false),
            heartbeat_gap: AtomicU64::new(crate::api::DEFAULT_HEARTBEAT_GAP.as_secs()),
            parameters: std::sync::OnceLock::new(),
        })
    }

    /// Gives the service its Parameter Store (once).
    pub fn set_parameters(&self, parameters: Arc<crate::params::Parameters>) {
        let _ = self.parameters.set(parameters);
    }

    /// A command's parameters with their Parameter Store references resolved as
    /// `requested_by` may read them, and the secure values among them.
    fn resolve_references(
        &self,
        parameters: &serde_json::Map<String, serde_json::Value>,
        requested_by: &str,
    ) -> Result<Option<ssm::Resolved>, String> {
        if !ssm::has_references(parameters) {
            return Ok(None);
        }
        let source = self.parameters.get().ok_or("Parameter Store is not available here")?;
        // Automation's aws:runCommand was checked with the execution's permissions when its inputs were read.
        let principal = (!requested_by.starts_with("automation:")).then_some(requested_by);
        ssm::resolve(parameters, source, principal).map(Some)
    }

    /// The secure values of a stored command's parameters, to mask in what its nodes report.
    /// Every report asks, so the common case (no references) is answered from the command's rendering.
    fn secrets_of(&self, command_id: &str) -> Vec<String> {
        let Ok(Some(rendering)) = self.renderings.get(&self.store, command_id) else { return Vec::new() };
        if !ssm::has_references(&rendering.parameters) {
            return Vec::new();
        }
        match tokio::task::block_in_place(|| self.resolve_references(&rendering.parameters, &rendering.requested_by)) {
            Ok(Some(resolved)) => resolved.secrets,
            _ => Vec::new(),
        }
    }

    /// The server's heartbeat gap: past it a node is unreachable, and what waits for it is Delayed.
    pub fn set_heartbeat_gap(&self, gap: Duration) {
        self.heartbeat_gap.store(gap.as_secs().max(1), Ordering::Relaxed);
    }

    fn heartbeat_gap(&self) -> Duration {
        Duration::from_secs(self.heartbeat_gap.load(Ordering::Relaxed))
    }

    /// Ends the open long polls (the server is stopping).
    pub fn stop_polls(&self) {
        self.stopping.send_replace(true);
    }

    /// Lets the dispatcher look at every unfinished command now.
    pub fn poke_dispatcher(&self) {
        self.dispatcher_wake.notify_one();
    }

    /// Records a command and lets the dispatcher start it.
    pub async fn send(&self, request: &SendCommand, requested_by: &str) -> Result<CommandView, SendError> {
        self.send_with_id(request, requested_by, None).await
    }

    /// The same, with the command's id chosen by the caller (an Automation step's, derived from its idempotency key).
    pub async fn send_with_id(&self, request: &SendCommand, requested_by: &str, id: Option<String>) -> Result<CommandView, SendError> {
        let store_error = |e: StoreError| SendError::Store(e.to_string());
        let mut new = tokio::task::block_in_place(|| send::prepare(&self.store, request, requested_by, &timestamp(Utc::now())))?;
        let parameters = serde_json::from_str(&new.parameters).unwrap_or_default();
        tokio::task::block_in_place(|| self.resolve_references(&parameters, requested_by)).map_err(|message| SendError::Invalid {
            field: "parameters".into(),
            message,
            details: Vec::new(),
        })?;
        if let Some(id) = id {
            new.id = id;
        }
        let id = new.id.clone();
        tokio::task::block_in_place(|| self.store.create_command(new)).map_err(store_error)?;
        tracing::info!(command = %id, by = requested_by, "command sent");
        self.poke_dispatcher();
        // A command with no node to run on has ended already.
        self.poke_notifier();
        self.view(&id, Detail::Summary).map_err(store_error)?.ok_or_else(|| SendError::Store(format!("command {id} vanished")))
    }

    pub fn view(&self, id: &str, detail: Detail) -> Result<Option<CommandView>, StoreError> {
        tokio::task::block_in_place(|| match self.store.get_command(id)? {
            Some(record) => view::command_view(&self.store, record, detail).map(Some),
            None => Ok(None),
        })
    }

    pub fn list(&self, limit: usize) -> Result<Vec<CommandView>, StoreError> {
        tokio::task::block_in_place(|| {
            self.store.list_commands(limit)?.into_iter().map(|record| view::command_view(&self.store, record, Detail::Summary)).collect()
        })
    }

    /// Cancels a command; None when there is no such command.
    pub async fn cancel(&self, id: &str) -> Result<Option<CommandView>, StoreError> {
        let Some(running_on) = self.store.cancel_command(id, &timestamp(Utc::now())).await? else { return Ok(None) };
        for node in &running_on {
            self.waker.wake(node);
        }
        self.poke_dispatcher();
        tracing::info!(command = %id, "cancel requested");
        self.view(id, Detail::Summary)
    }

    /// A node's long poll: its dispatched invocations, and which of those it runs to stop;
    /// waits up to `poll.wait_seconds` (at most [`MAX_POLL_SECONDS`]) for either.
    pub async fn poll(&self, node_id: &str, poll: &Poll) -> Result<WorkReply, StoreError> {
        let wait = Duration::from_secs(u64::from(poll.wait_seconds.min(MAX_POLL_SECONDS)));
        let deadline = tokio::time::Instant::now() + wait;
        let signals = self.waker.signals(node_id);
        let released = signals.release.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        let mut stopping = self.stopping.subscribe();
        loop {
            let notified = signals.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Boxed: the long wait below then holds a small future, not the reads' state.
            let work = Box::pin(self.work_for(node_id, &poll.running)).await?;
            if !work.is_empty() || *stopping.borrow() {
                return Ok(work);
            }
            tokio::select! {
                () = notified => {}
                () = &mut released => return Ok(work),
                () = tokio::time::sleep_until(deadline) => return Ok(work),
                _ = stopping.changed() => return Ok(work),
            }
        }
    }

    async fn work_for(&self, node_id: &str, running: &[String]) -> Result<WorkReply, StoreError> {
        let now = Utc::now();
        let redeliver_before = now - chrono::Duration::seconds(REDELIVER_AFTER_SECONDS as i64);
        let deliveries = self.store.take_deliveries(node_id, &timestamp(now), &timestamp(redeliver_before)).await?;
        let mut assignments = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let Some(rendering) = self.renderings.get(&self.store, &delivery.command_id)? else {
                tracing::error!(invocation = %delivery.invocation_id, "the invocation's command cannot be read");
                continue;
            };
            let mut resolved = None;
            if ssm::has_references(&rendering.parameters) {
                match self.resolve_references(&rendering.parameters, &rendering.requested_by) {
                    Ok(found) => resolved = found.map(|r| r.parameters),
                    Err(message) => {
                        self.fail_undelivered(node_id, &delivery.invocation_id, &message).await?;
                        continue;
                    }
                }
            }
            assignments.push(NodeAssignment { invocation_id: delivery.invocation_id, rendering, resolved });
        }
        // Indexed reads of microseconds: done in place, since every poll makes them.
        let cancel = self.store.invocations_to_stop(node_id, running)?;
        Ok(WorkReply { assignments, cancel, sessions: self.session_offers.take(node_id) })
    }

    /// Offers a session to a node and wakes its long poll.
    pub fn offer_session(&self, node_id: &str, offer: bosun_protocol::session::SessionOffer) {
        self.session_offers.push(node_id, offer);
        self.waker.wake(node_id);
    }

    /// Withdraws a session's offer that its node has not taken.
    pub fn withdraw_session(&self, node_id: &str, session_id: &str) {
        self.session_offers.withdraw(node_id, session_id);
    }

    /// Ends an invocation whose parameters cannot be resolved any more (a parameter was
    /// deleted or a permission withdrawn since the command was sent), without delivering it.
    async fn fail_undelivered(&self, node_id: &str, invocation_id: &str, message: &str) -> Result<(), StoreError> {
        tracing::warn!(invocation = %invocation_id, error = %message, "cannot resolve the parameters of an invocation");
        let report =
            Report { status: "Failed".into(), exit_code: None, stdout: String::new(), stderr: message.to_string(), steps: "[]".into() };
        self.store.record_report(node_id, invocation_id, report, &timestamp(Utc::now())).await?;
        self.poke_dispatcher();
        Ok(())
    }

    /// Records a node's report on one of its invocations.
    pub async fn report(&self, node_id: &str, invocation_id: &str, report: InvocationReport) -> Result<ReportAck, ReportError> {
        use InvocationStatus as S;
        if !matches!(report.status, S::InProgress | S::Success | S::Failed | S::ExecutionTimedOut | S::Cancelled | S::Undeliverable) {
            return Err(ReportError::Invalid(format!("a node cannot report the status {}", report.status)));
        }
        let steps = serde_json::to_string(&report.steps).unwrap_or_else(|_| "[]".into());
        let mut record =
            Report { status: report.status.to_string(), exit_code: report.exit_code, stdout: report.stdout, stderr: report.stderr, steps };
        // An invocation's id is COMMAND_ID.NODE_ID.
        if let Some(command_id) = invocation_id.strip_suffix(&format!(".{node_id}")) {
            let secrets = self.secrets_of(command_id);
            if !secrets.is_empty() {
                let mask = |text: &str| bosun_engine::resolve::mask_text(text, &secrets);
                record = Report { stdout: mask(&record.stdout), stderr: mask(&record.stderr), steps: mask(&record.steps), ..record };
            }
        }
        let outcome = self.store.record_report(node_id, invocation_id, record, &timestamp(Utc::now())).await.map_err(ReportError::Store)?;
        // A poll of this node still waiting holds another connection: answer it, so the
        // node polls again over one of the two and the other can close.
        self.waker.release(node_id);
        match outcome {
            ReportOutcome::NotFound => Err(ReportError::NotFound),
            ReportOutcome::Recorded { status, .. } => {
                self.poke_dispatcher();
                Ok(ReportAck { recorded: true, status: S::parse(&status).unwrap_or(report.status) })
            }
            ReportOutcome::Unchanged { status } => Ok(ReportAck { recorded: false, status: S::parse(&status).unwrap_or(report.status) }),
        }
    }
}
