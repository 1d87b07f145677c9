//! A maintenance window on a driven clock: it opens, runs tasks by priority, a task
//! still running at the close is cancelled and TimedOut, no task starts after the
//! cutoff, and an Automation task starts a runbook.

use std::sync::Arc;

use bosun_protocol::Target;
use bosun_protocol::agent::Platform;
use bosun_protocol::fleet::CreateActivation;
use bosun_protocol::window::{CreateWindow, RegisterTarget, RegisterTask, WindowExecutionView};
use bosun_store::{Durability, Store};
use chrono::{DateTime, Utc};

use super::MaintenanceWindows;
use crate::associations::{Clock as _, ManualClock};
use crate::run_command::RunCommand;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn task(name: &str, kind: &str, document: &str, target: Option<&str>, priority: u32) -> RegisterTask {
    RegisterTask {
        name: name.into(),
        task_type: kind.into(),
        document_name: document.into(),
        document_version: None,
        parameters: if kind == "RUN_COMMAND" {
            serde_json::from_value(serde_json::json!({"commands": ["true"]})).unwrap()
        } else {
            Default::default()
        },
        window_target: target.map(str::to_string),
        targets: vec![],
        priority,
        max_concurrency: None,
        max_errors: None,
    }
}

fn latest(store: &Store, window: &str) -> WindowExecutionView {
    store.window_history(window, 1).unwrap().unwrap().remove(0)
}

fn statuses(execution: &WindowExecutionView) -> Vec<(String, String)> {
    execution.tasks.iter().map(|t| (t.name.clone(), t.status.clone())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_opens_runs_by_priority_cuts_off_and_closes_on_a_driven_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), Durability::Normal).unwrap());
    crate::runbooks::load_builtins(&store).unwrap();
    let activation = store.create_activation(&CreateActivation { registration_limit: Some(1), ..Default::default() }).unwrap();
    let platform = Platform { platform_type: "Linux".into(), hostname: "quiet".into(), ..Default::default() };
    // A registered node that never polls: its invocations stay Pending.
    let quiet = store.register_node(&activation.activation_id, &activation.activation_code, &platform).await.unwrap().node_id;
    let run_command = RunCommand::new(store.clone());
    let engine = crate::cli::engine(&store, dir.path(), Some(run_command.clone())).unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-01-01T00:00:00Z")));
    let windows = MaintenanceWindows::new(store.clone(), run_command, engine.clone(), clock.clone());

    let definition = CreateWindow {
        name: "nightly".into(),
        description: String::new(),
        schedule_expression: "cron(0 2 * * ? *)".into(),
        schedule_timezone: None,
        duration_hours: 3,
        cutoff_hours: 1,
        allow_unassociated_targets: false,
    };
    store.create_window(&definition, clock.now()).unwrap();
    store
        .register_window_target(
            "nightly",
            &RegisterTarget { name: "gone".into(), targets: vec![Target::Ids(vec!["mi-00000000000000000".into()])] },
        )
        .unwrap();
    store
        .register_window_target("nightly", &RegisterTarget { name: "quiet".into(), targets: vec![Target::Ids(vec![quiet.clone()])] })
        .unwrap();
    store.register_window_task("nightly", &task("first", "RUN_COMMAND", "AWS-RunShellScript", Some("gone"), 1)).unwrap();
    store.register_window_task("nightly", &task("second", "RUN_COMMAND", "AWS-RunShellScript", Some("quiet"), 2)).unwrap();
    store.register_window_task("nightly", &task("third", "AUTOMATION", "Bosun-HelloWorld", None, 3)).unwrap();

    clock.set_to(clock.now() + chrono::Duration::minutes(119));
    windows.tick().await.unwrap();
    assert!(store.window_history("nightly", 10).unwrap().unwrap().is_empty(), "opened before its time");

    // Opens: priority 1 starts alone.
    clock.set_to(at("2026-01-01T02:00:30Z"));
    windows.tick().await.unwrap();
    assert_eq!(statuses(&latest(&store, "nightly")), pairs(&[("first", "InProgress"), ("second", "Pending"), ("third", "Pending")]));
    // Its only node is unknown, so it fails at once; priority 2 starts next.
    windows.tick().await.unwrap();
    let execution = latest(&store, "nightly");
    assert_eq!(statuses(&execution), pairs(&[("first", "Failed"), ("second", "InProgress"), ("third", "Pending")]));
    assert_eq!(execution.tasks[0].nodes[0].status, "Undeliverable");
    // Past the cutoff the running task goes on; nothing new starts.
    clock.set_to(at("2026-01-01T04:30:00Z"));
    windows.tick().await.unwrap();
    assert_eq!(statuses(&latest(&store, "nightly")), pairs(&[("first", "Failed"), ("second", "InProgress"), ("third", "Pending")]));
    // The close: the running task is cancelled and TimedOut, the rest Skipped.
    clock.set_to(at("2026-01-01T05:00:30Z"));
    windows.tick().await.unwrap();
    let execution = latest(&store, "nightly");
    assert_eq!(execution.status, "TimedOut");
    assert_eq!(statuses(&execution), pairs(&[("first", "Failed"), ("second", "TimedOut"), ("third", "Skipped")]));
    let cancelled = store.get_command(execution.tasks[1].run_id.as_deref().unwrap()).unwrap().unwrap();
    assert!(["Cancelled", "Cancelling"].contains(&cancelled.status.as_str()), "{}", cancelled.status);

    // The next night the first task takes past the cutoff: nothing else starts.
    clock.set_to(at("2026-01-02T02:00:30Z"));
    windows.tick().await.unwrap();
    clock.set_to(at("2026-01-02T04:00:30Z"));
    windows.tick().await.unwrap();
    let execution = latest(&store, "nightly");
    assert_eq!(execution.status, "Failed");
    assert_eq!(statuses(&execution), pairs(&[("first", "Failed"), ("second", "Skipped"), ("third", "Skipped")]));
    assert!(execution.tasks[1].detail.contains("cutoff"), "{}", execution.tasks[1].detail);

    // An Automation task starts its runbook (driven by the server's engine loop).
    let automation = CreateWindow { name: "runbook".into(), cutoff_hours: 0, duration_hours: 1, ..definition };
    store.create_window(&automation, clock.now()).unwrap();
    store.register_window_task("runbook", &task("hello", "AUTOMATION", "Bosun-HelloWorld", None, 1)).unwrap();
    clock.set_to(at("2026-01-03T02:00:01Z"));
    windows.tick().await.unwrap();
    let started = latest(&store, "runbook");
    let run = started.tasks[0].run_id.clone().expect("the runbook was started");
    assert_eq!(engine.get(&run).await.unwrap().record.document_name, "Bosun-HelloWorld");
}
