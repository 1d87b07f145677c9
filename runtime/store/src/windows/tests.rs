//! Windows, their targets and tasks with their checks, and openings: once per fire,
//! not late after the whole duration passed.

use bosun_protocol::Target;
use bosun_protocol::window::{CreateWindow, RegisterTarget, RegisterTask};
use chrono::{DateTime, Utc};

use crate::{Durability, FleetError, Store};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn window(name: &str) -> CreateWindow {
    CreateWindow {
        name: name.into(),
        description: String::new(),
        schedule_expression: "cron(0 2 * * ? *)".into(),
        schedule_timezone: None,
        duration_hours: 3,
        cutoff_hours: 1,
        allow_unassociated_targets: false,
    }
}

fn task(name: &str, target: Option<&str>) -> RegisterTask {
    RegisterTask {
        name: name.into(),
        task_type: "RUN_COMMAND".into(),
        document_name: "AWS-RunShellScript".into(),
        document_version: None,
        parameters: Default::default(),
        window_target: target.map(str::to_string),
        targets: vec![],
        priority: 1,
        max_concurrency: None,
        max_errors: None,
    }
}

fn field(error: FleetError) -> String {
    match error {
        FleetError::Invalid { field, .. } => field,
        other => panic!("not a field error: {other}"),
    }
}

#[test]
fn windows_open_once_per_fire_with_their_tasks_and_not_late() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let created = store.create_window(&window("nightly"), at("2026-01-01T00:00:00Z")).unwrap();
    assert_eq!(created.next_open_at.as_deref(), Some("2026-01-01T02:00:00.000Z"));
    let target = store
        .register_window_target("nightly", &RegisterTarget { name: "web".into(), targets: vec![Target::parse("tag:Role=web").unwrap()] })
        .unwrap();
    let registered = store.register_window_task("nightly", &task("patch", Some("web"))).unwrap();
    assert_eq!(registered.task.window_target.as_deref(), Some(target.window_target_id.as_str()));

    assert!(store.open_due_windows(at("2026-01-01T01:59:59Z")).unwrap().is_empty());
    assert_eq!(store.open_due_windows(at("2026-01-01T02:00:00Z")).unwrap().len(), 1);
    assert!(store.open_due_windows(at("2026-01-01T02:00:01Z")).unwrap().is_empty());
    let open = store.open_window_executions().unwrap();
    assert_eq!((open.len(), open[0].tasks.len()), (1, 1));
    assert_eq!(open[0].tasks[0].targets, vec![Target::parse("tag:Role=web").unwrap()]);
    assert_eq!(open[0].cutoff_at, at("2026-01-01T04:00:00Z"));
    assert_eq!(open[0].closes_at, at("2026-01-01T05:00:00Z"));

    // Down from before the 2nd's opening until after its close: not opened late.
    assert!(store.open_due_windows(at("2026-01-02T06:00:00Z")).unwrap().is_empty());
    assert_eq!(store.get_window("nightly").unwrap().unwrap().next_open_at.as_deref(), Some("2026-01-03T02:00:00.000Z"));
    // Down until inside the 3rd's window: opened, with the scheduled opening time.
    assert_eq!(store.open_due_windows(at("2026-01-03T03:30:00Z")).unwrap().len(), 1);
    let history = store.window_history("nightly", 10).unwrap().unwrap();
    assert_eq!(history.iter().map(|e| e.opened_at.as_str()).collect::<Vec<_>>(), ["2026-01-03T02:00:00.000Z", "2026-01-01T02:00:00.000Z"]);
}

#[test]
fn bad_windows_targets_and_tasks_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    for (bad, expected) in [
        (CreateWindow { duration_hours: 0, ..window("a") }, "durationHours"),
        (CreateWindow { duration_hours: 25, ..window("a") }, "durationHours"),
        (CreateWindow { cutoff_hours: 3, ..window("a") }, "cutoffHours"),
        (CreateWindow { schedule_expression: "cron(0 2 * * * *)".into(), ..window("a") }, "scheduleExpression"),
        (CreateWindow { schedule_timezone: Some("Nowhere".into()), ..window("a") }, "scheduleTimezone"),
        (window("bad name"), "name"),
    ] {
        assert_eq!(field(store.create_window(&bad, now).unwrap_err()), expected);
    }
    store.create_window(&window("w"), now).unwrap();
    assert!(matches!(store.create_window(&window("w"), now), Err(FleetError::Conflict(_))));
    assert_eq!(field(store.register_window_target("w", &RegisterTarget { name: "t".into(), targets: vec![] }).unwrap_err()), "targets");
    assert!(matches!(
        store.register_window_target("nope", &RegisterTarget { name: "t".into(), targets: vec![Target::Group("g".into())] }),
        Err(FleetError::NotFound(_))
    ));
    assert_eq!(field(store.register_window_task("w", &task("t", None)).unwrap_err()), "windowTarget");
    assert_eq!(field(store.register_window_task("w", &task("t", Some("missing"))).unwrap_err()), "windowTarget");
    let own = RegisterTask { targets: vec![Target::Group("g".into())], ..task("t", None) };
    assert_eq!(field(store.register_window_task("w", &own).unwrap_err()), "targets");
    assert_eq!(
        field(store.register_window_task("w", &RegisterTask { task_type: "LAMBDA".into(), ..task("t", None) }).unwrap_err()),
        "taskType"
    );
    let automation = RegisterTask { task_type: "AUTOMATION".into(), ..task("t", None) };
    store.register_window_task("w", &automation).unwrap();
    assert!(matches!(store.register_window_task("w", &automation), Err(FleetError::Conflict(_))));
    assert!(store.delete_window("w").unwrap());
}
