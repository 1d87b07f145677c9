//! The fleet: activations (expiry, single use, the count limit under concurrent
//! registrations), node credentials (refused once deregistered), tags, ping
//! status, resource groups, and target resolution (targets ANDed, values ORed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bosun_protocol::agent::Platform;
use bosun_protocol::fleet::{ChangeTags, CreateActivation, CreateGroup};
use bosun_protocol::{PingStatus, Target};
use bosun_store::{Durability, FleetError, MAX_TAGS, ResolvedTargets, Store};

const GAP: Duration = Duration::from_secs(60);

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    (dir, store)
}

fn platform(hostname: &str) -> Platform {
    Platform {
        platform_type: "Linux".into(),
        name: "Ubuntu".into(),
        version: "24.04".into(),
        kernel: "6.8.0".into(),
        architecture: "x86_64".into(),
        hostname: hostname.into(),
        ip_addresses: vec!["10.0.0.7".into()],
        agent_version: "0.1.0".into(),
    }
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn activation(store: &Store, limit: u32, pairs: &[(&str, &str)]) -> (String, String) {
    let created = store
        .create_activation(&CreateActivation {
            description: "test".into(),
            tags: tags(pairs),
            registration_limit: Some(limit),
            expires_in_seconds: None,
        })
        .unwrap();
    (created.activation_id, created.activation_code)
}

/// Registers one node with its own activation and tags; returns (id, credential).
async fn node(store: &Store, pairs: &[(&str, &str)]) -> (String, String) {
    let (id, code) = activation(store, 1, pairs);
    let registered = store.register_node(&id, &code, &platform("host")).await.unwrap();
    (registered.node_id, registered.credential)
}

/// Changes the database behind the store's back, as time passing would.
fn sql(store: &Store, statement: &str) {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(statement).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_registers_with_an_activation_and_gets_its_tags() {
    let (_dir, store) = store();
    let (id, code) = activation(&store, 2, &[("Env", "dev"), ("Team", "ops")]);
    assert!(id.starts_with("act-"), "{id}");
    assert!(code.len() >= 32, "at least 128 bits: {code}");
    let registered = store.register_node(&id, &code, &platform("web-1")).await.unwrap();
    assert!(registered.node_id.starts_with("mi-") && registered.node_id.len() == 20, "{}", registered.node_id);
    assert!(registered.credential.len() >= 64, "at least 256 bits: {}", registered.credential);
    assert_eq!(store.verify_node_credential(&registered.credential).unwrap().as_deref(), Some(registered.node_id.as_str()));
    assert_eq!(store.verify_node_credential("bosun-node_nope").unwrap(), None);
    assert_eq!(store.verify_node_credential(&code).unwrap(), None);

    let nodes = store.list_nodes(None, GAP).unwrap();
    assert_eq!(nodes.len(), 1);
    let node = &nodes[0];
    assert_eq!((node.ping_status, node.platform.hostname.as_str()), (PingStatus::Online, "web-1"));
    assert_eq!(node.tags, tags(&[("Env", "dev"), ("Team", "ops")]));
    assert_eq!(node.activation_id, id);
    assert!(node.last_seen.is_some() && node.deregistered_at.is_none());

    let activations = store.list_activations().unwrap();
    assert_eq!((activations[0].registrations_count, activations[0].registration_limit, activations[0].expired), (1, 2, false));

    store.node_heartbeat(&registered.node_id, &platform("web-1-renamed")).await.unwrap();
    assert_eq!(store.get_node(&registered.node_id, GAP).unwrap().unwrap().platform.hostname, "web-1-renamed");

    let mut bytes = std::fs::read(store.path()).unwrap_or_default();
    bytes.extend(std::fs::read(store.path().with_extension("db-wal")).unwrap_or_default());
    for secret in [&code, &registered.credential] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is never stored");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_expired_and_used_codes_are_refused_alike() {
    let (_dir, store) = store();
    let (id, code) = activation(&store, 1, &[]);
    let refused = async |id: &str, code: &str| store.register_node(id, code, &platform("h")).await.unwrap_err();
    assert_eq!(refused(&id, "0".repeat(40).as_str()).await, FleetError::Refused);
    assert_eq!(refused("act-0000", &code).await, FleetError::Refused);
    assert!(refused(&id, "x").await.to_string().contains("wrong, expired or used up"));
    // Single use: the second registration with the same code is refused.
    store.register_node(&id, &code, &platform("h")).await.unwrap();
    assert_eq!(refused(&id, &code).await, FleetError::Refused);
    assert_eq!(store.list_activations().unwrap()[0].registrations_count, 1);

    let (id, code) = activation(&store, 5, &[]);
    sql(&store, &format!("UPDATE activations SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = '{id}'"));
    assert_eq!(refused(&id, &code).await, FleetError::Refused);
    assert!(store.list_activations().unwrap().iter().any(|a| a.activation_id == id && a.expired));

    // A deleted activation registers nothing more; its nodes stay.
    let (id, code) = activation(&store, 5, &[]);
    store.register_node(&id, &code, &platform("h")).await.unwrap();
    assert!(store.delete_activation(&id).unwrap());
    assert!(!store.delete_activation(&id).unwrap());
    assert_eq!(refused(&id, &code).await, FleetError::Refused);
    assert_eq!(store.list_nodes(None, GAP).unwrap().len(), 2);
}

#[test]
fn activation_requests_are_checked() {
    let (_dir, store) = store();
    let invalid = |request: CreateActivation| match store.create_activation(&request).unwrap_err() {
        FleetError::Invalid { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(invalid(CreateActivation { registration_limit: Some(1001), ..Default::default() }), "registrationLimit");
    assert_eq!(invalid(CreateActivation { expires_in_seconds: Some(31 * 86_400), ..Default::default() }), "expiresInSeconds");
    assert_eq!(invalid(CreateActivation { tags: tags(&[("", "x")]), ..Default::default() }), "tags.");
    let created = store.create_activation(&CreateActivation::default()).unwrap();
    assert_eq!(created.registration_limit, 1);
    let expires = chrono::DateTime::parse_from_rfc3339(&created.expires_at).unwrap();
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "a day by default: {hours}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_count_limit_holds() {
    let (_dir, store) = store();
    let (id, code) = activation(&store, 3, &[]);
    for _ in 0..3 {
        store.register_node(&id, &code, &platform("h")).await.unwrap();
    }
    assert_eq!(store.register_node(&id, &code, &platform("h")).await.unwrap_err(), FleetError::Refused);
    assert_eq!(store.list_activations().unwrap()[0].registrations_count, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_registrations_do_not_exceed_the_limit() {
    let (_dir, store) = store();
    let store = Arc::new(store);
    let (id, code) = activation(&store, 10, &[("Env", "dev")]);
    let threads: Vec<_> = (0..40)
        .map(|i| {
            let (store, id, code) = (store.clone(), id.clone(), code.clone());
            tokio::spawn(async move { store.register_node(&id, &code, &platform(&format!("h{i}"))).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in threads {
        results.push(task.await.unwrap());
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| *e == FleetError::Refused));
    assert_eq!(store.list_activations().unwrap()[0].registrations_count, 10);
    let nodes = store.list_nodes(None, GAP).unwrap();
    assert_eq!(nodes.len(), 10);
    assert!(nodes.iter().all(|n| n.tags == tags(&[("Env", "dev")])));
    let mut credentials: Vec<_> = results.into_iter().flatten().map(|r| r.credential).collect();
    credentials.sort();
    credentials.dedup();
    assert_eq!(credentials.len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deregistered_node_is_refused_at_once() {
    let (_dir, store) = store();
    let (id, credential) = node(&store, &[("Env", "dev")]).await;
    assert!(store.verify_node_credential(&credential).unwrap().is_some());
    let view = store.deregister_node(&id, GAP).unwrap();
    assert_eq!(view.ping_status, PingStatus::Inactive);
    assert!(view.deregistered_at.is_some());
    assert_eq!(store.verify_node_credential(&credential).unwrap(), None);
    // Again: nothing changes.
    assert_eq!(store.deregister_node(&id, GAP).unwrap().deregistered_at, view.deregistered_at);
    assert!(matches!(store.node_heartbeat(&id, &platform("h")).await, Err(FleetError::Conflict(_))));
    assert!(matches!(store.change_node_tags(&id, &ChangeTags::default(), GAP), Err(FleetError::Conflict(_))));
    assert!(matches!(store.deregister_node("mi-00000000000000000", GAP), Err(FleetError::NotFound(_))));
    store.touch_node(&id).await.unwrap();
    assert_eq!(store.get_node(&id, GAP).unwrap().unwrap().ping_status, PingStatus::Inactive);
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_status_follows_last_contact() {
    let (_dir, store) = store();
    let (id, _) = node(&store, &[]).await;
    assert_eq!(store.get_node(&id, GAP).unwrap().unwrap().ping_status, PingStatus::Online);
    sql(&store, &format!("UPDATE nodes SET last_seen = '2020-01-01T00:00:00.000Z' WHERE id = '{id}'"));
    assert_eq!(store.get_node(&id, GAP).unwrap().unwrap().ping_status, PingStatus::ConnectionLost);
    store.touch_node(&id).await.unwrap();
    assert_eq!(store.get_node(&id, GAP).unwrap().unwrap().ping_status, PingStatus::Online);
    assert!(store.get_node("mi-nope", GAP).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_added_replaced_removed_and_bounded() {
    let (_dir, store) = store();
    let (id, _) = node(&store, &[("Env", "dev"), ("Team", "ops")]).await;
    let change = ChangeTags { add: tags(&[("Env", "prod"), ("Role", "web")]), remove: vec!["Team".into()] };
    let view = store.change_node_tags(&id, &change, GAP).unwrap();
    assert_eq!(view.tags, tags(&[("Env", "prod"), ("Role", "web")]));
    assert_eq!(store.list_nodes(Some(("Env", "prod")), GAP).unwrap().len(), 1);
    assert!(store.list_nodes(Some(("Env", "dev")), GAP).unwrap().is_empty());

    let invalid = |change: ChangeTags| match store.change_node_tags(&id, &change, GAP).unwrap_err() {
        FleetError::Invalid { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(invalid(ChangeTags { add: tags(&[("aws:x", "1")]), remove: vec![] }), "add.aws:x");
    assert_eq!(invalid(ChangeTags { add: tags(&[("A", "1")]), remove: vec!["A".into()] }), "remove[0]");
    let many: BTreeMap<String, String> = (0..MAX_TAGS - 1).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(invalid(ChangeTags { add: many.clone(), remove: vec![] }), "add");
    // Nothing of a refused change is kept.
    assert_eq!(store.get_node(&id, GAP).unwrap().unwrap().tags.len(), 2);
    let fits: BTreeMap<String, String> = many.into_iter().take(MAX_TAGS - 2).collect();
    assert_eq!(store.change_node_tags(&id, &ChangeTags { add: fits, remove: vec![] }, GAP).unwrap().tags.len(), MAX_TAGS);
    assert!(matches!(store.change_node_tags("mi-nope", &ChangeTags::default(), GAP), Err(FleetError::NotFound(_))));
}

fn group(store: &Store, name: &str, query: &[(&str, &[&str])]) {
    let tags = query.iter().map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect())).collect();
    store.create_group(&CreateGroup { name: name.into(), description: String::new(), tags }).unwrap();
}

fn tag(key: &str, values: &[&str]) -> Target {
    Target::Tag { key: key.into(), values: values.iter().map(|v| v.to_string()).collect() }
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_are_anded_and_values_ored() {
    let (_dir, store) = store();
    let (a, _) = node(&store, &[("Env", "dev"), ("Role", "web")]).await;
    let (b, _) = node(&store, &[("Env", "prod"), ("Role", "web")]).await;
    let (c, _) = node(&store, &[("Env", "dev"), ("Role", "db")]).await;
    let (d, _) = node(&store, &[("Env", "dev"), ("Role", "web")]).await;
    store.deregister_node(&d, GAP).unwrap();
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let nodes = |targets: &[Target]| store.resolve_targets(targets).unwrap().nodes;

    assert_eq!(nodes(&[tag("Env", &["dev"])]), sorted(vec![a.clone(), c.clone()]));
    assert_eq!(nodes(&[tag("Env", &["dev", "prod"])]), sorted(vec![a.clone(), b.clone(), c.clone()]));
    assert_eq!(nodes(&[tag("Env", &["dev", "prod"]), tag("Role", &["web"])]), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(nodes(&[tag("Env", &["dev"]), tag("Role", &["web"])]), vec![a.clone()]);
    assert!(nodes(&[tag("Env", &["staging"])]).is_empty());
    assert!(nodes(&[]).is_empty(), "no target selects nothing");

    group(&store, "dev", &[("Env", &["dev"])]);
    group(&store, "web-or-db-dev", &[("Env", &["dev"]), ("Role", &["web", "db"])]);
    assert_eq!(nodes(&[Target::Group("web-or-db-dev".into())]), sorted(vec![a.clone(), c.clone()]));
    assert_eq!(nodes(&[Target::Group("dev".into()), tag("Role", &["db"])]), vec![c.clone()]);
    let missing = store.resolve_targets(&[Target::Group("nope".into())]).unwrap();
    assert_eq!(missing, ResolvedTargets { missing_groups: vec!["nope".into()], ..Default::default() });

    let unknown = "mi-0000000000000000f".to_string();
    let resolved = store.resolve_targets(&[Target::Ids(vec![c.clone(), a.clone(), d.clone(), unknown.clone(), a.clone()])]).unwrap();
    assert_eq!(resolved.nodes, sorted(vec![a.clone(), c.clone()]));
    assert_eq!((resolved.unknown.clone(), resolved.deregistered.clone()), (vec![unknown.clone()], vec![d.clone()]));
    assert_eq!(resolved.undeliverable(), sorted(vec![d.clone(), unknown.clone()]));
    let resolved = store.resolve_targets(&[Target::Ids(vec![a.clone(), b.clone(), c.clone()]), tag("Role", &["web"])]).unwrap();
    assert_eq!(resolved.nodes, sorted(vec![a.clone(), b.clone()]));
    assert!(resolved.undeliverable().is_empty());
    // Two id targets: only what both name.
    let resolved = store.resolve_targets(&[Target::Ids(vec![a.clone(), d.clone()]), Target::Ids(vec![d.clone(), unknown])]).unwrap();
    assert_eq!((resolved.nodes.clone(), resolved.undeliverable()), (vec![], vec![d]));
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_are_created_listed_read_and_deleted() {
    let (_dir, store) = store();
    let (a, _) = node(&store, &[("Env", "dev")]).await;
    group(&store, "dev", &[("Env", &["dev", "test"])]);
    let again = store.create_group(&CreateGroup { name: "dev".into(), description: String::new(), tags: Default::default() });
    assert!(matches!(again, Err(FleetError::Invalid { .. })));
    let again = store.create_group(&CreateGroup {
        name: "dev".into(),
        description: String::new(),
        tags: BTreeMap::from([("Env".into(), vec!["x".into()])]),
    });
    assert!(matches!(again, Err(FleetError::Conflict(_))), "{again:?}");
    let view = store.get_group("dev").unwrap().unwrap();
    assert_eq!(view.nodes, vec![a.clone()]);
    assert_eq!(view.tags["Env"], vec!["dev", "test"]);
    assert_eq!(store.list_groups().unwrap().len(), 1);
    store.deregister_node(&a, GAP).unwrap();
    assert!(store.get_group("dev").unwrap().unwrap().nodes.is_empty(), "deregistered nodes are no members");
    assert!(store.delete_group("dev").unwrap());
    assert!(!store.delete_group("dev").unwrap());
    assert!(store.get_group("dev").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn node_status_changes_are_emitted_once_each() {
    let (_dir, store) = store();
    let gap = Duration::from_secs(60);
    let (id, _) = node(&store, &[]).await;
    store.touch_node(&id).await.unwrap();
    assert_eq!(store.sweep_node_presence(gap).await.unwrap(), 1);
    assert_eq!(store.sweep_node_presence(gap).await.unwrap(), 0, "no change, no event");
    sql(&store, &format!("UPDATE nodes SET last_seen = '2000-01-01T00:00:00.000Z' WHERE id = '{id}'"));
    assert_eq!(store.sweep_node_presence(gap).await.unwrap(), 1);
    store.deregister_node(&id, gap).unwrap();
    assert_eq!(store.sweep_node_presence(gap).await.unwrap(), 1);
    let statuses: Vec<(String, String)> = store
        .events_after(0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.source == "bosun.node")
        .map(|e| (e.detail["status"].as_str().unwrap().to_string(), e.detail["instance-id"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<(String, String)> = ["Online", "ConnectionLost", "Inactive"].iter().map(|s| (s.to_string(), id.clone())).collect();
    assert_eq!(statuses, expected);
}
