//! The scheduler's claims across restarts, the missed-run policy, jitter, versions, and
//! node statuses with their compliance events.

use bosun_protocol::Target;
use bosun_protocol::association::{AssociationDefinition, UpdateAssociation};
use chrono::{DateTime, Utc};

use super::RunSent;
use crate::commands::fixtures::new_command;
use crate::{Durability, Store};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn definition(name: &str, schedule: Option<&str>) -> AssociationDefinition {
    AssociationDefinition {
        name: name.into(),
        document_name: "AWS-RunShellScript".into(),
        document_version: None,
        parameters: Default::default(),
        targets: vec![Target::parse("tag:Role=web").unwrap()],
        schedule_expression: schedule.map(str::to_string),
        schedule_timezone: None,
        schedule_offset: 0,
        max_concurrency: None,
        max_errors: None,
        compliance_severity: Some("HIGH".into()),
    }
}

fn triggers(store: &Store) -> Vec<String> {
    store.pending_association_runs().unwrap().into_iter().map(|r| r.trigger).collect()
}

/// Marks every pending run as refused, so the next claims are seen alone.
fn clear(store: &Store, now: DateTime<Utc>) {
    for run in store.pending_association_runs().unwrap() {
        store.record_association_run(&run.run_id, RunSent::Refused { reason: "test".into(), nodes: vec![] }, now).unwrap();
    }
}

#[test]
fn a_fire_is_claimed_once_across_restarts_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let created = at("2026-01-01T09:30:00Z");
    {
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let view = store.create_association(&definition("hourly", Some("cron(0 * * * ? *)")), created).unwrap();
        assert_eq!(view.next_fire_at.as_deref(), Some("2026-01-01T10:00:00.000Z"));
        assert_eq!(triggers(&store), ["Create"]);
        clear(&store, created);
        // Not due before its fire plus jitter.
        assert!(store.claim_due_associations(at("2026-01-01T09:59:59Z")).unwrap().is_empty());
        assert_eq!(store.claim_due_associations(at("2026-01-01T10:01:00Z")).unwrap().len(), 1);
    }
    // A new process at the same instant: the fire was committed with its run.
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    assert!(store.claim_due_associations(at("2026-01-01T10:01:00Z")).unwrap().is_empty());
    assert_eq!(triggers(&store), ["Schedule"]);
    let detail = store.get_association("hourly").unwrap().unwrap();
    assert_eq!(detail.association.last_fire_at.as_deref(), Some("2026-01-01T10:00:00.000Z"));
    assert_eq!(detail.association.next_fire_at.as_deref(), Some("2026-01-01T11:00:00.000Z"));
    // The next fire is not lost.
    clear(&store, created);
    assert_eq!(store.claim_due_associations(at("2026-01-01T11:01:00Z")).unwrap().len(), 1);
}

#[test]
fn after_downtime_one_catch_up_run_is_made_never_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    store.create_association(&definition("hourly", Some("cron(0 * * * ? *)")), at("2026-01-01T09:30:00Z")).unwrap();
    clear(&store, at("2026-01-01T09:30:00Z"));
    // Down from 09:30 to 15:20: five fires passed.
    let runs = store.claim_due_associations(at("2026-01-01T15:20:00Z")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(triggers(&store), ["CatchUp"]);
    assert!(store.claim_due_associations(at("2026-01-01T15:20:00Z")).unwrap().is_empty());
    let association = store.get_association("hourly").unwrap().unwrap().association;
    assert_eq!(association.next_fire_at.as_deref(), Some("2026-01-01T16:00:00.000Z"));
    assert_eq!(store.get_association("hourly").unwrap().unwrap().runs[0].fire_at.as_deref(), Some("2026-01-01T10:00:00.000Z"));
}

#[test]
fn an_at_schedule_fires_once_and_no_schedule_never_fires() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    store.create_association(&definition("once", Some("at(2026-01-02T00:00:00)")), at("2026-01-01T00:00:00Z")).unwrap();
    store.create_association(&definition("never", None), at("2026-01-01T00:00:00Z")).unwrap();
    clear(&store, at("2026-01-01T00:00:00Z"));
    assert_eq!(store.claim_due_associations(at("2026-01-03T00:00:00Z")).unwrap().len(), 1);
    assert!(store.claim_due_associations(at("2030-01-01T00:00:00Z")).unwrap().is_empty());
    assert_eq!(store.get_association("once").unwrap().unwrap().association.due_at, None);
}

#[test]
fn jitter_spreads_one_schedule_over_the_window_and_is_stable() {
    let fire = at("2026-01-01T00:00:00Z");
    let following = Some(at("2026-01-02T00:00:00Z"));
    let delays: Vec<i64> = (0..1000).map(|i| super::jitter(&format!("assoc-{i}"), fire, following).num_milliseconds()).collect();
    assert!(delays.iter().all(|d| (0..60_000).contains(d)));
    let seconds: std::collections::BTreeSet<i64> = delays.iter().map(|d| d / 1000).collect();
    assert!(seconds.len() > 50, "1000 associations fell in only {} distinct seconds", seconds.len());
    assert_eq!(super::jitter("assoc-1", fire, following), super::jitter("assoc-1", fire, following));
    // A short period bounds it to a tenth of the gap.
    assert!(super::jitter("assoc-1", fire, Some(fire + chrono::Duration::seconds(100))) < chrono::Duration::seconds(10));
}

#[test]
fn updates_make_versions_and_bad_definitions_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    let created = store.create_association(&definition("web", Some("rate(30 minutes)")), now).unwrap();
    assert_eq!(created.next_fire_at.as_deref(), Some("2026-01-01T00:30:00.000Z"));
    let update = UpdateAssociation { schedule_expression: Some("rate(1 hour)".into()), ..Default::default() };
    let updated = store.update_association("web", &update, now + chrono::Duration::minutes(10)).unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.next_fire_at.as_deref(), Some("2026-01-01T01:10:00.000Z"));
    let versions = store.association_versions(&created.association_id).unwrap().unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(versions[0].definition.schedule_expression.as_deref(), Some("rate(30 minutes)"));
    assert_eq!(triggers(&store), ["Create", "Update"]);

    let duplicate = store.create_association(&definition("web", None), now).unwrap_err();
    assert!(duplicate.to_string().contains("exists already"), "{duplicate}");
    for (bad, field) in [
        (AssociationDefinition { schedule_expression: Some("cron(0 10 * * * *)".into()), ..definition("a", None) }, "scheduleExpression"),
        (
            AssociationDefinition { schedule_timezone: Some("Nowhere/Land".into()), ..definition("a", Some("rate(1 day)")) },
            "scheduleTimezone",
        ),
        (AssociationDefinition { compliance_severity: Some("SEVERE".into()), ..definition("a", None) }, "complianceSeverity"),
        (AssociationDefinition { targets: vec![], ..definition("a", None) }, "targets"),
        (definition("no spaces", None), "name"),
        (definition(&"x".repeat(129), None), "name"),
    ] {
        match store.create_association(&bad, now).unwrap_err() {
            crate::FleetError::Invalid { field: got, .. } => assert_eq!(got, field),
            other => panic!("{other}"),
        }
    }
    assert!(store.delete_association("web").unwrap());
    assert!(store.get_association("web").unwrap().is_none());
    assert!(!store.delete_association("web").unwrap());
}

#[test]
fn node_statuses_follow_the_invocations_and_compliance_changes_are_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    store.create_association(&definition("web", None), now).unwrap();
    let run = store.pending_association_runs().unwrap().remove(0);
    store.create_command(new_command(&run.run_id, &["mi-1", "mi-2"])).unwrap();
    store.record_association_run(&run.run_id, RunSent::Sent, now).unwrap();
    let end = |run_id: &str, node: &str, status: &str| {
        let (id, status) = (crate::invocation_id(run_id, node), status.to_string());
        store
            .writer
            .run_blocking(Box::new(move |conn| {
                conn.execute("UPDATE invocations SET status = ?2, ended_at = '2026-01-01T00:01:00.000Z' WHERE id = ?1", [&id, &status])
                    .map(|_| ())
                    .map_err(crate::sql_error)
            }))
            .unwrap();
    };
    end(&run.run_id, "mi-1", "Success");
    assert_eq!(store.settle_association_statuses(now).unwrap(), 1);
    let nodes = store.get_association("web").unwrap().unwrap().nodes;
    assert_eq!(
        nodes.iter().map(|n| (n.status.as_str(), n.compliance.as_str())).collect::<Vec<_>>(),
        [("Success", "COMPLIANT"), ("Pending", "UNKNOWN")]
    );
    end(&run.run_id, "mi-2", "Failed");
    store.settle_association_statuses(now).unwrap();
    let summary = store.compliance_summary().unwrap();
    assert_eq!((summary.nodes_compliant, summary.nodes_non_compliant), (1, 1));
    assert_eq!(summary.by_severity["HIGH"].non_compliant, 1);
    assert_eq!(summary.nodes[1].highest_severity.as_deref(), Some("HIGH"));

    // A second run: mi-2 is repaired; the event says so, and nothing changes twice.
    let again = store.run_association_now("web", now).unwrap().unwrap();
    store.create_command(new_command(&again, &["mi-1", "mi-2"])).unwrap();
    store.record_association_run(&again, RunSent::Sent, now).unwrap();
    end(&again, "mi-1", "Success");
    end(&again, "mi-2", "Success");
    assert_eq!(store.settle_association_statuses(now).unwrap(), 2);
    assert_eq!(store.settle_association_statuses(now).unwrap(), 0);
    let events = store.events_after(0, 100).unwrap();
    let changes: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.detail["nodeId"].as_str().unwrap().to_string(), e.detail["compliance"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        changes,
        [("mi-1", "COMPLIANT"), ("mi-2", "NON_COMPLIANT"), ("mi-2", "COMPLIANT")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(events[2].detail["previousCompliance"], "NON_COMPLIANT");
    let history = store.association_node_history(&run.association_id, "mi-2", 10).unwrap();
    assert_eq!(history.iter().map(|h| h.status.as_str()).collect::<Vec<_>>(), ["Success", "Failed"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reconcile_fingerprint_changes_with_the_fleet_and_not_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let now = at("2026-01-01T00:00:00Z");
    store.create_association(&definition("web", None), now).unwrap();
    assert_eq!(store.reconcile_fingerprint().unwrap(), None, "a run is still to be sent");
    clear(&store, now);
    let quiet = store.reconcile_fingerprint().unwrap().unwrap();
    assert_eq!(store.reconcile_fingerprint().unwrap(), Some(quiet.clone()));
    assert!(store.claim_new_node_runs(now).unwrap().is_empty());

    let tags = [("Role".to_string(), "web".to_string())].into();
    let activation = store
        .create_activation(&bosun_protocol::fleet::CreateActivation { tags, registration_limit: Some(1), ..Default::default() })
        .unwrap();
    let platform = bosun_protocol::agent::Platform { platform_type: "Linux".into(), hostname: "web-1".into(), ..Default::default() };
    store.register_node(&activation.activation_id, &activation.activation_code, &platform).await.unwrap();
    let changed = store.reconcile_fingerprint().unwrap().unwrap();
    assert_ne!(changed, quiet);
    assert_eq!(store.claim_new_node_runs(now).unwrap().len(), 1);
}
