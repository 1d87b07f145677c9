//! State Manager's driver: one task that, every second, claims the associations their
//! schedules make due, applies associations to nodes that started matching their
//! targets (every few seconds), sends the recorded runs through Run Command (the run's
//! id is the command's, so a run is sent once even when the server dies mid-send), and
//! turns ended invocations into node statuses and compliance. All of its state is the
//! store's; time comes from a [`Clock`].

pub mod clock;

use std::sync::Arc;
use std::time::Duration;

use bosun_engine::StoreError;
use bosun_protocol::Target;
use bosun_protocol::association::AssociationDefinition;
use bosun_protocol::command::SendCommand;
use bosun_store::{PendingRun, RunSent, Store};

pub use clock::{Clock, ManualClock, SystemClock};

use crate::run_command::{RunCommand, SendError};

/// How often the driver looks at the store.
const TICK: Duration = Duration::from_secs(1);
/// Every how many ticks the targets are resolved again for nodes that started matching.
const RECONCILE_EVERY: u64 = 5;

/// What sends State Manager's runs.
pub struct Associations {
    store: Arc<Store>,
    run_command: Arc<RunCommand>,
    clock: Arc<dyn Clock>,
    /// The store's reconcile fingerprint after the last reconcile that found nothing new.
    reconciled: std::sync::Mutex<Option<String>>,
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub claimed: usize,
    pub new_node_runs: usize,
    pub sent: usize,
    pub refused: usize,
    pub settled: usize,
}

/// The Run Command request of a run of `definition` on `targets`.
pub fn command_request(definition: &AssociationDefinition, targets: Vec<Target>, comment: String) -> SendCommand {
    SendCommand {
        document_name: Some(definition.document_name.clone()),
        document_version: definition.document_version.clone(),
        document: None,
        targets,
        parameters: definition.parameters.clone(),
        max_concurrency: definition.max_concurrency,
        max_errors: definition.max_errors,
        timeout_seconds: None,
        delivery_timeout_seconds: None,
        comment,
    }
}

/// Who a run's command is requested by.
pub fn requester(association_id: &str) -> String {
    format!("association:{association_id}")
}

impl Associations {
    pub fn new(store: Arc<Store>, run_command: Arc<RunCommand>, clock: Arc<dyn Clock>) -> Self {
        Self { store, run_command, clock, reconciled: std::sync::Mutex::new(None) }
    }

    /// Does one round; `reconcile` also looks for nodes that started matching.
    pub async fn tick(&self, reconcile: bool) -> Result<TickReport, StoreError> {
        let now = self.clock.now();
        let mut report =
            TickReport { claimed: tokio::task::block_in_place(|| self.store.claim_due_associations(now))?.len(), ..Default::default() };
        if reconcile {
            report.new_node_runs = tokio::task::block_in_place(|| self.reconcile(now))?;
        }
        for run in tokio::task::block_in_place(|| self.store.pending_association_runs())? {
            match self.send(&run).await? {
                RunSent::Sent => report.sent += 1,
                RunSent::Refused { .. } => report.refused += 1,
            }
        }
        report.settled = tokio::task::block_in_place(|| self.store.settle_association_statuses(self.clock.now()))?;
        Ok(report)
    }

    /// Records runs for nodes that started matching; skipped while nothing that decides
    /// it (nodes, tags, groups, associations, runs) has changed since the last one.
    fn reconcile(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
        let before = self.store.reconcile_fingerprint()?;
        let mut reconciled = self.reconciled.lock().unwrap_or_else(|e| e.into_inner());
        if before.is_some() && *reconciled == before {
            return Ok(0);
        }
        let runs = self.store.claim_new_node_runs(now)?.len();
        *reconciled = if runs == 0 { before } else { None };
        Ok(runs)
    }

    /// Sends one recorded run as a Run Command command and records the outcome.
    async fn send(&self, run: &PendingRun) -> Result<RunSent, StoreError> {
        let definition = &run.definition;
        let outcome = if tokio::task::block_in_place(|| self.store.get_command(&run.run_id))?.is_some() {
            // Sent before the server stopped, not recorded yet.
            RunSent::Sent
        } else {
            let targets = match &run.nodes {
                Some(nodes) => vec![Target::Ids(nodes.clone())],
                None => definition.targets.clone(),
            };
            let comment = format!("association {} version {} ({})", definition.name, run.version, run.trigger);
            let request = command_request(definition, targets, comment);
            match self.run_command.send_with_id(&request, &requester(&run.association_id), Some(run.run_id.clone())).await {
                Ok(_) => RunSent::Sent,
                Err(SendError::Store(message)) => return Err(StoreError(message)),
                Err(SendError::Invalid { message, .. } | SendError::NotFound(message)) => {
                    tracing::warn!(association = %run.association_id, run = %run.run_id, %message, "an association run cannot be sent");
                    RunSent::Refused { reason: message, nodes: run.nodes.clone().unwrap_or_default() }
                }
            }
        };
        tokio::task::block_in_place(|| self.store.record_association_run(&run.run_id, outcome.clone(), self.clock.now()))?;
        Ok(outcome)
    }

    /// Ticks every second until `stop` resolves.
    pub async fn run_until(self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut ticks: u64 = 0;
        loop {
            if let Err(error) = self.tick(ticks.is_multiple_of(RECONCILE_EVERY)).await {
                tracing::warn!(%error, "State Manager cannot move associations on; trying again");
            }
            ticks += 1;
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
