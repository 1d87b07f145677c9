//! Durability: `bosun dev` is killed with SIGKILL in the middle of a long
//! chain of steps and during an aws:sleep; after a restart every execution
//! ends as an uninterrupted run would, with no step done twice.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::support::{Dev, bosun, get, poll, start, wait_status, write};

const STEPS: usize = 3000;

fn long_chain(steps: usize) -> String {
    let mut doc = String::from("description: A long chain of echo steps.\nschemaVersion: \"0.3\"\nmainSteps:\n");
    for i in 0..steps {
        let _ = write!(doc, "  - name: S{i}\n    action: bosun:echo\n    inputs:\n      Index: {i}\n");
    }
    let _ = write!(doc, "  - name: Final\n    action: bosun:echo\n    inputs:\n      Total: \"{{{{ S{}.Index }}}}\"\n", steps - 1);
    doc.push_str("outputs:\n  - Final.Total\n");
    doc
}

fn steps(execution: &Value) -> &Vec<Value> {
    execution["steps"].as_array().unwrap_or_else(|| panic!("no steps in {execution}"))
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

#[test]
fn a_long_chain_survives_kill_9_without_running_a_step_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(dir.path(), "long-chain.yaml", &long_chain(STEPS));

    let dev = Dev::start(&data);
    let id = start(&data, &file, &[]);
    let done_at_kill = poll("more than 100 steps to complete", Duration::from_secs(120), || {
        let done = steps(&get(&data, &id)).iter().filter(|s| s["status"] == "Success").count();
        (done > 100).then_some(done)
    });
    dev.kill();
    let at_kill = get(&data, &id);
    let done = steps(&at_kill).iter().filter(|s| s["status"] == "Success").count();
    eprintln!("killed bosun dev with {done} of {} steps done ({done_at_kill} seen before the kill)", STEPS + 1);
    assert_ne!(at_kill["status"], "Success", "the run ended before the kill (after {done_at_kill} steps); make the chain longer");

    let dev = Dev::start(&data);
    let execution = wait_status(&data, &id, &["Success", "Failed", "Cancelled", "TimedOut"], Duration::from_secs(300));
    drop(dev);
    assert_eq!(execution["status"], "Success", "{}", execution["failureMessage"]);

    let uninterrupted = bosun(&["automation", "run", "--local", file.to_str().unwrap(), "--output", "json"]).expect_code(0).json();
    assert_eq!(execution["outputs"], uninterrupted["outputs"]);
    assert_eq!(execution["outputs"]["Final.Total"], (STEPS - 1) as u64);

    let records = steps(&execution);
    assert_eq!(records.len(), STEPS + 1, "one record per step");
    let mut names = HashSet::new();
    let mut resumed = 0;
    for (i, step) in records.iter().enumerate() {
        assert_eq!(step["seq"], i as u64);
        assert!(names.insert(step["name"].as_str().unwrap_or_default().to_string()), "step {} has two records", step["name"]);
        assert_eq!(step["status"], "Success", "{step}");
        assert_eq!(step["attempt"], 1, "{step}");
        let r = step["resumed"].as_u64().unwrap_or(99);
        assert!(r <= 1, "{step}");
        resumed += r;
    }
    assert!(resumed <= 1, "{resumed} steps were resumed; only the one in flight at the kill may be");
    assert_eq!(
        records[..STEPS].iter().map(|s| s["outputs"]["Index"].clone()).collect::<Vec<_>>(),
        (0..STEPS).map(Value::from).collect::<Vec<_>>()
    );
}

const SLEEPER: &str = r#"
description: Sleeps between two echo steps.
schemaVersion: "0.3"
mainSteps:
  - name: Before
    action: bosun:echo
    inputs:
      Message: before
  - name: Nap
    action: aws:sleep
    inputs:
      Duration: PT5S
  - name: After
    action: bosun:echo
    inputs:
      Message: after
outputs:
  - After.Message
"#;

#[test]
fn a_sleep_keeps_its_wake_up_time_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(dir.path(), "sleeper.yaml", SLEEPER);

    let dev = Dev::start(&data);
    let id = start(&data, &file, &[]);
    let wake_at = poll("the sleep to start", Duration::from_secs(60), || {
        let execution = get(&data, &id);
        steps(&execution).iter().find(|s| s["name"] == "Nap" && s["status"] == "InProgress").map(|s| time(&s["wakeAt"]))
    });
    dev.kill();
    assert!(Utc::now() < wake_at, "the kill came after the wake-up time");

    let _dev = Dev::start(&data);
    let execution = wait_status(&data, &id, &["Success", "Failed", "Cancelled", "TimedOut"], Duration::from_secs(60));
    assert_eq!(execution["status"], "Success", "{}", execution["failureMessage"]);
    assert_eq!(execution["outputs"]["After.Message"], "after");
    let naps: Vec<&Value> = steps(&execution).iter().filter(|s| s["name"] == "Nap").collect();
    assert_eq!(naps.len(), 1, "{naps:?}");
    assert_eq!(time(&naps[0]["wakeAt"]), wake_at, "the wake-up time changed");
    assert!(time(&naps[0]["endedAt"]) >= wake_at);
    let after = steps(&execution).iter().find(|s| s["name"] == "After").unwrap();
    assert!(time(&after["startedAt"]) >= wake_at);
    assert!(time(&execution["updatedAt"]) >= wake_at);
}

#[test]
fn only_one_process_drives_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(dir.path(), "sleeper.yaml", SLEEPER);
    let _dev = Dev::start(&data);
    let run = bosun(&["automation", "run", "--data-dir", data.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(run.expect_code(1).stderr.contains("use `bosun automation start"), "{}", run.stderr);
    let second = bosun(&["dev", "--data-dir", data.to_str().unwrap()]);
    assert!(second.expect_code(1).stderr.contains("already driving"), "{}", second.stderr);
}
