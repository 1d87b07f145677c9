//! Control flow end to end on the SQLite store: outputs, branches, failures,
//! retries, timeouts, approvals, pause, cancel and child executions.

use bosun_engine::{ExecutionStatus, SignalKind, StepStatus};
use serde_json::json;

use crate::support::{Fixture, assert_status, statuses};

#[tokio::test]
async fn outputs_flow_between_steps_and_to_the_document() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
parameters:
  Names: { type: StringList }
  Count: { type: Integer, default: 3 }
mainSteps:
  - name: first
    action: bosun:echo
    inputs: { Names: "{{ Names }}", Count: "{{ Count }}", Id: "{{ automation:EXECUTION_ID }}" }
    outputs:
      - { Name: FirstName, Selector: "$.Names[0]", Type: String }
  - name: second
    action: bosun:echo
    inputs: { Greeting: "hello {{ first.FirstName }} x{{ Count }}", All: ["{{ Names }}"] }
outputs: [first.FirstName, second.Greeting, second.All, first.Count]
"#;
    let e = f.run(doc, &[("Names", "ann,bob")]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(e.record.outputs["first.FirstName"], json!("ann"));
    assert_eq!(e.record.outputs["second.Greeting"], json!("hello ann x3"));
    assert_eq!(e.record.outputs["second.All"], json!(["ann", "bob"]));
    assert_eq!(e.record.outputs["first.Count"], json!(3));
    assert_eq!(e.steps[0].outputs["Id"], json!(e.record.id));
}

#[tokio::test]
async fn branch_jumps_and_is_end_stops() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
parameters:
  Size: { type: Integer }
mainSteps:
  - name: choose
    action: aws:branch
    inputs:
      Choices:
        - { NextStep: big, Variable: "{{ Size }}", NumericGreater: 10 }
        - And:
            - { Variable: "{{ Size }}", NumericGreaterOrEquals: 5 }
            - Not: { Variable: "{{ Size }}", NumericEquals: 7 }
          NextStep: medium
      Default: small
  - name: big
    action: bosun:echo
    inputs: { Size: big }
    isEnd: true
  - name: medium
    action: bosun:echo
    inputs: { Size: medium }
    nextStep: done
  - name: small
    action: bosun:echo
    inputs: { Size: small }
  - name: done
    action: bosun:echo
    inputs: {}
"#;
    let path = |e: &bosun_engine::StoredExecution| e.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(path(&f.run(doc, &[("Size", "20")]).await), ["choose", "big"]);
    assert_eq!(path(&f.run(doc, &[("Size", "6")]).await), ["choose", "medium", "done"]);
    assert_eq!(path(&f.run(doc, &[("Size", "7")]).await), ["choose", "small", "done"]);
}

#[tokio::test]
async fn on_failure_abort_continue_and_step() {
    let f = Fixture::new();
    let abort = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: bad, action: bosun:echo, inputs: { Fail: "disk full" } }
  - { name: never, action: bosun:echo, inputs: {} }
"#;
    let e = f.run(abort, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(statuses(&e), [("bad".to_string(), "Failed".to_string())]);
    assert_eq!(e.record.failure_message.as_deref(), Some("step \"bad\" Failed: disk full"));

    let cont = abort.replace("inputs: { Fail: \"disk full\" } }", "inputs: { Fail: \"disk full\" }, onFailure: Continue }");
    let e = f.run(&cont, &[]).await;
    assert_status(&e, ExecutionStatus::Success); // isCritical defaults to false with Continue
    assert_eq!(e.steps.len(), 2);

    let critical = cont.replace("onFailure: Continue }", "onFailure: Continue, isCritical: true }");
    assert_status(&f.run(&critical, &[]).await, ExecutionStatus::Failed);

    let jump = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: bad, action: bosun:echo, inputs: { Fail: boom }, onFailure: "step:cleanup" }
  - { name: skipped, action: bosun:echo, inputs: {} }
  - { name: cleanup, action: bosun:echo, inputs: { Cleaned: true } }
"#;
    let e = f.run(jump, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["bad", "cleanup"]);
    assert_eq!(e.steps[1].status, StepStatus::Success);
}

#[tokio::test]
async fn max_attempts_retries_then_fails() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: flaky, action: bosun:echo, inputs: { Fail: nope }, maxAttempts: 3 }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.steps.len(), 1);
    assert_eq!(e.steps[0].attempt, 3);
}

#[tokio::test]
async fn timeout_seconds_times_out_the_step() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: stuck, action: "plugin:test/hang", inputs: {}, timeoutSeconds: 1 }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::TimedOut);
    assert_eq!(e.steps[0].status, StepStatus::TimedOut);
    assert_eq!(e.steps[0].failure_message.as_deref(), Some("the step timed out after 1 seconds"));
}

#[tokio::test]
async fn approve_needs_enough_approvals_from_listed_approvers() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
parameters:
  Approvers: { type: StringList, default: [alice, bob] }
mainSteps:
  - name: gate
    action: aws:approve
    inputs: { Approvers: "{{ Approvers }}", MinRequiredApprovals: 2, Message: please }
  - { name: after, action: bosun:echo, inputs: { Decision: "{{ gate.ApprovalStatus }}" } }
"#;
    let id = f.start(doc, &[]).await;
    f.until(&id, |e| e.record.status == ExecutionStatus::Waiting).await;
    let denied = f.engine.signal(&id, SignalKind::Approve, "mallory", None).await.unwrap_err();
    assert_eq!(denied.to_string(), "\"mallory\" is not an approver of step gate; approvers: alice, bob");
    f.engine.signal(&id, SignalKind::Approve, "alice", Some("ok".into())).await.unwrap();
    f.until(&id, |e| e.steps[0].decisions.len() == 1).await;
    assert!(f.engine.signal(&id, SignalKind::Approve, "alice", None).await.is_err(), "a second decision by alice");
    f.engine.signal(&id, SignalKind::Approve, "bob", Some("go".into())).await.unwrap();
    let e = f.wait(&id).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(e.steps[1].outputs["Decision"], json!("Approved"));
    assert_eq!(e.steps[0].outputs["Comment"], json!("go"));

    let id = f.start(doc, &[]).await;
    f.until(&id, |e| e.record.status == ExecutionStatus::Waiting).await;
    f.engine.signal(&id, SignalKind::Reject, "bob", Some("not today".into())).await.unwrap();
    let e = f.wait(&id).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.steps[0].failure_message.as_deref(), Some("rejected by bob: not today"));
}

#[tokio::test]
async fn pause_waits_for_resume() {
    let f = Fixture::new();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: hold, action: aws:pause, inputs: {} }\n  - { name: go, action: bosun:echo, inputs: {} }\n";
    let id = f.start(doc, &[]).await;
    f.until(&id, |e| e.record.status == ExecutionStatus::Waiting).await;
    f.engine.signal(&id, SignalKind::Resume, "ops", None).await.unwrap();
    assert_status(&f.wait(&id).await, ExecutionStatus::Success);
}

#[tokio::test]
async fn cancel_during_sleep_runs_on_cancel_step() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: nap, action: aws:sleep, inputs: { Duration: PT1H }, onCancel: "step:tidy" }
  - { name: skipped, action: bosun:echo, inputs: {} }
  - { name: tidy, action: bosun:echo, inputs: { Tidy: yes } }
"#;
    let id = f.start(doc, &[]).await;
    f.until(&id, |e| e.steps.first().is_some_and(|s| s.wake_at.is_some())).await;
    f.engine.signal(&id, SignalKind::Cancel, "ops", None).await.unwrap();
    let e = f.wait(&id).await;
    assert_status(&e, ExecutionStatus::Cancelled);
    assert_eq!(statuses(&e), [("nap".into(), "Cancelled".into()), ("tidy".into(), "Success".into())]);
    assert!(f.engine.signal(&id, SignalKind::Cancel, "ops", None).await.is_err(), "cancelling an ended execution");
}

#[tokio::test]
async fn sleep_waits_for_its_duration() {
    let f = Fixture::new();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: nap, action: aws:sleep, inputs: { Duration: PT1S } }\n";
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    let step = &e.steps[0];
    assert!(step.ended_at.unwrap() >= step.wake_at.unwrap());
}

#[tokio::test]
async fn execute_automation_runs_a_child_and_returns_its_outputs() {
    let f = Fixture::new();
    let child = "schemaVersion: '0.3'\nparameters:\n  Who: { type: String }\nmainSteps:\n  - { name: hi, action: bosun:echo, inputs: { Text: 'hi {{ Who }}' } }\noutputs: [hi.Text]\n";
    f.store
        .create_document(&bosun_store::NewDocument {
            name: "child-doc",
            file_name: "child-doc.yaml",
            content: child,
            document_type: "Automation",
            schema_version: "0.3",
        })
        .unwrap();
    let parent = r#"
schemaVersion: "0.3"
mainSteps:
  - name: call
    action: aws:executeAutomation
    inputs: { DocumentName: child-doc, RuntimeParameters: { Who: [world] } }
  - { name: after, action: bosun:echo, inputs: { Said: "{{ call.Output }}", Child: "{{ call.ExecutionId }}" } }
"#;
    let e = f.run(parent, &[]).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(e.steps[1].outputs["Said"], json!({"hi.Text": "hi world"}));
    let child_id = e.steps[1].outputs["Child"].as_str().unwrap().to_string();
    let child = f.engine.get(&child_id).await.unwrap();
    assert_eq!(child.record.parent.unwrap().execution_id, e.record.id);

    let missing = parent.replace("child-doc,", "no-such-doc,");
    let e = f.run(&missing, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.steps[0].failure_message.as_deref(), Some("no document named \"no-such-doc\""));
}

#[tokio::test]
async fn mocks_replace_the_action_and_feed_selectors() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - name: describe
    action: plugin:test/count
    inputs: {}
    outputs: [{ Name: Ids, Selector: "$.Reservations..Instances..InstanceId", Type: StringList }]
  - { name: show, action: bosun:echo, inputs: { Ids: "{{ describe.Ids }}" } }
"#;
    let mock = json!({"Reservations": [{"Instances": [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}]}]});
    let mut mocks = serde_json::Map::new();
    mocks.insert("describe".into(), mock);
    let id = f.start_with(doc, &[], mocks).await;
    let e = f.wait(&id).await;
    assert_status(&e, ExecutionStatus::Success);
    assert_eq!(e.steps[1].outputs["Ids"], json!(["i-1", "i-2"]));
    assert_eq!(f.actions.calls.load(std::sync::atomic::Ordering::SeqCst), 0, "the mocked action must not run");
}

#[tokio::test]
async fn interpolation_failure_fails_the_step_with_the_reference() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: a, action: bosun:echo, inputs: { Fail: x }, onFailure: Continue }
  - { name: b, action: bosun:echo, inputs: { Uses: "{{ a.Fail }}" } }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    let message = e.steps[1].failure_message.clone().unwrap();
    assert!(message.starts_with("inputs: "), "{message}");
    assert!(message.contains("has not completed successfully"), "{message}");
}

#[tokio::test]
async fn command_documents_and_bad_parameters_are_refused() {
    let f = Fixture::new();
    let command = "schemaVersion: '2.2'\nmainSteps:\n  - { name: s, action: aws:runShellScript, inputs: { runCommand: [echo] } }\n";
    let request =
        bosun_engine::StartRequest { document: crate::support::snapshot("cmd", command), parameters: vec![], mocks: Default::default() };
    let error = f.engine.start(request).await.unwrap_err();
    assert!(matches!(error, bosun_engine::EngineError::InvalidDocument(_) | bosun_engine::EngineError::InvalidRequest(_)), "{error}");

    let doc = "schemaVersion: '0.3'\nparameters:\n  N: { type: Integer }\nmainSteps:\n  - { name: s, action: bosun:echo, inputs: {} }\n";
    let request = bosun_engine::StartRequest {
        document: crate::support::snapshot("p", doc),
        parameters: vec![("N".into(), bosun_document::params::ParamInput::Text("ten".into()))],
        mocks: Default::default(),
    };
    let error = f.engine.start(request).await.unwrap_err();
    assert!(error.to_string().starts_with("parameter N: "), "{error}");
}

#[tokio::test]
async fn a_panicking_action_fails_the_execution_instead_of_hanging_it() {
    let f = Fixture::new();
    let doc = "schemaVersion: '0.3'\nmainSteps:\n  - { name: boom, action: plugin:test/panic, inputs: {} }\n";
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    let message = e.record.failure_message.unwrap();
    assert!(message.starts_with("the engine could not go on with the execution: internal error"), "{message}");
}

#[tokio::test]
async fn the_failure_message_names_the_critical_step_not_a_later_non_critical_one() {
    let f = Fixture::new();
    let doc = r#"
schemaVersion: "0.3"
mainSteps:
  - { name: deploy, action: bosun:echo, inputs: { Fail: "deploy broke" }, onFailure: "step:notify" }
  - { name: skipped, action: bosun:echo, inputs: {} }
  - { name: notify, action: bosun:echo, inputs: { Fail: "mail server down" }, onFailure: Continue }
"#;
    let e = f.run(doc, &[]).await;
    assert_status(&e, ExecutionStatus::Failed);
    assert_eq!(e.record.failure_message.as_deref(), Some("step \"deploy\" Failed: deploy broke"));
}
