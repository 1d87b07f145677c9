//! `aws:loop` end to end on the SQLite store: for-each over a parameter, do-while
//! with LoopCondition, MaxIterations, failures inside the loop, jumps inside the
//! loop, references between its steps, validation, cancel, and resuming a loop in
//! the middle of an iteration after the engine stops.

use std::sync::atomic::Ordering;

use bosun_engine::{EngineError, ExecutionStatus, SignalKind, StepStatus, StoredExecution};
use serde_json::{Map, Value, json};

use crate::support::{Fixture, assert_status, snapshot};

fn names(e: &StoredExecution) -> Vec<&str> {
    e.steps.iter().map(|s| s.name.as_str()).collect()
}

/// The outputs `key` of every run of step `name`, in order.
fn outputs_of(e: &StoredExecution, name: &str, key: &str) -> Vec<Value> {
    e.steps.iter().filter(|s| s.name == name).map(|s| s.outputs.get(key).cloned().unwrap_or(Value::Null)).collect()
}

#[tokio::test]
async fn iterates_over_a_string_list_parameter() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
parameters:
  Hosts: { type: StringList }
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: "{{ Hosts }}"
      Steps:
        - name: ping
          action: bosun:echo
          inputs: { Host: "{{ each.CurrentIteratorValue }}", N: "{{ each.CurrentIteration }}" }
    outputs:
      - { Name: Count, Selector: $.CurrentIteration, Type: Integer }
  - name: after
    action: bosun:echo
    inputs: { Last: "{{ each.CurrentIteratorValue }}", Ping: "{{ ping.Host }}" }
outputs: [each.Count, each.CurrentIteratorValue, after.Ping]
"#;
    let e = f.run(doc, &[("Hosts", "web1,web2,db1")]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["each", "ping", "ping", "ping", "after"]);
    assert_eq!(outputs_of(&e, "ping", "Host"), [json!("web1"), json!("web2"), json!("db1")]);
    assert_eq!(outputs_of(&e, "ping", "N"), [json!(1), json!(2), json!(3)]);
    let iterations: Vec<_> = e.steps.iter().map(|s| s.iteration).collect();
    assert_eq!(iterations, [None, Some(1), Some(2), Some(3), None], "each run inside the loop records its iteration");
    assert_eq!(e.steps[0].status, StepStatus::Success);
    assert_eq!(e.steps[0].inputs, json!({"Iterators": ["web1", "web2", "db1"]}), "the resolved items are kept with the loop");
    assert_eq!(e.steps[0].outputs["CurrentIteration"], json!(3));
    assert_eq!(e.record.outputs["each.Count"], json!(3));
    assert_eq!(e.record.outputs["each.CurrentIteratorValue"], json!("db1"));
    assert_eq!(e.record.outputs["after.Ping"], json!("db1"));
}

#[tokio::test]
async fn an_empty_list_runs_no_iteration() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: []
      Steps:
        - { name: never, action: bosun:echo, inputs: {} }
  - { name: after, action: bosun:echo, inputs: { N: "{{ each.CurrentIteration }}" } }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["each", "after"]);
    assert_eq!(e.steps[1].outputs["N"], json!(0));
}

#[tokio::test]
async fn a_loop_condition_repeats_while_it_holds() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: poll
    action: aws:loop
    inputs:
      LoopCondition:
        Variable: "{{ probe.Seen }}"
        NumericLesser: 3
      Steps:
        - name: probe
          action: bosun:echo
          inputs: { Seen: "{{ poll.CurrentIteration }}" }
  - { name: done, action: bosun:echo, inputs: { Polls: "{{ poll.CurrentIteration }}" } }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["poll", "probe", "probe", "probe", "done"], "evaluated after each iteration; false after the third");
    assert_eq!(e.steps[4].outputs["Polls"], json!(3));
    assert!(!e.steps[0].outputs.contains_key("CurrentIteratorValue"), "a do-while loop has no iterator value");
}

#[tokio::test]
async fn max_iterations_ends_the_loop() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: forever
    action: aws:loop
    inputs:
      MaxIterations: 4
      LoopCondition: { Variable: "{{ spin.State }}", StringEquals: running }
      Steps:
        - { name: spin, action: bosun:echo, inputs: { State: running } }
  - name: capped
    action: aws:loop
    inputs:
      MaxIterations: 2
      Iterators: [a, b, c]
      Steps:
        - { name: item, action: bosun:echo, inputs: { Item: "{{ capped.CurrentIteratorValue }}" } }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["forever", "spin", "spin", "spin", "spin", "capped", "item", "item"]);
    assert_eq!(e.steps[0].outputs["CurrentIteration"], json!(4));
    assert_eq!(outputs_of(&e, "item", "Item"), [json!("a"), json!("b")]);
}

/// Item `b` fails: `check` branches to `bad`; other items end their iteration at `good` (isEnd).
const FAILING: &str = r#"
schemaVersion: "0.3"
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: [a, b, c]
      Steps:
        - name: check
          action: aws:branch
          inputs:
            Choices:
              - { NextStep: bad, Variable: "{{ each.CurrentIteratorValue }}", StringEquals: b }
            Default: good
        - name: good
          action: bosun:echo
          inputs: { Item: "{{ each.CurrentIteratorValue }}" }
          isEnd: true
        - name: bad
          action: bosun:echo
          inputs: { Fail: "bad item {{ each.CurrentIteratorValue }}" }
  - { name: after, action: bosun:echo, inputs: {} }
"#;

#[tokio::test]
async fn a_failing_step_inside_a_loop_aborts_it() {
    let f = Fixture::new();
    let e = f.run(FAILING, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(names(&e), ["each", "check", "good", "check", "bad"]);
    assert_eq!(e.steps[0].status, StepStatus::Failed, "the loop fails with its step");
    assert_eq!(e.steps[0].failure_message.as_deref(), Some("step \"bad\" Failed: bad item b"));
    assert_eq!(e.steps[0].outputs["CurrentIteration"], json!(2));
    assert_eq!(
        e.record.failure_message.as_deref(),
        Some("step \"each\" Failed: step \"bad\" Failed: bad item b"),
        "the loop is the failed critical step"
    );

    // The loop's own onFailure decides what follows a failed loop.
    let doc = FAILING.replace("    action: aws:loop\n", "    action: aws:loop\n    onFailure: Continue\n");
    let e = f.run(&doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["each", "check", "good", "check", "bad", "after"]);
    assert_eq!(e.steps[0].status, StepStatus::Failed);
}

#[tokio::test]
async fn on_failure_continue_inside_a_loop_goes_on_with_the_loop() {
    let f = Fixture::new();
    let doc = FAILING.replace(
        "inputs: { Fail: \"bad item {{ each.CurrentIteratorValue }}\" }",
        "inputs: { Fail: \"bad item\" }\n          onFailure: Continue",
    );
    let e = f.run(&doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["each", "check", "good", "check", "bad", "check", "good", "after"]);
    assert_eq!(e.steps[0].status, StepStatus::Success);
    assert_eq!(e.steps[4].status, StepStatus::Failed);
    assert_eq!(outputs_of(&e, "good", "Item"), [json!("a"), json!("c")]);
}

#[tokio::test]
async fn next_step_and_references_inside_a_loop() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: [x, y]
      Steps:
        - name: first
          action: bosun:echo
          inputs: { Value: "v-{{ each.CurrentIteratorValue }}" }
          nextStep: third
        - { name: skipped, action: bosun:echo, inputs: {} }
        - name: third
          action: bosun:echo
          inputs: { Seen: "{{ first.Value }}", Iteration: "{{ each.CurrentIteration }}" }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(names(&e), ["each", "first", "third", "first", "third"]);
    assert_eq!(outputs_of(&e, "third", "Seen"), [json!("v-x"), json!("v-y")], "each iteration sees its own outputs");
    assert_eq!(outputs_of(&e, "third", "Iteration"), [json!(1), json!(2)]);
}

#[tokio::test]
async fn validation_points_at_steps_inside_a_loop() {
    let f = Fixture::new();
    let doc = r#"schemaVersion: "0.3"
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: [a]
      Steps:
        - name: one
          action: aws:frobnicate
        - name: two
          action: bosun:echo
          nextStep: after
  - { name: after, action: bosun:echo }
"#;
    let error = f.engine.check_document(&snapshot("test", doc), &Map::new()).unwrap_err();
    let EngineError::InvalidDocument(errors) = error else { panic!("not a document error: {error}") };
    assert_eq!(
        errors,
        [
            "test.yaml:9:19: mainSteps[0].inputs.Steps[0].action: unknown action \"aws:frobnicate\"",
            "test.yaml:12:21: mainSteps[0].inputs.Steps[1].nextStep: step \"after\" is outside the loop \"each\"; a step inside a loop can only go to steps of the same loop",
        ]
    );
}

#[tokio::test]
async fn cancel_inside_a_loop_cancels_the_loop() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: [a, b]
      Steps:
        - { name: hold, action: aws:pause, inputs: {} }
  - { name: after, action: bosun:echo, inputs: {} }
"#;
    let id = f.start(doc, &[]).await;
    f.until(&id, |e| e.record.status == ExecutionStatus::Waiting).await;
    f.engine.signal(&id, SignalKind::Resume, "ops", None).await.unwrap();
    f.until(&id, |e| e.steps.len() == 3 && e.record.status == ExecutionStatus::Waiting).await;
    f.engine.signal(&id, SignalKind::Cancel, "ops", None).await.unwrap();
    let e = f.wait(&id).await;
    assert_status(&e, ExecutionStatus::Cancelled);
    assert_eq!(names(&e), ["each", "hold", "hold"]);
    assert_eq!(e.steps.iter().map(|s| s.status).collect::<Vec<_>>(), [StepStatus::Cancelled, StepStatus::Success, StepStatus::Cancelled]);
}

/// The engine stops while the second iteration sleeps; a new engine finishes the loop from
/// the committed state: the same iteration, the same step, and no step run twice.
#[test]
fn a_loop_resumes_in_the_middle_of_an_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: each
    action: aws:loop
    inputs:
      Iterators: [PT0S, PT2S, PT0S]
      Steps:
        - { name: count, action: plugin:test/count, inputs: { Item: "{{ each.CurrentIteration }}" } }
        - { name: nap, action: aws:sleep, inputs: { Duration: "{{ each.CurrentIteratorValue }}" } }
  - { name: after, action: bosun:echo, inputs: { Iterations: "{{ each.CurrentIteration }}" } }
"#;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (id, first_calls) = runtime.block_on(async {
        let f = Fixture::on_path(dir.path(), false);
        let id = f.start(doc, &[]).await;
        let e = f.until(&id, |e| e.steps.len() == 5 && e.steps[4].status == StepStatus::InProgress).await;
        assert_eq!(e.steps[0].outputs["CurrentIteration"], json!(2));
        (id, f.actions.calls.load(Ordering::SeqCst))
    });
    runtime.shutdown_background();
    assert_eq!(first_calls, 2);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (e, second_calls) = runtime.block_on(async {
        let f = Fixture::on_path(dir.path(), false);
        assert_eq!(f.engine.resume_all().await.unwrap(), 1);
        let e = f.wait(&id).await;
        (e, f.actions.calls.load(Ordering::SeqCst))
    });
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(second_calls, 1, "only the third iteration's count ran on the second engine");
    assert_eq!(names(&e), ["each", "count", "nap", "count", "nap", "count", "nap", "after"]);
    assert_eq!(outputs_of(&e, "count", "Calls"), [json!(1), json!(2), json!(1)]);
    assert!(e.steps.iter().all(|s| s.attempt == 1 && s.resumed == 0 && s.status == StepStatus::Success));
    assert_eq!(e.steps[7].outputs["Iterations"], json!(3));
}
