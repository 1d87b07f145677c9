//! Resuming after the engine stops: a new engine over the same store picks up
//! every unfinished execution from its last committed transition. The first
//! engine is stopped the hard way: its runtime is dropped mid-flight.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::Ordering;

use bosun_engine::{ExecutionStatus, StepStatus, StoredExecution};

use crate::support::{Fixture, assert_status};

/// Runs `first` on an engine whose runtime is then dropped, and returns its result.
fn on_first_engine<T, F: Future<Output = T>>(path: &Path, first: impl FnOnce(Fixture) -> F) -> T {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(first(Fixture::on_path(path, true)));
    runtime.shutdown_background();
    result
}

/// Resumes on a second engine and waits for the execution to end.
fn resume_and_wait(path: &Path, id: &str) -> (StoredExecution, usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let f = Fixture::on_path(path, false);
        assert_eq!(f.engine.resume_all().await.unwrap(), 1);
        let e = f.wait(id).await;
        (e, f.actions.calls.load(Ordering::SeqCst))
    })
}

#[test]
fn a_sleep_in_flight_resumes_with_its_wake_time() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: a, action: bosun:echo, inputs: {} }\n  - { name: nap, action: aws:sleep, inputs: { Duration: PT2S } }\n  - { name: b, action: bosun:echo, inputs: {} }\n";
    let (id, wake_at) = on_first_engine(dir.path(), |f| async move {
        let id = f.start(doc, &[]).await;
        let e = f.until(&id, |e| e.steps.len() == 2).await;
        (id, e.steps[1].wake_at.unwrap())
    });
    let (e, _) = resume_and_wait(dir.path(), &id);
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(e.steps.len(), 3, "each step ran once");
    assert_eq!(e.steps[1].wake_at.unwrap(), wake_at, "the wake-up time was kept");
    assert!(e.steps[1].ended_at.unwrap() >= wake_at);
}

#[test]
fn a_non_idempotent_step_in_flight_fails_and_is_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: risky, action: plugin:test/hang, inputs: {}, maxAttempts: 3 }\n  - { name: never, action: bosun:echo, inputs: {} }\n";
    let id = on_first_engine(dir.path(), |f| async move {
        let id = f.start(doc, &[]).await;
        f.until(&id, |e| e.steps.first().is_some_and(|s| s.status == StepStatus::InProgress)).await;
        id
    });
    let (e, _) = resume_and_wait(dir.path(), &id);
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.steps.len(), 1);
    assert_eq!(e.steps[0].attempt, 1, "no retry of a step that may have had its effect");
    assert_eq!(
        e.steps[0].failure_message.as_deref(),
        Some("the step was in progress when Bosun stopped; action plugin:test/hang is not idempotent, so it was not run again")
    );
}

#[test]
fn an_idempotent_step_in_flight_runs_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: before, action: plugin:test/count, inputs: {} }\n  - { name: safe, action: plugin:test/idem, inputs: {} }\n  - { name: after, action: bosun:echo, inputs: {} }\n";
    let id = on_first_engine(dir.path(), |f| async move {
        let id = f.start(doc, &[]).await;
        f.until(&id, |e| e.steps.len() == 2).await;
        id
    });
    let (e, calls) = resume_and_wait(dir.path(), &id);
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(calls, 1, "only the in-flight step ran on the second engine; the completed one did not run again");
    assert_eq!(e.steps.iter().map(|s| s.resumed).collect::<Vec<_>>(), [0, 1, 0]);
}

#[test]
fn an_approval_sent_while_no_engine_runs_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: gate, action: aws:approve, inputs: { Approvers: [alice] } }\n  - { name: pause, action: aws:pause, inputs: {} }\n  - { name: after, action: bosun:echo, inputs: {} }\n";
    let id = on_first_engine(dir.path(), |f| async move {
        let id = f.start(doc, &[]).await;
        f.until(&id, |e| e.record.status == ExecutionStatus::Waiting).await;
        id
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let f = Fixture::on_path(dir.path(), false);
        // Sent before any engine drives the execution again, as the CLI does while `bosun dev` is down.
        f.engine.signal(&id, bosun_engine::SignalKind::Approve, "alice", Some("go".into())).await.unwrap();
        assert_eq!(f.engine.resume_all().await.unwrap(), 1);
        let e = f.until(&id, |e| e.steps.len() == 2 && e.steps[1].status == StepStatus::Waiting).await;
        assert_eq!(e.steps[0].status, StepStatus::Success, "the approval sent while down was used");
        assert_eq!(e.steps[0].decisions.len(), 1);
        f.engine.signal(&id, bosun_engine::SignalKind::Resume, "ops", None).await.unwrap();
        assert_status(&f.wait(&id).await, ExecutionStatus::Success);
    });
}

#[test]
fn a_started_execution_without_step_history_fails_instead_of_succeeding() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: a, action: bosun:echo, inputs: {} }\n";
    let id = on_first_engine(dir.path(), |f| async move {
        let id = f.start(doc, &[]).await;
        f.until(&id, |e| e.record.status.is_terminal()).await;
        id
    });
    // The same execution as if its history had been lost: InProgress, no steps.
    let store = bosun_store::Store::open(dir.path(), bosun_store::Durability::Normal).unwrap();
    let mut stored = store.load_execution(&id).unwrap().unwrap();
    let copy = "lost-history";
    stored.record.id = copy.into();
    stored.record.status = ExecutionStatus::InProgress;
    store.commit_blocking(vec![bosun_engine::Change::CreateExecution { record: stored.record, document: stored.document }]).unwrap();
    drop(store);
    let (e, _) = resume_and_wait(dir.path(), copy);
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.record.failure_message.as_deref(), Some("the execution has started but its step history is missing"));
}
