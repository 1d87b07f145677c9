//! The store's own API, without the engine: document versions, defaults and
//! built-ins; execution, step and signal records committed by hand; reopening;
//! schema versions; and group commit under concurrent writers.

use std::sync::Arc;
use std::time::Duration;

use bosun_engine::{
    Change, DocumentSnapshot, ExecutionRecord, ExecutionStatus, ExecutionStore, SignalKind, SignalRecord, StepRecord, StepStatus,
};
use bosun_store::{DocumentOwner, Durability, NewDocument, Store, content_hash, validate_document_name};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    (dir, store)
}

fn doc<'a>(name: &'a str, content: &'a str) -> NewDocument<'a> {
    NewDocument { name, file_name: "doc.yaml", content, document_type: "Automation", schema_version: "0.3" }
}

fn content(n: u32) -> String {
    format!("schemaVersion: '0.3'\ndescription: version {n}\nmainSteps:\n  - {{ name: a, action: bosun:echo, inputs: {{}} }}\n")
}

/// Asserts that `result` failed with a message containing every one of `parts`.
fn assert_error<T: std::fmt::Debug>(result: Result<T, bosun_engine::StoreError>, parts: &[&str]) {
    let message = result.expect_err("expected an error").to_string();
    for part in parts {
        assert!(message.contains(part), "error {message:?} does not mention {part:?}");
    }
}

// ---------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------

#[test]
fn create_makes_version_1_the_default_and_refuses_an_existing_name() {
    let (_dir, store) = open();
    let v1 = content(1);
    let info = store.create_document(&doc("deploy-web", &v1)).unwrap();
    assert_eq!(info.name, "deploy-web");
    assert_eq!(info.version, 1);
    assert_eq!(info.latest_version, 1);
    assert!(info.is_default_version);
    assert_eq!(info.owner, DocumentOwner::User);
    assert_eq!(info.document_type, "Automation");
    assert_eq!(info.schema_version, "0.3");
    assert_eq!(info.hash, content_hash(&v1));

    assert_error(store.create_document(&doc("deploy-web", &content(2))), &["deploy-web", "already exists"]);
    // The refused create added nothing.
    assert_eq!(store.document_versions("deploy-web").unwrap().len(), 1);
}

#[test]
fn update_adds_a_version_without_moving_the_default() {
    let (_dir, store) = open();
    let (v1, v2) = (content(1), content(2));
    store.create_document(&doc("deploy-web", &v1)).unwrap();
    let info = store.update_document(&doc("deploy-web", &v2)).unwrap();
    assert_eq!(info.version, 2);
    assert_eq!(info.latest_version, 2);
    assert!(!info.is_default_version);

    let (default, snapshot) = store.get_document("deploy-web", None).unwrap().unwrap();
    assert_eq!(default.version, 1);
    assert!(default.is_default_version);
    assert_eq!(default.latest_version, 2);
    assert_eq!(snapshot.text, v1);

    // Identical to the latest version: refused, and nothing is added.
    assert_error(store.update_document(&doc("deploy-web", &v2)), &["same as the latest version", "deploy-web"]);
    assert_eq!(store.document_versions("deploy-web").unwrap().len(), 2);

    assert_error(store.update_document(&doc("no-such-doc", &v1)), &["no document named", "no-such-doc"]);
}

#[test]
fn get_document_resolves_default_latest_and_numbers() {
    let (_dir, store) = open();
    let (v1, v2, v3) = (content(1), content(2), content(3));
    store.create_document(&doc("deploy-web", &v1)).unwrap();
    store.update_document(&doc("deploy-web", &v2)).unwrap();
    store.update_document(&doc("deploy-web", &v3)).unwrap();
    store.set_default_version("deploy-web", 2).unwrap();

    let get = |version: Option<&str>| {
        let (info, snapshot) = store.get_document("deploy-web", version).unwrap().unwrap();
        assert_eq!(info.version.to_string(), snapshot.version.clone().unwrap());
        assert_eq!(snapshot.name, "deploy-web");
        assert_eq!(snapshot.file_name, "doc.yaml");
        assert_eq!(info.hash, content_hash(&snapshot.text));
        (info.version, snapshot.text)
    };
    assert_eq!(get(None), (2, v2.clone()));
    assert_eq!(get(Some("$DEFAULT")), (2, v2.clone()));
    assert_eq!(get(Some("$LATEST")), (3, v3.clone()));
    assert_eq!(get(Some("1")), (1, v1.clone()));
    assert_eq!(get(Some("2")), (2, v2));
    assert_eq!(get(Some("3")), (3, v3));

    assert!(store.get_document("deploy-web", Some("4")).unwrap().is_none());
    assert!(store.get_document("other", None).unwrap().is_none());
    assert_error(store.get_document("deploy-web", Some("abc")), &["invalid document version", "\"abc\""]);
    assert_error(store.document_info("deploy-web", Some("-1")), &["\"-1\""]);
}

#[test]
fn set_default_version_moves_the_default_and_refuses_a_missing_version() {
    let (_dir, store) = open();
    store.create_document(&doc("deploy-web", &content(1))).unwrap();
    store.update_document(&doc("deploy-web", &content(2))).unwrap();

    assert_error(store.set_default_version("deploy-web", 3), &["deploy-web", "no version 3"]);
    assert_error(store.set_default_version("nothing-here", 1), &["nothing-here", "no version 1"]);
    assert_eq!(store.get_document("deploy-web", None).unwrap().unwrap().0.version, 1);

    store.set_default_version("deploy-web", 2).unwrap();
    let versions = store.document_versions("deploy-web").unwrap();
    assert_eq!(versions.iter().map(|v| (v.version, v.is_default_version)).collect::<Vec<_>>(), [(1, false), (2, true)]);
}

#[test]
fn content_hash_is_the_sha256_of_the_content_in_hex() {
    assert_eq!(content_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(content_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    let (_dir, store) = open();
    assert_eq!(store.create_document(&doc("abc-doc", "abc")).unwrap().hash, content_hash("abc"));
}

#[test]
fn list_documents_shows_each_name_once_at_its_default_version() {
    let (_dir, store) = open();
    store.create_document(&doc("beta", &content(1))).unwrap();
    store.update_document(&doc("beta", &content(2))).unwrap();
    store.update_document(&doc("beta", &content(3))).unwrap();
    store.set_default_version("beta", 2).unwrap();
    store.create_document(&doc("alpha", &content(1))).unwrap();
    store.load_builtin(&doc("Bosun-Restart", &content(1))).unwrap();

    let list = store.list_documents().unwrap();
    let rows: Vec<_> = list.iter().map(|d| (d.name.as_str(), d.version, d.latest_version, d.is_default_version, d.owner)).collect();
    assert_eq!(
        rows,
        [
            ("Bosun-Restart", 1, 1, true, DocumentOwner::Bosun),
            ("alpha", 1, 1, true, DocumentOwner::User),
            ("beta", 2, 3, true, DocumentOwner::User),
        ]
    );
}

#[test]
fn document_versions_lists_every_version_in_order() {
    let (_dir, store) = open();
    assert!(store.document_versions("deploy-web").unwrap().is_empty());
    for n in 1..=3 {
        if n == 1 {
            store.create_document(&doc("deploy-web", &content(n))).unwrap();
        } else {
            store.update_document(&doc("deploy-web", &content(n))).unwrap();
        }
    }
    let versions = store.document_versions("deploy-web").unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(versions.iter().all(|v| v.latest_version == 3 && v.name == "deploy-web"));
    assert_eq!(versions.iter().map(|v| v.hash.clone()).collect::<Vec<_>>(), (1..=3).map(|n| content_hash(&content(n))).collect::<Vec<_>>());
}

#[test]
fn delete_removes_every_version_and_the_name_can_be_reused() {
    let (_dir, store) = open();
    store.create_document(&doc("deploy-web", &content(1))).unwrap();
    store.update_document(&doc("deploy-web", &content(2))).unwrap();
    store.set_default_version("deploy-web", 2).unwrap();
    store.create_document(&doc("keep-me", &content(1))).unwrap();

    store.delete_document("deploy-web").unwrap();
    assert!(store.get_document("deploy-web", None).unwrap().is_none());
    assert!(store.get_document("deploy-web", Some("2")).unwrap().is_none());
    assert!(store.document_versions("deploy-web").unwrap().is_empty());
    assert_eq!(store.list_documents().unwrap().iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["keep-me"]);
    assert_error(store.delete_document("deploy-web"), &["no document named", "deploy-web"]);

    // A new document of the same name starts again at version 1, which is its default.
    let info = store.create_document(&doc("deploy-web", &content(7))).unwrap();
    assert_eq!((info.version, info.latest_version, info.is_default_version), (1, 1, true));
    assert_eq!(store.get_document("deploy-web", None).unwrap().unwrap().1.text, content(7));
}

#[test]
fn document_names_follow_the_ssm_rules() {
    for good in ["abc", "deploy-web", "a.b_c-d", "X9_", &"a".repeat(128)] {
        validate_document_name(good, false).unwrap_or_else(|e| panic!("{good:?} refused: {e}"));
    }
    assert_error(validate_document_name("ab", false), &["invalid document name", "\"ab\""]);
    assert_error(validate_document_name(&"a".repeat(129), false), &["invalid document name"]);
    for bad in ["has space", "slash/name", "émigré", "semi;colon", "dollar$"] {
        assert_error(validate_document_name(bad, false), &["invalid document name"]);
        assert_error(validate_document_name(bad, true), &["invalid document name"]);
    }
    for (reserved, prefix) in [("AWS-Restart", "AWS-"), ("AmazonThing", "Amazon"), ("Bosun-Restart", "Bosun-"), ("aws-lower", "AWS-")] {
        assert_error(validate_document_name(reserved, false), &["reserved", prefix]);
        validate_document_name(reserved, true).unwrap_or_else(|e| panic!("built-in {reserved:?} refused: {e}"));
    }

    // The store applies the rules to operators' documents.
    let (_dir, store) = open();
    assert_error(store.create_document(&doc("Bosun-Mine", &content(1))), &["reserved", "Bosun-"]);
    assert_error(store.create_document(&doc("no", &content(1))), &["invalid document name"]);
    assert!(store.list_documents().unwrap().is_empty());
}

#[test]
fn load_builtin_adds_a_version_only_when_the_content_changes() {
    let (_dir, store) = open();
    let (v1, v2) = (content(1), content(2));
    store.load_builtin(&doc("Bosun-Restart", &v1)).unwrap();
    let (info, snapshot) = store.get_document("Bosun-Restart", None).unwrap().unwrap();
    assert_eq!((info.version, info.owner, info.is_default_version), (1, DocumentOwner::Bosun, true));
    assert_eq!(snapshot.text, v1);

    // The same content again: nothing new.
    store.load_builtin(&doc("Bosun-Restart", &v1)).unwrap();
    assert_eq!(store.document_versions("Bosun-Restart").unwrap().len(), 1);

    // Changed content: version 2, and it is the default.
    store.load_builtin(&doc("Bosun-Restart", &v2)).unwrap();
    let (info, snapshot) = store.get_document("Bosun-Restart", None).unwrap().unwrap();
    assert_eq!((info.version, info.latest_version, info.owner, info.is_default_version), (2, 2, DocumentOwner::Bosun, true));
    assert_eq!(snapshot.text, v2);
    assert_eq!(store.document_versions("Bosun-Restart").unwrap().len(), 2);

    // The names operators may not use are fine for built-ins.
    store.load_builtin(&doc("AWS-RestartEC2Instance", &v1)).unwrap();
    assert_eq!(store.get_document("AWS-RestartEC2Instance", None).unwrap().unwrap().0.owner, DocumentOwner::Bosun);
    // But the character rules still apply.
    assert_error(store.load_builtin(&doc("Bosun restart", &v1)), &["invalid document name"]);
}

#[test]
fn operators_cannot_change_built_ins() {
    let (_dir, store) = open();
    store.load_builtin(&doc("Bosun-Restart", &content(1))).unwrap();
    store.load_builtin(&doc("Bosun-Restart", &content(2))).unwrap();

    assert_error(store.update_document(&doc("Bosun-Restart", &content(3))), &["Bosun-Restart", "read-only"]);
    assert_error(store.delete_document("Bosun-Restart"), &["Bosun-Restart", "read-only"]);
    assert_error(store.set_default_version("Bosun-Restart", 1), &["Bosun-Restart", "read-only"]);
    assert_error(store.create_document(&doc("Bosun-Restart", &content(3))), &["reserved"]);

    let versions = store.document_versions("Bosun-Restart").unwrap();
    assert_eq!(versions.iter().map(|v| (v.version, v.is_default_version)).collect::<Vec<_>>(), [(1, false), (2, true)]);
}

#[test]
fn an_operator_document_blocks_a_built_in_of_the_same_name() {
    let (_dir, store) = open();
    store.create_document(&doc("Shared-Runbook", &content(1))).unwrap();
    assert_error(store.load_builtin(&doc("Shared-Runbook", &content(2))), &["operator", "\"Shared-Runbook\""]);
    // Even with the operator's very content.
    assert_error(store.load_builtin(&doc("Shared-Runbook", &content(1))), &["operator", "\"Shared-Runbook\""]);
    let versions = store.document_versions("Shared-Runbook").unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].owner, DocumentOwner::User);
}

// ---------------------------------------------------------------------------------
// Executions
// ---------------------------------------------------------------------------------

fn at(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(second)
}

fn execution(id: &str, status: ExecutionStatus, created: i64) -> ExecutionRecord {
    let mut parameters = Map::new();
    parameters.insert("Target".into(), Value::from(format!("host-{id}")));
    ExecutionRecord {
        started_by: None,
        id: id.into(),
        document_name: format!("doc-{id}"),
        document_version: Some("1".into()),
        status,
        parameters,
        mocks: Map::new(),
        outputs: Map::new(),
        failure_message: None,
        parent: None,
        created_at: at(created),
        updated_at: at(created),
    }
}

fn create(record: ExecutionRecord) -> Change {
    let document = DocumentSnapshot {
        name: record.document_name.clone(),
        version: record.document_version.clone(),
        file_name: format!("{}.yaml", record.document_name),
        text: format!("schemaVersion: '0.3'\ndescription: for {}\n", record.id),
    };
    Change::CreateExecution { record, document }
}

fn step(execution_id: &str, seq: u32, status: StepStatus) -> StepRecord {
    let mut outputs = Map::new();
    if status == StepStatus::Success {
        outputs.insert("Result".into(), Value::from(format!("{execution_id}/{seq}")));
    }
    StepRecord {
        execution_id: execution_id.into(),
        seq,
        name: format!("step{seq}"),
        action: "bosun:echo".into(),
        status,
        attempt: 1,
        inputs: Value::Null,
        outputs,
        failure_message: None,
        started_at: at(i64::from(seq)),
        ended_at: status.is_terminal().then(|| at(i64::from(seq) + 1)),
        wake_at: None,
        child_execution_id: None,
        decisions: Vec::new(),
        resumed: 0,
        iteration: None,
    }
}

fn signal(id: &str, execution_id: &str, kind: SignalKind, created: i64) -> SignalRecord {
    SignalRecord {
        id: id.into(),
        execution_id: execution_id.into(),
        kind,
        actor: "operator".into(),
        comment: Some(format!("comment {id}")),
        created_at: at(created),
        step_seq: None,
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

#[test]
fn a_created_execution_loads_as_written() {
    let (_dir, store) = open();
    let record = execution("e1", ExecutionStatus::InProgress, 0);
    let change = create(record.clone());
    let Change::CreateExecution { document, .. } = &change else { unreachable!() };
    let document = document.clone();
    store.commit_blocking(vec![change]).unwrap();

    let loaded = store.load_execution("e1").unwrap().unwrap();
    assert_eq!(loaded.record, record);
    assert_eq!(loaded.document, document);
    assert!(loaded.steps.is_empty());
    assert!(store.load_execution("e2").unwrap().is_none());

    // A second create with the same id is refused and changes nothing.
    let mut other = execution("e1", ExecutionStatus::Pending, 5);
    other.document_name = "other".into();
    assert!(store.commit_blocking(vec![create(other)]).is_err());
    assert_eq!(store.load_execution("e1").unwrap().unwrap().record, record);

    // An update replaces the record.
    let mut updated = record.clone();
    updated.status = ExecutionStatus::InProgress;
    updated.outputs.insert("step0.Result".into(), Value::from("done"));
    updated.updated_at = at(9);
    store.commit_blocking(vec![Change::UpdateExecution(updated.clone())]).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap().record, updated);

    // An update of an unknown execution fails.
    assert_error(store.commit_blocking(vec![Change::UpdateExecution(execution("ghost", ExecutionStatus::InProgress, 0))]), &["ghost"]);

    // An execution ends only with its step history, which it keeps; then its steps are fixed.
    let mut ended = updated.clone();
    ended.status = ExecutionStatus::Success;
    assert_error(store.commit_blocking(vec![Change::UpdateExecution(ended.clone())]), &["cannot end without its step history"]);
    store.commit_blocking(vec![Change::PutStep(step("e1", 0, StepStatus::InProgress))]).unwrap();
    let history = vec![step("e1", 0, StepStatus::Success)];
    store.commit_blocking(vec![Change::EndExecution { record: ended.clone(), steps: history.clone() }]).unwrap();
    let loaded = store.load_execution("e1").unwrap().unwrap();
    assert_eq!((loaded.record, loaded.steps), (ended.clone(), history));
    assert_error(store.commit_blocking(vec![Change::PutStep(step("e1", 1, StepStatus::Success))]), &["has ended"]);
    assert_error(store.commit_blocking(vec![Change::EndExecution { record: ended, steps: vec![] }]), &["no running execution"]);
}

#[test]
fn a_step_written_twice_loads_as_its_latest_record() {
    let (_dir, store) = open();
    store.commit_blocking(vec![create(execution("e1", ExecutionStatus::InProgress, 0))]).unwrap();
    store.commit_blocking(vec![Change::PutStep(step("e1", 0, StepStatus::InProgress))]).unwrap();
    let done = step("e1", 0, StepStatus::Success);
    store.commit_blocking(vec![Change::PutStep(done.clone())]).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap().steps, std::slice::from_ref(&done));

    // Twice within one commit: the later one wins.
    let mut retried = step("e1", 1, StepStatus::InProgress);
    let mut retried_done = step("e1", 1, StepStatus::Success);
    retried.attempt = 1;
    retried_done.attempt = 2;
    store.commit_blocking(vec![Change::PutStep(retried), Change::PutStep(retried_done.clone())]).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap().steps, [done, retried_done]);
}

#[test]
fn steps_load_in_sequence_order_and_executions_never_mix() {
    let (_dir, store) = open();
    store
        .commit_blocking(vec![
            create(execution("a", ExecutionStatus::InProgress, 0)),
            create(execution("b", ExecutionStatus::InProgress, 1)),
        ])
        .unwrap();
    // Interleaved commits, some holding steps of both executions.
    store.commit_blocking(vec![Change::PutStep(step("a", 0, StepStatus::InProgress))]).unwrap();
    store
        .commit_blocking(vec![Change::PutStep(step("b", 0, StepStatus::InProgress)), Change::PutStep(step("a", 0, StepStatus::Success))])
        .unwrap();
    store
        .commit_blocking(vec![
            Change::PutStep(step("a", 1, StepStatus::InProgress)),
            Change::PutStep(step("b", 0, StepStatus::Success)),
            Change::PutStep(step("b", 1, StepStatus::Success)),
        ])
        .unwrap();
    store.commit_blocking(vec![Change::PutStep(step("b", 2, StepStatus::Failed))]).unwrap();
    store.commit_blocking(vec![Change::PutStep(step("a", 1, StepStatus::Success))]).unwrap();
    store.commit_blocking(vec![Change::PutStep(step("a", 2, StepStatus::InProgress))]).unwrap();

    let a = store.load_execution("a").unwrap().unwrap();
    let b = store.load_execution("b").unwrap().unwrap();
    assert_eq!(a.steps, [step("a", 0, StepStatus::Success), step("a", 1, StepStatus::Success), step("a", 2, StepStatus::InProgress)]);
    assert_eq!(b.steps, [step("b", 0, StepStatus::Success), step("b", 1, StepStatus::Success), step("b", 2, StepStatus::Failed)]);
}

#[test]
fn a_commit_with_a_step_of_an_unknown_execution_writes_nothing() {
    let (_dir, store) = open();
    store.commit_blocking(vec![create(execution("e1", ExecutionStatus::Waiting, 0))]).unwrap();
    store.commit_blocking(vec![Change::PutStep(step("e1", 0, StepStatus::Waiting))]).unwrap();

    let mut updated = execution("e1", ExecutionStatus::Success, 0);
    updated.updated_at = at(30);
    let result = store.commit_blocking(vec![
        Change::AddSignal(signal("s1", "e1", SignalKind::Approve, 1)),
        Change::EndExecution { record: updated, steps: vec![step("e1", 0, StepStatus::Success)] },
        Change::PutStep(step("e1", 0, StepStatus::Success)),
        create(execution("e2", ExecutionStatus::Pending, 2)),
        Change::PutStep(step("ghost", 0, StepStatus::Success)),
    ]);
    assert_error(result, &["no execution with id ghost"]);

    let e1 = store.load_execution("e1").unwrap().unwrap();
    assert_eq!(e1.record.status, ExecutionStatus::Waiting);
    assert_eq!(e1.steps, [step("e1", 0, StepStatus::Waiting)]);
    assert!(store.load_execution("e2").unwrap().is_none());
    assert!(block_on(store.pending_signals("e1")).unwrap().is_empty());
    assert_eq!(store.list_executions(10).unwrap().len(), 1);

    // A signal for an unknown execution is refused too.
    assert!(store.commit_blocking(vec![Change::AddSignal(signal("s2", "ghost", SignalKind::Cancel, 1))]).is_err());

    // And the store still works afterwards.
    store.commit_blocking(vec![Change::PutStep(step("e1", 0, StepStatus::Success))]).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap().steps, [step("e1", 0, StepStatus::Success)]);
}

#[tokio::test]
async fn signals_stay_pending_until_consumed() {
    let (_dir, store) = open();
    store
        .commit_blocking(vec![create(execution("e1", ExecutionStatus::Waiting, 0)), create(execution("e2", ExecutionStatus::Waiting, 1))])
        .unwrap();
    let (s1, s2, s3) = (
        signal("s1", "e1", SignalKind::Approve, 10),
        signal("s2", "e1", SignalKind::Cancel, 20),
        signal("s3", "e2", SignalKind::Resume, 5),
    );
    // Added out of time order: they come back oldest first.
    store.commit(vec![Change::AddSignal(s2.clone()), Change::AddSignal(s3.clone())]).await.unwrap();
    store.commit(vec![Change::AddSignal(s1.clone())]).await.unwrap();
    assert_eq!(store.pending_signals("e1").await.unwrap(), [s1.clone(), s2.clone()]);
    assert_eq!(store.pending_signals("e2").await.unwrap(), std::slice::from_ref(&s3));
    assert!(store.pending_signals("nobody").await.unwrap().is_empty());

    // The same signal id twice is refused.
    assert!(store.commit(vec![Change::AddSignal(s1.clone())]).await.is_err());

    store.commit(vec![Change::ConsumeSignal { id: "s1".into() }]).await.unwrap();
    assert_eq!(store.pending_signals("e1").await.unwrap(), [s2]);
    assert_eq!(store.pending_signals("e2").await.unwrap(), [s3]);
}

#[tokio::test]
async fn unfinished_lists_only_non_terminal_executions_oldest_first() {
    let (_dir, store) = open();
    let statuses = [
        ("running", ExecutionStatus::InProgress),
        ("done", ExecutionStatus::Success),
        ("waiting", ExecutionStatus::Waiting),
        ("failed", ExecutionStatus::Failed),
        ("pending", ExecutionStatus::Pending),
        ("timed-out", ExecutionStatus::TimedOut),
        ("cancelling", ExecutionStatus::Cancelling),
        ("cancelled", ExecutionStatus::Cancelled),
    ];
    // Created newest first, so the order of the answer is not the order of insertion.
    let changes = statuses.iter().enumerate().map(|(i, (id, status))| create(execution(id, *status, 100 - i as i64))).collect();
    store.commit(changes).await.unwrap();
    assert_eq!(store.unfinished().await.unwrap(), ["cancelling", "pending", "waiting", "running"]);

    // Finishing one takes it off the list.
    store.commit(vec![Change::EndExecution { record: execution("waiting", ExecutionStatus::Success, 98), steps: vec![] }]).await.unwrap();
    assert_eq!(store.unfinished().await.unwrap(), ["cancelling", "pending", "running"]);
    // And the trait's load sees the same as load_execution.
    assert_eq!(store.load("waiting").await.unwrap(), store.load_execution("waiting").unwrap());

    // list_executions: newest first, limited.
    let listed = store.list_executions(3).unwrap();
    assert_eq!(listed.iter().map(|e| e.execution_id.as_str()).collect::<Vec<_>>(), ["running", "done", "waiting"]);
    assert_eq!(listed[2].status, ExecutionStatus::Success);
    assert_eq!(listed[0].document_name, "doc-running");
    assert_eq!(store.list_executions(100).unwrap().len(), statuses.len());
}

#[test]
fn reopening_the_directory_returns_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let (written, documents) = {
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.create_document(&doc("deploy-web", &content(1))).unwrap();
        store.update_document(&doc("deploy-web", &content(2))).unwrap();
        store.load_builtin(&doc("Bosun-Restart", &content(1))).unwrap();
        store
            .commit_blocking(vec![
                create(execution("e1", ExecutionStatus::Waiting, 0)),
                create(execution("e2", ExecutionStatus::Success, 1)),
                Change::PutStep(step("e1", 0, StepStatus::Success)),
                Change::AddSignal(signal("s1", "e1", SignalKind::Resume, 2)),
            ])
            .unwrap();
        store.commit_blocking(vec![Change::PutStep(step("e1", 1, StepStatus::Waiting))]).unwrap();
        let written = ["e1", "e2"].map(|id| store.load_execution(id).unwrap().unwrap());
        (written, store.list_documents().unwrap())
    };

    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    assert_eq!(["e1", "e2"].map(|id| store.load_execution(id).unwrap().unwrap()), written);
    assert_eq!(written[0].steps.len(), 2);
    assert_eq!(store.list_documents().unwrap(), documents);
    assert_eq!(store.document_versions("deploy-web").unwrap().len(), 2);
    assert_eq!(store.get_document("deploy-web", Some("$LATEST")).unwrap().unwrap().1.text, content(2));
    assert_eq!(block_on(store.unfinished()).unwrap(), ["e1"]);
    assert_eq!(block_on(store.pending_signals("e1")).unwrap(), [signal("s1", "e1", SignalKind::Resume, 2)]);

    // Step logs continue where they were after reopening.
    store
        .commit_blocking(vec![Change::PutStep(step("e1", 1, StepStatus::Success)), Change::PutStep(step("e1", 2, StepStatus::InProgress))])
        .unwrap();
    assert_eq!(
        store.load_execution("e1").unwrap().unwrap().steps,
        [step("e1", 0, StepStatus::Success), step("e1", 1, StepStatus::Success), step("e1", 2, StepStatus::InProgress)]
    );
}

#[test]
fn full_durability_opens_and_works() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), Durability::Full).unwrap();
        assert_eq!(store.path(), dir.path().join("bosun.db"));
        store.commit_blocking(vec![create(execution("e1", ExecutionStatus::InProgress, 0))]).unwrap();
        store.commit_blocking(vec![Change::PutStep(step("e1", 0, StepStatus::Success))]).unwrap();
        store.create_document(&doc("deploy-web", &content(1))).unwrap();
    }
    let store = Store::open(dir.path(), Durability::Full).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap().steps, [step("e1", 0, StepStatus::Success)]);
    assert_eq!(store.get_document("deploy-web", None).unwrap().unwrap().1.text, content(1));
}

#[test]
fn a_newer_schema_version_is_refused_by_number() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), Durability::Normal).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("bosun.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    assert_error(Store::open(dir.path(), Durability::Normal), &["schema version 99"]);

    // A fresh directory opens, and so does one at the current version.
    let fresh = tempfile::tempdir().unwrap();
    drop(Store::open(fresh.path(), Durability::Normal).unwrap());
    Store::open(fresh.path(), Durability::Normal).unwrap();
}

#[test]
fn a_version_1_database_moves_its_execution_documents_to_their_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let record = execution("e1", ExecutionStatus::InProgress, 0);
    let expected = {
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        store.commit_blocking(vec![create(record.clone())]).unwrap();
        store.commit_blocking(vec![Change::PutStep(step("e1", 0, StepStatus::Success))]).unwrap();
        store.load_execution("e1").unwrap().unwrap()
    };
    // Back to the shape of version 1: the document in the execution's row.
    let conn = rusqlite::Connection::open(dir.path().join("bosun.db")).unwrap();
    conn.execute_batch(
        "ALTER TABLE executions ADD COLUMN document TEXT NOT NULL DEFAULT '';
         UPDATE executions SET document = (SELECT document FROM execution_documents WHERE execution_no = no);
         DROP TABLE execution_documents;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap(), expected);
    let conn = rusqlite::Connection::open(dir.path().join("bosun.db")).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 3);
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('executions')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!columns.iter().any(|c| c == "document"), "{columns:?}");
    // And it goes on working.
    store.commit_blocking(vec![Change::PutStep(step("e1", 1, StepStatus::Success))]).unwrap();
    assert_eq!(store.load_execution("e1").unwrap().unwrap().steps.len(), 2);
}

// ---------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------

const THREADS: usize = 8;
const JOBS: u32 = 200;

#[test]
fn concurrent_blocking_commits_all_land() {
    let (_dir, store) = open();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let store = &store;
            scope.spawn(move || {
                let id = format!("thread-{t}");
                store.commit_blocking(vec![create(execution(&id, ExecutionStatus::InProgress, t as i64))]).unwrap();
                for seq in 0..JOBS {
                    // Alternate between a new step and a signal, each committed alone.
                    let change = if seq % 2 == 0 {
                        Change::PutStep(step(&id, seq / 2, StepStatus::Success))
                    } else {
                        Change::AddSignal(signal(&format!("{id}-signal-{seq}"), &id, SignalKind::Resume, i64::from(seq)))
                    };
                    store.commit_blocking(vec![change]).unwrap_or_else(|e| panic!("{id} job {seq}: {e}"));
                }
            });
        }
    });

    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for t in 0..THREADS {
        let id = format!("thread-{t}");
        let loaded = store.load_execution(&id).unwrap().unwrap();
        assert_eq!(loaded.steps, (0..JOBS / 2).map(|seq| step(&id, seq, StepStatus::Success)).collect::<Vec<_>>(), "{id}");
        let signals = runtime.block_on(store.pending_signals(&id)).unwrap();
        assert_eq!(
            signals.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            (0..JOBS).filter(|s| s % 2 == 1).map(|s| format!("{id}-signal-{s}")).collect::<Vec<_>>()
        );
    }
    assert_eq!(store.list_executions(1000).unwrap().len(), THREADS);
}

#[test]
fn a_failing_job_in_a_shared_transaction_undoes_only_itself() {
    let (_dir, store) = open();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let store = &store;
            scope.spawn(move || {
                for n in 0..50 {
                    let id = format!("t{t}-n{n}");
                    if n % 5 == 4 {
                        // A signal then a step of an unknown execution: the job fails, its signal must go too.
                        let result = store.commit_blocking(vec![
                            create(execution(&id, ExecutionStatus::InProgress, 0)),
                            Change::AddSignal(signal(&format!("{id}-s"), &id, SignalKind::Cancel, 0)),
                            Change::PutStep(step(&format!("{id}-ghost"), 0, StepStatus::Success)),
                        ]);
                        assert_error(result, &["ghost"]);
                    } else {
                        store
                            .commit_blocking(vec![
                                create(execution(&id, ExecutionStatus::InProgress, 0)),
                                Change::PutStep(step(&id, 0, StepStatus::Success)),
                            ])
                            .unwrap_or_else(|e| panic!("{id}: {e}"));
                    }
                }
            });
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for t in 0..THREADS {
        for n in 0..50 {
            let id = format!("t{t}-n{n}");
            let loaded = store.load_execution(&id).unwrap();
            if n % 5 == 4 {
                assert!(loaded.is_none(), "{id} was half-written");
                assert!(runtime.block_on(store.pending_signals(&id)).unwrap().is_empty(), "{id} left a signal");
            } else {
                assert_eq!(loaded.expect(&id).steps, [step(&id, 0, StepStatus::Success)]);
            }
        }
    }
    assert_eq!(store.list_executions(1000).unwrap().len(), THREADS * 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_async_commits_all_complete() {
    let (_dir, store) = open();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("task-{n}");
                store.commit(vec![create(execution(&id, ExecutionStatus::InProgress, n))]).await.unwrap();
                for seq in 0..10 {
                    store.commit(vec![Change::PutStep(step(&id, seq, StepStatus::Success))]).await.unwrap();
                }
                let steps = (0..10).map(|seq| step(&id, seq, StepStatus::Success)).collect();
                store.commit(vec![Change::EndExecution { record: execution(&id, ExecutionStatus::Success, n), steps }]).await.unwrap();
            })
        })
        .collect();
    // A lost wake-up would hang here rather than fail.
    tokio::time::timeout(Duration::from_secs(60), async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await
    .expect("the async commits did not all complete within 60 s");

    assert!(store.unfinished().await.unwrap().is_empty());
    for n in 0..50 {
        let id = format!("task-{n}");
        let loaded = store.load(&id).await.unwrap().unwrap();
        assert_eq!(loaded.record.status, ExecutionStatus::Success);
        assert_eq!(loaded.steps, (0..10).map(|seq| step(&id, seq, StepStatus::Success)).collect::<Vec<_>>());
    }
    assert_eq!(store.list_executions(1000).unwrap().len(), 50);
}

fn step_log_rows(store: &Store) -> i64 {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.query_row("SELECT COUNT(*) FROM step_log", [], |r| r.get(0)).unwrap()
}

#[test]
fn an_ended_execution_leaves_the_step_log_once_no_running_execution_is_older() {
    let (_dir, store) = open();
    for id in ["old", "new"] {
        store.commit_blocking(vec![create(execution(id, ExecutionStatus::InProgress, 0))]).unwrap();
    }
    // Interleaved: old, new, old, new.
    for seq in 0..2 {
        for id in ["old", "new"] {
            store.commit_blocking(vec![Change::PutStep(step(id, seq, StepStatus::Success))]).unwrap();
        }
    }
    assert_eq!(step_log_rows(&store), 4);

    // "new" ends first: "old" still runs and its first row is older, so nothing is deleted.
    let new_steps: Vec<_> = (0..2).map(|seq| step("new", seq, StepStatus::Success)).collect();
    store
        .commit_blocking(vec![Change::EndExecution { record: execution("new", ExecutionStatus::Success, 0), steps: new_steps.clone() }])
        .unwrap();
    assert_eq!(step_log_rows(&store), 4);
    let old = store.load_execution("old").unwrap().unwrap();
    assert_eq!(old.steps, (0..2).map(|seq| step("old", seq, StepStatus::Success)).collect::<Vec<_>>());
    assert_eq!(store.load_execution("new").unwrap().unwrap().steps, new_steps);

    // "old" ends: no execution runs, so the log goes but for its newest row (which keeps
    // row ids from going back); both histories remain.
    let old_steps = old.steps.clone();
    store
        .commit_blocking(vec![Change::EndExecution { record: execution("old", ExecutionStatus::Failed, 0), steps: old_steps.clone() }])
        .unwrap();
    // Housekeeping runs in the background after an execution ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while step_log_rows(&store) != 1 {
        assert!(std::time::Instant::now() < deadline, "the step log was not tidied: {} rows", step_log_rows(&store));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store.load_execution("old").unwrap().unwrap().steps, old_steps);
    assert_eq!(store.load_execution("new").unwrap().unwrap().steps, new_steps);
}

#[test]
fn a_running_execution_that_has_written_no_step_yet_keeps_its_future_rows() {
    // E runs and writes; P is created (its first row will come after E's); E ends before P
    // writes anything. The purge must keep the newest row, so P's rows never get ids below
    // the bound P was given and stay visible.
    let (_dir, store) = open();
    store.commit_blocking(vec![create(execution("e", ExecutionStatus::InProgress, 0))]).unwrap();
    for seq in 0..2 {
        store.commit_blocking(vec![Change::PutStep(step("e", seq, StepStatus::Success))]).unwrap();
    }
    store.commit_blocking(vec![create(execution("p", ExecutionStatus::InProgress, 1))]).unwrap();
    let e_steps: Vec<_> = (0..2).map(|seq| step("e", seq, StepStatus::Success)).collect();
    store.commit_blocking(vec![Change::EndExecution { record: execution("e", ExecutionStatus::Success, 0), steps: e_steps }]).unwrap();
    store.tidy().unwrap(); // the housekeeping pass, now rather than in the background
    store.commit_blocking(vec![Change::PutStep(step("p", 0, StepStatus::Success))]).unwrap();
    assert_eq!(store.load_execution("p").unwrap().unwrap().steps, [step("p", 0, StepStatus::Success)]);

    // Another execution ending must not purge P's rows either.
    store.commit_blocking(vec![create(execution("r", ExecutionStatus::InProgress, 2))]).unwrap();
    store.commit_blocking(vec![Change::EndExecution { record: execution("r", ExecutionStatus::Success, 2), steps: vec![] }]).unwrap();
    store.tidy().unwrap();
    store.commit_blocking(vec![Change::PutStep(step("p", 1, StepStatus::Success))]).unwrap();
    let p = store.load_execution("p").unwrap().unwrap();
    assert_eq!(p.steps, [step("p", 0, StepStatus::Success), step("p", 1, StepStatus::Success)]);
}
