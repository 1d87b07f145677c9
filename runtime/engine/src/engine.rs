//! The engine: starts executions, drives each one as a task through committed
//! transitions, resumes unfinished executions after a restart, and takes
//! signals (approve, reject, resume, cancel).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bosun_document::params::{ParamInput, resolve_parameters};
use bosun_document::{ActionCatalog, Availability, DiagKind, Document, DocumentKind};
use chrono::Utc;
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};

use crate::action::ActionDispatcher;
use crate::checked::CheckedDocuments;
use crate::control;
use crate::error::EngineError;
use crate::handle::Handles;
use crate::record::{Change, DocumentSnapshot, ExecutionRecord, ParentRef, SignalKind, SignalRecord, StoredExecution};
use crate::resolve::{ExecutionResolver, Globals, ParameterAccess, ParameterSource, Secure};
use crate::run::{Outcome, Run};
use crate::status::{ExecutionStatus, StepStatus};
use crate::store::{DocumentSource, ExecutionStore};
use crate::trace::TraceEvent;

/// Settings of an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub globals: Globals,
    /// How often a waiting execution looks for signals written by other processes.
    pub signal_poll: Duration,
    /// The most step runs one execution may make (guards against endless nextStep loops).
    pub max_step_runs: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { globals: Globals::default(), signal_poll: Duration::from_millis(250), max_step_runs: 100_000 }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub document: DocumentSnapshot,
    pub parameters: Vec<(String, ParamInput)>,
    /// Step name -> response returned instead of running the action.
    pub mocks: Map<String, Value>,
}

pub struct Engine {
    pub(crate) store: Arc<dyn ExecutionStore>,
    pub(crate) dispatcher: Arc<dyn ActionDispatcher>,
    pub(crate) documents: Arc<dyn DocumentSource>,
    pub(crate) config: EngineConfig,
    pub(crate) handles: Handles,
    driving: Mutex<HashSet<String>>,
    checked: CheckedDocuments,
    finished: watch::Sender<u64>,
    trace: broadcast::Sender<TraceEvent>,
    /// Where `{{ ssm:... }}` values come from, once set.
    parameter_source: std::sync::OnceLock<Arc<dyn ParameterSource>>,
}

/// The control-flow actions the engine runs itself.
pub const CONTROL_FLOW: &[&str] = &["aws:sleep", "aws:pause", "aws:approve", "aws:branch", "aws:executeAutomation", "aws:loop"];

impl ActionCatalog for Engine {
    fn availability(&self, action: &str) -> Availability {
        if CONTROL_FLOW.contains(&action) {
            return Availability::Available;
        }
        match self.dispatcher.availability(action) {
            Availability::Available => Availability::Available,
            _ if bosun_document::actions::is_known_name(action) => Availability::NotAvailable,
            _ => Availability::Unknown,
        }
    }
}

impl Engine {
    pub fn new(
        store: Arc<dyn ExecutionStore>,
        dispatcher: Arc<dyn ActionDispatcher>,
        documents: Arc<dyn DocumentSource>,
        config: EngineConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            dispatcher,
            documents,
            config,
            handles: Handles::default(),
            driving: Mutex::new(HashSet::new()),
            checked: CheckedDocuments::default(),
            finished: watch::channel(0).0,
            trace: broadcast::channel(4096).0,
            parameter_source: std::sync::OnceLock::new(),
        })
    }

    /// Gives the engine its Parameter Store (once; later calls change nothing).
    pub fn set_parameter_source(&self, source: Arc<dyn ParameterSource>) {
        let _ = self.parameter_source.set(source);
    }

    /// A resolver of the references of `run` as it stands; `secure` says what secure
    /// values become.
    pub(crate) fn resolver<'a>(&'a self, run: &'a Run, now: chrono::DateTime<Utc>, secure: Secure) -> ExecutionResolver<'a> {
        ExecutionResolver {
            execution_id: &run.record.id,
            parameters: &run.record.parameters,
            steps: &run.steps,
            globals: &self.config.globals,
            now,
            parameter_store: ParameterAccess {
                source: self.parameter_source.get().map(|s| s.as_ref() as &dyn ParameterSource),
                principal: run.record.started_by.as_deref(),
                secure,
            },
            revealed: Default::default(),
        }
    }

    /// Every transition, as it is committed.
    pub fn subscribe(&self) -> broadcast::Receiver<TraceEvent> {
        self.trace.subscribe()
    }

    /// Commits changes, then broadcasts the transitions among them: events only ever
    /// describe what is committed.
    async fn commit_and_broadcast(&self, changes: Vec<Change>) -> Result<(), EngineError> {
        let events = self.events_of(&changes);
        self.store.commit(changes).await?;
        for event in events {
            let _ = self.trace.send(event);
        }
        Ok(())
    }

    /// The transitions in `changes`, as events; none when nobody listens.
    fn events_of(&self, changes: &[Change]) -> Vec<TraceEvent> {
        if self.trace.receiver_count() == 0 {
            return Vec::new();
        }
        // In reading order: the execution's new status, its steps, then its end.
        let mut events: Vec<(u8, TraceEvent)> = changes
            .iter()
            .filter_map(|change| match change {
                Change::UpdateExecution(record) => Some((0, TraceEvent::execution(record))),
                Change::PutStep(step) => Some((1, TraceEvent::step(step, !step.status.is_terminal()))),
                Change::EndExecution { record, .. } => Some((2, TraceEvent::execution(record))),
                _ => None,
            })
            .collect();
        events.sort_by_key(|(order, _)| *order);
        events.into_iter().map(|(_, event)| event).collect()
    }

    /// Parses and validates a document against what this engine can run.
    /// Steps that are mocked need no implementation of their action.
    pub fn check_document(&self, snapshot: &DocumentSnapshot, mocks: &Map<String, Value>) -> Result<Arc<Document>, EngineError> {
        self.checked.get_or_check(snapshot, mocks.keys().cloned(), || self.check_uncached(snapshot, mocks))
    }

    fn check_uncached(&self, snapshot: &DocumentSnapshot, mocks: &Map<String, Value>) -> Result<Document, EngineError> {
        let loaded = bosun_document::load(&snapshot.file_name, &snapshot.text, self);
        let mocked: Vec<String> = loaded
            .document
            .iter()
            .flat_map(|d| d.all_steps())
            .filter(|(_, s)| mocks.contains_key(&s.name))
            .map(|(at, _)| bosun_document::validate::step_path(at))
            .collect();
        let errors: Vec<String> = loaded
            .diagnostics
            .errors()
            .filter(|d| !(d.kind == DiagKind::NotAvailable && mocked.iter().any(|m| d.path == *m || d.path.starts_with(&format!("{m}.")))))
            .map(|d| d.render(&snapshot.file_name))
            .collect();
        match loaded.document {
            Some(doc) if errors.is_empty() => Ok(doc),
            _ => Err(EngineError::InvalidDocument(errors)),
        }
    }

    /// Checks the request, commits a Pending execution and starts driving it.
    pub async fn start(self: &Arc<Self>, request: StartRequest) -> Result<String, EngineError> {
        let (record, document) = self.prepare(request, None)?;
        let id = record.id.clone();
        self.store.commit(vec![Change::CreateExecution { record, document }]).await?;
        self.spawn(id.clone());
        Ok(id)
    }

    /// Checks the request and commits a Pending execution without driving it: the
    /// process that drives executions picks it up with [`Engine::resume_all`].
    pub async fn create(&self, request: StartRequest) -> Result<String, EngineError> {
        let (record, document) = self.prepare(request, None)?;
        let id = record.id.clone();
        self.store.commit(vec![Change::CreateExecution { record, document }]).await?;
        Ok(id)
    }

    /// The same, for an API token: `{{ ssm:... }}` references are read with its permissions.
    pub async fn create_by(&self, request: StartRequest, principal: &str) -> Result<String, EngineError> {
        let (mut record, document) = self.prepare(request, None)?;
        record.started_by = Some(principal.to_string());
        let id = record.id.clone();
        self.store.commit(vec![Change::CreateExecution { record, document }]).await?;
        Ok(id)
    }

    /// A Pending execution record for a request, checked.
    pub(crate) fn prepare(
        &self,
        request: StartRequest,
        parent: Option<ParentRef>,
    ) -> Result<(ExecutionRecord, DocumentSnapshot), EngineError> {
        let doc = self.check_document(&request.document, &request.mocks)?;
        if doc.kind != DocumentKind::Automation {
            return Err(EngineError::InvalidRequest(format!(
                "{} is a Command document (schemaVersion {}); Automation runs documents with schemaVersion 0.3",
                request.document.name, doc.schema_version
            )));
        }
        if let Some(step) = request.mocks.keys().find(|name| doc.find_step(name).is_none()) {
            return Err(EngineError::InvalidRequest(format!("--mock names step \"{step}\", which the document does not have")));
        }
        let parameters = resolve_parameters(&doc.parameters, &request.parameters).map_err(EngineError::InvalidParameters)?;
        let now = Utc::now();
        let record = ExecutionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            document_name: request.document.name.clone(),
            document_version: request.document.version.clone(),
            status: ExecutionStatus::Pending,
            parameters,
            mocks: request.mocks,
            outputs: Map::new(),
            failure_message: None,
            parent,
            started_by: None,
            created_at: now,
            updated_at: now,
        };
        Ok((record, request.document))
    }

    /// Starts a task for every unfinished execution in the store. Returns how many.
    pub async fn resume_all(self: &Arc<Self>) -> Result<usize, EngineError> {
        let ids = self.store.unfinished().await?;
        let count = ids.len();
        for id in ids {
            self.spawn(id);
        }
        Ok(count)
    }

    pub async fn get(&self, id: &str) -> Result<StoredExecution, EngineError> {
        self.store.load(id).await?.ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// Waits until the execution reaches a terminal status.
    pub async fn wait(&self, id: &str) -> Result<StoredExecution, EngineError> {
        self.wait_until_ended(id).await?;
        self.get(id).await
    }

    /// Waits until the execution's status is terminal, and returns it (without loading
    /// the execution's history).
    pub async fn wait_until_ended(&self, id: &str) -> Result<ExecutionStatus, EngineError> {
        let mut finished = self.finished.subscribe();
        loop {
            let status = self.store.status(id).await?.ok_or_else(|| EngineError::NotFound(id.to_string()))?;
            if status.is_terminal() {
                return Ok(status);
            }
            let _ = tokio::time::timeout(self.config.signal_poll, finished.changed()).await;
        }
    }

    /// Records a signal for the execution after checking that it applies now.
    pub async fn signal(&self, id: &str, kind: SignalKind, actor: &str, comment: Option<String>) -> Result<(), EngineError> {
        let execution = self.get(id).await?;
        let step_seq = control::check_signal(&execution, kind, actor)?;
        let signal = SignalRecord {
            id: uuid::Uuid::new_v4().to_string(),
            execution_id: id.to_string(),
            kind,
            actor: actor.to_string(),
            comment,
            created_at: Utc::now(),
            step_seq,
        };
        self.store.commit(vec![Change::AddSignal(signal)]).await?;
        self.handles.wake(id);
        Ok(())
    }

    pub(crate) fn spawn(self: &Arc<Self>, id: String) {
        {
            let mut driving = self.driving.lock().unwrap_or_else(|e| e.into_inner());
            if !driving.insert(id.clone()) {
                return;
            }
        }
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            // Driven in a task of its own, so that even a panic ends here, not silently.
            let driver = tokio::spawn({
                let engine = Arc::clone(&engine);
                let id = id.clone();
                async move { engine.drive(&id).await }
            });
            let stopped = match driver.await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(join) => Some(format!("internal error: {join}")),
            };
            if let Some(reason) = stopped {
                tracing::error!(execution = %id, %reason, "the engine could not go on with the execution");
                engine.abandon(&id, &reason).await;
            }
            engine.driving.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            engine.handles.remove(&id);
            engine.finished.send_modify(|n| *n += 1);
        });
    }

    /// Ends an execution the engine cannot go on with as Failed, with the reason, so that
    /// nobody waits for it forever. If even that cannot be committed, the execution stays
    /// as it is and is tried again at the next resume.
    async fn abandon(&self, id: &str, reason: &str) {
        let Ok(stored) = self.get(id).await else { return };
        if stored.record.status.is_terminal() {
            return;
        }
        let error = EngineError::Conflict(format!("the engine could not go on with the execution: {reason}"));
        if let Err(error) = self.end_as_failed(stored, error).await {
            tracing::error!(execution = %id, %error, "could not mark the execution Failed");
        }
    }

    async fn drive(self: &Arc<Self>, id: &str) -> Result<(), EngineError> {
        let stored = self.get(id).await?;
        if stored.record.status.is_terminal() {
            return Ok(());
        }
        if stored.record.status != ExecutionStatus::Pending && stored.steps.is_empty() {
            let error = EngineError::Conflict("the execution has started but its step history is missing".into());
            return self.end_as_failed(stored, error).await;
        }
        let doc = match self.check_document(&stored.document, &stored.record.mocks) {
            Ok(doc) => doc,
            Err(error) => return self.end_as_failed(stored, error).await,
        };
        let mut run = Run::new(stored.record, doc, stored.steps);
        let handle = self.handles.get(id);
        let mut pending = match run.record.status {
            ExecutionStatus::Pending => {
                let changes = self.transition(&mut run, None, Some(crate::flow::Next::Step(bosun_document::StepRef::Main(0)))).await?;
                self.commit(&mut run, changes).await?;
                None
            }
            _ => self.resume_policy(&mut run).await?,
        };
        while !run.record.status.is_terminal() {
            let outcome = match pending.take() {
                Some(outcome) => outcome,
                None => self.execute(&mut run, &handle).await?,
            };
            let changes = self.transition(&mut run, Some(outcome), None).await?;
            self.commit(&mut run, changes).await?;
        }
        if let Some(parent) = &run.record.parent {
            self.handles.wake(&parent.execution_id);
        }
        Ok(())
    }

    /// Commits a transition, then broadcasts it and starts the child executions it created.
    async fn commit(self: &Arc<Self>, run: &mut Run, changes: Vec<Change>) -> Result<(), EngineError> {
        self.commit_and_broadcast(changes).await?;
        for child in run.children.drain(..) {
            self.spawn(child);
        }
        Ok(())
    }

    /// What to do with a step that was in flight when the engine stopped: control flow and
    /// idempotent actions run again; anything else fails, since it may have had its effect.
    async fn resume_policy(&self, run: &mut Run) -> Result<Option<Outcome>, EngineError> {
        let Some(step) = run.current() else {
            return Ok(None);
        };
        if step.status != StepStatus::InProgress || CONTROL_FLOW.contains(&step.action.as_str()) || run.is_mocked(&step.name) {
            return Ok(None);
        }
        let action = step.action.clone();
        if self.dispatcher.is_idempotent(&action) {
            let step = run.current_mut().ok_or_else(|| EngineError::Conflict("no current step".into()))?;
            step.resumed += 1;
            let change = Change::PutStep(step.clone());
            self.store.commit(vec![change]).await?;
            return Ok(None);
        }
        Ok(Some(Outcome::Interrupted {
            message: format!("the step was in progress when Bosun stopped; action {action} is not idempotent, so it was not run again"),
        }))
    }

    /// Ends an execution the engine cannot run (its document no longer loads, its history
    /// is missing, or driving it failed) as Failed, keeping the history it has.
    async fn end_as_failed(&self, stored: StoredExecution, error: EngineError) -> Result<(), EngineError> {
        let StoredExecution { mut record, steps, .. } = stored;
        record.status = ExecutionStatus::Failed;
        record.failure_message = Some(error.to_string());
        record.updated_at = Utc::now();
        self.commit_and_broadcast(vec![Change::EndExecution { record, steps }]).await
    }
}
