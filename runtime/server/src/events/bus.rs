//! The loop that moves events from the log to rule targets: route what was logged
//! since the router's cursor (one transaction per batch records the deliveries and
//! moves the cursor), then attempt the deliveries that are due. A failed attempt is
//! tried again after 1 s, 2 s, 4 s … (at most 5 minutes apart); after
//! [`BusSettings::max_attempts`] attempts, or at once when the failure is
//! permanent (a missing document, an input that is not JSON), the delivery is dead
//! and waits in the dead-letter list for `bosun event dlq replay`. Every 5 s the
//! loop also emits node status changes (`bosun.node`).

use std::sync::Arc;
use std::time::Duration;

use bosun_store::{DueDelivery, NewDelivery, RULES_CURSOR, Store, timestamp};
use chrono::Utc;
use tokio::sync::Notify;

use super::rules::RuleCache;
use super::targets::{Done, Services};
use crate::run_command::notify::backoff;

/// How many events one routing transaction takes.
const ROUTE_BATCH: usize = 1000;
/// How many deliveries are attempted at once.
const DELIVERY_BATCH: usize = 64;
/// How often the store is looked at without a wake-up (events emitted by other parts).
const TICK: Duration = Duration::from_millis(250);
/// How long the loop lets events gather after a wake-up before routing them: under a
/// stream of webhooks, one routing transaction then takes many events, not one each.
const GATHER: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy)]
pub struct BusSettings {
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// How long a node may stay silent and still be Online (for node status events).
    pub heartbeat_gap: Duration,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self { max_attempts: 8, heartbeat_gap: crate::api::DEFAULT_HEARTBEAT_GAP }
    }
}

/// How often nodes' ping statuses are compared with the last ones reported.
const PRESENCE_EVERY: Duration = Duration::from_secs(5);

/// The event bus of one server.
pub struct EventBus {
    services: Services,
    settings: BusSettings,
    wake: Notify,
    rules: RuleCache,
}

impl EventBus {
    pub fn new(services: Services, settings: BusSettings) -> Arc<Self> {
        Arc::new(Self { services, settings, wake: Notify::new(), rules: RuleCache::default() })
    }

    /// What the targets act with.
    pub fn services(&self) -> &Services {
        &self.services
    }

    fn store(&self) -> &Arc<Store> {
        &self.services.store
    }

    /// Says that an event was logged: route it now rather than at the next tick.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Routes and delivers until `stop` resolves.
    pub async fn run_until(self: Arc<Self>, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut presence_swept: Option<tokio::time::Instant> = None;
        loop {
            if presence_swept.is_none_or(|at| at.elapsed() >= PRESENCE_EVERY) {
                presence_swept = Some(tokio::time::Instant::now());
                if let Err(error) = self.store().sweep_node_presence(self.settings.heartbeat_gap).await {
                    tracing::warn!(%error, "cannot compare the nodes' statuses");
                }
            }
            if let Err(error) = self.route().await {
                tracing::warn!(%error, "cannot route events to rules");
            }
            if let Err(error) = self.deliver_due().await {
                tracing::warn!(%error, "cannot deliver events to rule targets");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Routes everything logged after the cursor. With no enabled rule nothing can
    /// match, so the cursor moves past what was logged without reading it.
    pub async fn route(&self) -> Result<(), String> {
        loop {
            let from = self.store().event_cursor(RULES_CURSOR).map_err(|e| e.to_string())?;
            let compiled = self.rules.current(self.store()).map_err(|e| e.to_string())?;
            if compiled.set.is_empty() {
                let last = self.store().last_event_seq().map_err(|e| e.to_string())?;
                if last > from {
                    self.store().route_events(RULES_CURSOR, from, last, vec![]).await.map_err(|e| e.to_string())?;
                }
                return Ok(());
            }
            let events = self.store().events_after(from, ROUTE_BATCH).map_err(|e| e.to_string())?;
            let Some(last) = events.last().map(|e| e.seq) else { return Ok(()) };
            let mut deliveries = Vec::new();
            for event in events {
                let seq = event.seq;
                for &at in compiled.set.matches(&event.into_value()) {
                    let rule = &compiled.rules[at].spec;
                    for target in &rule.targets {
                        deliveries.push(NewDelivery {
                            event_seq: seq,
                            rule: rule.name.clone(),
                            target_id: target.id.clone(),
                            target: serde_json::to_string(target).map_err(|e| e.to_string())?,
                        });
                    }
                }
            }
            self.store().route_events(RULES_CURSOR, from, last, deliveries).await.map_err(|e| e.to_string())?;
        }
    }

    /// Attempts every delivery due now; returns how many it attempted.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<usize, String> {
        let mut total = 0;
        loop {
            let due = self.store().due_deliveries(DELIVERY_BATCH).map_err(|e| e.to_string())?;
            if due.is_empty() {
                return Ok(total);
            }
            total += due.len();
            let mut attempts = tokio::task::JoinSet::new();
            for delivery in due {
                let bus = Arc::clone(self);
                attempts.spawn(async move { bus.attempt(delivery).await });
            }
            attempts.join_all().await;
        }
    }

    async fn attempt(&self, delivery: DueDelivery) {
        let outcome = self.services.deliver(&delivery).await;
        let recorded = match outcome {
            Ok(Done::Recorded) => Ok(()),
            Ok(Done::ToRecord) => self.store().delivery_succeeded(delivery.id).await,
            Err(error) => {
                let failures = delivery.attempts + 1;
                let retry_at =
                    (!error.permanent && failures < self.settings.max_attempts).then(|| timestamp(Utc::now() + backoff(failures)));
                if retry_at.is_none() {
                    tracing::warn!(rule = %delivery.rule, target = %delivery.target_id, error = %error.message, "a delivery is dead after {failures} attempts");
                }
                self.store().delivery_failed(delivery.id, &error.message, retry_at).await
            }
        };
        if let Err(error) = recorded {
            // Still Pending in the store: attempted again (at least once).
            tracing::warn!(delivery = delivery.id, %error, "cannot record a delivery's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::events::{RuleSpec, RuleTarget, TargetAction};
    use bosun_store::{Durability, NewEvent};
    use serde_json::json;

    fn bus_on(store: &Arc<Store>, dir: &std::path::Path) -> Arc<EventBus> {
        let run_command = crate::run_command::RunCommand::new(store.clone());
        let engine = crate::cli::engine(store, dir, Some(run_command.clone())).unwrap();
        let services = Services { store: store.clone(), engine, run_command, http: reqwest::Client::new() };
        EventBus::new(services, BusSettings::default())
    }

    fn event(n: &str) -> NewEvent {
        NewEvent { source: "bosun.test".into(), detail_type: "Test".into(), resources: vec![], detail: json!({"n": n}) }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn with_no_rule_enabled_the_cursor_passes_the_log_and_later_events_are_routed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Durability::Normal).unwrap());
        let bus = bus_on(&store, dir.path());
        store.emit_event(event("before")).unwrap();
        store.emit_event(event("before")).unwrap();
        bus.route().await.unwrap();
        assert_eq!(store.event_cursor(RULES_CURSOR).unwrap(), store.last_event_seq().unwrap());
        let ops = TargetAction::OpsItem { title: "t".into(), severity: None, category: None, deduplication: None };
        let target = RuleTarget { id: "t".into(), action: ops, input: None, input_transformer: None };
        let rule = RuleSpec {
            name: "r".into(),
            description: String::new(),
            event_pattern: json!({"source": ["bosun.test"]}),
            enabled: true,
            targets: vec![target],
        };
        store.create_rule(&rule).unwrap();
        store.emit_event(event("after")).unwrap();
        bus.route().await.unwrap();
        let due = store.due_deliveries(10).unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].event.detail["n"], "after");
        assert_eq!(store.event_cursor(RULES_CURSOR).unwrap(), store.last_event_seq().unwrap());
    }
}
