//! The driver on a driven clock: runs sent through Run Command, schedule fires,
//! no double fire after a restart, one catch-up run after downtime, refused runs.

use std::sync::Arc;

use bosun_protocol::Target;
use bosun_protocol::association::AssociationDefinition;
use bosun_store::{Durability, Store};
use chrono::{DateTime, Duration, Utc};

use super::{Associations, Clock as _, ManualClock};
use crate::run_command::RunCommand;

fn definition(name: &str, document: &str, schedule: &str) -> AssociationDefinition {
    AssociationDefinition {
        name: name.into(),
        document_name: document.into(),
        document_version: None,
        parameters: serde_json::from_value(serde_json::json!({"commands": ["true"]})).unwrap(),
        targets: vec![Target::Ids(vec!["mi-gone".into()])],
        schedule_expression: Some(schedule.into()),
        schedule_timezone: None,
        schedule_offset: 0,
        max_concurrency: None,
        max_errors: None,
        compliance_severity: None,
    }
}

fn triggers(store: &Store, name: &str) -> Vec<String> {
    let mut runs = store.get_association(name).unwrap().unwrap().runs;
    runs.reverse();
    runs.into_iter().map(|r| r.trigger).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_go_through_run_command_on_a_driven_clock_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), Durability::Normal).unwrap());
    crate::runbooks::load_builtins(&store).unwrap();
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let driver = || Associations::new(store.clone(), RunCommand::new(store.clone()), clock.clone());

    let created = store.create_association(&definition("half-hourly", "AWS-RunShellScript", "rate(30 minutes)"), start).unwrap();
    let first = driver();
    let report = first.tick(true).await.unwrap();
    assert_eq!((report.sent, report.settled), (1, 1), "{report:?}");
    // The run is a command with the run's id; the unknown node is Undeliverable, so Failed.
    let detail = store.get_association(&created.association_id).unwrap().unwrap();
    let command = store.get_command(&detail.runs[0].run_id).unwrap().unwrap();
    assert_eq!(command.requested_by, super::requester(&created.association_id));
    assert_eq!((detail.nodes[0].status.as_str(), detail.nodes[0].detail.as_str()), ("Failed", "Undeliverable"));

    clock.set_to(clock.now() + Duration::minutes(29));
    assert_eq!(first.tick(true).await.unwrap().claimed, 0);
    clock.set_to(clock.now() + Duration::minutes(2));
    assert_eq!(first.tick(true).await.unwrap().claimed, 1);
    // A restarted driver at the same time does not fire again.
    drop(first);
    let second = driver();
    assert_eq!(second.tick(true).await.unwrap().claimed, 0);
    // Five hours down: one catch-up run.
    clock.set_to(clock.now() + Duration::hours(5));
    assert_eq!(second.tick(true).await.unwrap().claimed, 1);
    assert_eq!(second.tick(true).await.unwrap().claimed, 0);
    assert_eq!(triggers(&store, "half-hourly"), ["Create", "Schedule", "CatchUp"]);
    let runs = store.get_association("half-hourly").unwrap().unwrap().runs;
    assert!(runs.iter().all(|r| r.state == "Sent"), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_cannot_be_sent_is_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), Durability::Normal).unwrap());
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    store.create_association(&definition("missing", "No-Such-Document", "rate(1 day)"), start).unwrap();
    let driver = Associations::new(store.clone(), RunCommand::new(store.clone()), clock);
    assert_eq!(driver.tick(true).await.unwrap().refused, 1);
    let run = &store.get_association("missing").unwrap().unwrap().runs[0];
    assert_eq!((run.state.as_str(), run.detail.as_str()), ("Failed", "no document named No-Such-Document"));
}
