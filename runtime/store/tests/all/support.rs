//! Shared set-up: a store in a temporary directory, an engine over it, and a
//! dispatcher with a non-idempotent action that counts its calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bosun_document::Availability;
use bosun_document::params::ParamInput;
use bosun_engine::{
    ActionCall, ActionDispatcher, ActionError, DocumentSnapshot, Echo, Engine, EngineConfig, ExecutionStatus, StartRequest, StoredExecution,
};
use bosun_store::{Durability, Store};
use serde_json::{Map, Value};

/// `plugin:test/count` (not idempotent) counts its calls; `plugin:test/hang` (not idempotent)
/// never returns; `plugin:test/idem` (idempotent) never returns while `hang` is set, and
/// counts its calls otherwise; `plugin:test/panic` panics; the rest is bosun:echo.
#[derive(Default)]
pub struct TestActions {
    pub calls: AtomicUsize,
    pub hang: bool,
}

#[async_trait]
impl ActionDispatcher for TestActions {
    fn availability(&self, action: &str) -> Availability {
        match action {
            "plugin:test/count" | "plugin:test/hang" | "plugin:test/idem" | "plugin:test/panic" => Availability::Available,
            other => Echo.availability(other),
        }
    }

    fn is_idempotent(&self, action: &str) -> bool {
        action == "plugin:test/idem" || Echo.is_idempotent(action)
    }

    async fn run(&self, call: ActionCall) -> Result<Map<String, Value>, ActionError> {
        match call.action.as_str() {
            "plugin:test/count" | "plugin:test/idem" if !(self.hang && call.action == "plugin:test/idem") => {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                let mut out = Map::new();
                out.insert("Calls".into(), Value::from(n));
                Ok(out)
            }
            "plugin:test/panic" => panic!("a broken action"),
            "plugin:test/hang" | "plugin:test/idem" => {
                std::future::pending::<()>().await;
                Err(ActionError::Failed("unreachable".into()))
            }
            _ => Echo.run(call).await,
        }
    }
}

pub struct Fixture {
    /// Removed when the fixture is dropped, unless the fixture was opened on a path.
    pub dir: Option<tempfile::TempDir>,
    pub store: Arc<Store>,
    pub actions: Arc<TestActions>,
    pub engine: Arc<Engine>,
}

pub fn config() -> EngineConfig {
    EngineConfig { signal_poll: Duration::from_millis(20), ..EngineConfig::default() }
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut fixture = Self::on_path(dir.path(), false);
        fixture.dir = Some(dir);
        fixture
    }

    /// An engine over the store in `path`; `hang` makes plugin:test/idem never return.
    pub fn on_path(path: &std::path::Path, hang: bool) -> Self {
        let store = Arc::new(Store::open(path, Durability::Normal).unwrap());
        let actions = Arc::new(TestActions { hang, ..TestActions::default() });
        let engine = Engine::new(store.clone(), actions.clone(), store.clone(), config());
        Self { dir: None, store, actions, engine }
    }

    pub async fn start(&self, yaml: &str, params: &[(&str, &str)]) -> String {
        self.start_with(yaml, params, Map::new()).await
    }

    pub async fn start_with(&self, yaml: &str, params: &[(&str, &str)], mocks: Map<String, Value>) -> String {
        let request = StartRequest {
            document: snapshot("test", yaml),
            parameters: params.iter().map(|(k, v)| (k.to_string(), ParamInput::Text(v.to_string()))).collect(),
            mocks,
        };
        self.engine.start(request).await.unwrap()
    }

    pub async fn run(&self, yaml: &str, params: &[(&str, &str)]) -> StoredExecution {
        let id = self.start(yaml, params).await;
        self.wait(&id).await
    }

    pub async fn wait(&self, id: &str) -> StoredExecution {
        tokio::time::timeout(Duration::from_secs(20), self.engine.wait(id)).await.expect("execution did not finish in 20 s").unwrap()
    }

    /// Polls until `check` holds for the execution (deadline 20 s).
    pub async fn until(&self, id: &str, check: impl Fn(&StoredExecution) -> bool) -> StoredExecution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let execution = self.engine.get(id).await.unwrap();
            if check(&execution) {
                return execution;
            }
            assert!(tokio::time::Instant::now() < deadline, "condition not reached; execution is {:?}", execution.record.status);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn snapshot(name: &str, yaml: &str) -> DocumentSnapshot {
    DocumentSnapshot { name: name.into(), version: None, file_name: format!("{name}.yaml"), text: yaml.into() }
}

pub fn statuses(execution: &StoredExecution) -> Vec<(String, String)> {
    execution.steps.iter().map(|s| (s.name.clone(), s.status.to_string())).collect()
}

pub fn assert_status(execution: &StoredExecution, status: ExecutionStatus) {
    assert_eq!(execution.record.status, status, "failure: {:?}; steps: {:?}", execution.record.failure_message, statuses(execution));
}
