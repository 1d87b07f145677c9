//! Signals through the CLI while `bosun dev` drives: approve, reject, and
//! cancel of a sleeping execution; `automation run` against a data directory.

use std::time::Duration;

use crate::support::{Dev, bosun, get, start, wait_status, write};

const APPROVAL: &str = r#"
schemaVersion: "0.3"
parameters:
  Change:
    type: String
mainSteps:
  - name: Approve
    action: aws:approve
    inputs:
      Message: "Approve {{ Change }}?"
      Approvers: [alice]
  - name: Apply
    action: bosun:echo
    inputs:
      Applied: "{{ Change }}"
outputs:
  - Apply.Applied
"#;

const LONG_SLEEP: &str = r#"
schemaVersion: "0.3"
mainSteps:
  - name: Nap
    action: aws:sleep
    inputs:
      Duration: PT1H
  - name: Never
    action: bosun:echo
    inputs:
      Message: unreachable
"#;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn approve_reject_and_cancel_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap().to_string();
    let approval = write(dir.path(), "approval.yaml", APPROVAL);
    let sleeper = write(dir.path(), "sleeper.yaml", LONG_SLEEP);
    let _dev = Dev::start(&data);

    let approved = start(&data, &approval, &["Change=deploy"]);
    let rejected = start(&data, &approval, &["Change=drop tables"]);
    let cancelled = start(&data, &sleeper, &[]);

    wait_status(&data, &approved, &["Waiting"], LIMIT);
    let stranger = bosun(&["automation", "approve", "--data-dir", &d, &approved, "--approver", "mallory"]);
    assert!(stranger.expect_code(1).stderr.contains("not an approver"), "{}", stranger.stderr);
    bosun(&["automation", "approve", "--data-dir", &d, &approved, "--approver", "alice", "--comment", "ship it"]).expect_code(0);
    let execution = wait_status(&data, &approved, &["Success", "Failed"], LIMIT);
    assert_eq!(execution["status"], "Success", "{execution}");
    assert_eq!(execution["outputs"]["Apply.Applied"], "deploy");
    let decision = &execution["steps"][0]["decisions"][0];
    assert_eq!((&decision["approver"], &decision["approved"], &decision["comment"]), (&"alice".into(), &true.into(), &"ship it".into()));

    wait_status(&data, &rejected, &["Waiting"], LIMIT);
    bosun(&["automation", "reject", "--data-dir", &d, &rejected, "--approver", "alice", "--comment", "no"]).expect_code(0);
    let execution = wait_status(&data, &rejected, &["Success", "Failed"], LIMIT);
    assert_eq!(execution["status"], "Failed");
    assert!(execution["failureMessage"].as_str().is_some_and(|m| m.contains("rejected by alice")), "{execution}");
    assert_eq!(execution["steps"].as_array().map(Vec::len), Some(1));

    crate::support::poll("the sleep to start", LIMIT, || {
        let e = get(&data, &cancelled);
        (e["steps"][0]["status"] == "InProgress").then_some(())
    });
    bosun(&["automation", "cancel", "--data-dir", &d, &cancelled]).expect_code(0);
    let execution = wait_status(&data, &cancelled, &["Cancelled", "Failed", "Success"], LIMIT);
    assert_eq!(execution["status"], "Cancelled", "{execution}");

    let late = bosun(&["automation", "approve", "--data-dir", &d, &approved, "--approver", "alice"]);
    assert!(late.expect_code(1).stderr.contains("already ended"), "{}", late.stderr);
    let unknown = bosun(&["automation", "get", "--data-dir", &d, "no-such-id"]);
    assert!(unknown.expect_code(1).stderr.contains("no execution with id no-such-id"), "{}", unknown.stderr);
    let list = bosun(&["automation", "list", "--data-dir", &d, "--output", "json"]).expect_code(0).json();
    assert_eq!(list.as_array().map(Vec::len), Some(3));
}

#[test]
fn run_against_a_data_directory_waits_for_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let run = bosun(&["automation", "run", "--data-dir", d, "--document", "Bosun-HelloWorld", "-p", "Name=Grace", "--output", "json"]);
    let result = run.expect_code(0).json();
    assert_eq!(result["outputs"]["Greet.Greeting"], "Hello, Grace!");
    assert_eq!(result["documentVersion"], "1");
    let stored = get(&data, result["executionId"].as_str().unwrap());
    assert_eq!(stored["status"], "Success");
}
