//! The inventory store: uploads stored and replaced, unchanged content not
//! rewritten, custom schemas enforced, queries, summary, export pages, and a
//! deregistered node's inventory deleted.

use bosun_protocol::inventory::InventoryItem;
use serde_json::json;

use crate::{FleetError, Store};

async fn node(store: &Store, hostname: &str) -> String {
    let activation =
        store.create_activation(&bosun_protocol::fleet::CreateActivation { registration_limit: Some(1), ..Default::default() }).unwrap();
    let platform = bosun_protocol::agent::Platform { platform_type: "Linux".into(), hostname: hostname.into(), ..Default::default() };
    store.register_node(&activation.activation_id, &activation.activation_code, &platform).await.unwrap().node_id
}

fn item(type_name: &str, content: serde_json::Value) -> InventoryItem {
    InventoryItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: "2026-11-27T04:00:00Z".into(),
        content: serde_json::from_value(content).unwrap(),
    }
}

fn packages(list: &[(&str, &str)]) -> InventoryItem {
    item("AWS:Application", json!(list.iter().map(|(n, v)| json!({"Name": n, "Version": v})).collect::<Vec<_>>()))
}

fn count_entries(store: &Store) -> i64 {
    store.read(|c| c.query_row("SELECT COUNT(*) FROM inventory_entries", [], |r| r.get(0))).unwrap()
}

#[tokio::test]
async fn uploads_are_stored_replaced_and_unchanged_content_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let a = node(&store, "a").await;
    let first = store.put_inventory(&a, vec![packages(&[("openssl", "3.0.15-1"), ("curl", "7.88.1-10")])]).unwrap();
    assert_eq!(first.stored, ["AWS:Application"]);
    let before = store.node_inventory(&a, None).unwrap();
    assert_eq!(before[0].content.len(), 2);

    // The same content again, captured later: nothing is written, the stored item stays as it was.
    let mut again = packages(&[("openssl", "3.0.15-1"), ("curl", "7.88.1-10")]);
    again.capture_time = "2026-11-27T05:00:00Z".into();
    let second = store.put_inventory(&a, vec![again]).unwrap();
    assert_eq!((second.stored.len(), second.unchanged.as_slice()), (0, ["AWS:Application".to_string()].as_slice()));
    assert_eq!(store.node_inventory(&a, None).unwrap(), before);
    let changes: i64 =
        store.read(|c| c.query_row("SELECT COUNT(*) FROM events WHERE source = 'bosun.inventory'", [], |r| r.get(0))).unwrap();
    assert_eq!(changes, 1, "only the upload that changed something is an event");

    let third = store.put_inventory(&a, vec![packages(&[("openssl", "3.0.16-1")])]).unwrap();
    assert_eq!(third.stored, ["AWS:Application"]);
    let after = store.node_inventory(&a, Some("AWS:Application")).unwrap();
    assert_eq!(after[0].content, vec![json!({"Name": "openssl", "Version": "3.0.16-1"}).as_object().unwrap().clone()]);
    assert_ne!(after[0].content_hash, before[0].content_hash);
    assert_eq!(count_entries(&store), 1);
}

#[tokio::test]
async fn a_bad_upload_writes_nothing_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let a = node(&store, "a").await;
    let good = packages(&[("openssl", "3.0")]);
    let bad = item("Custom:Rack", json!([{"Bay": 7}]));
    match store.put_inventory(&a, vec![good, bad]) {
        Err(FleetError::Invalid { field, .. }) => assert_eq!(field, "items[1].content[0].Bay"),
        other => panic!("{other:?}"),
    }
    assert_eq!(count_entries(&store), 0);
    assert!(store.inventory_types().unwrap().iter().all(|t| t.type_name != "Custom:Rack"));
    assert!(matches!(store.put_inventory("mi-00000000000000000", vec![]), Err(FleetError::NotFound(_))));

    store.put_inventory(&a, vec![item("Custom:Rack", json!([{"Bay": "B"}]))]).unwrap();
    match store.put_inventory(&a, vec![item("Custom:Rack", json!([{"Bay": "B", "Row": "2"}]))]) {
        Err(FleetError::Invalid { field, message }) => {
            assert_eq!(field, "items[0].content[0].Row");
            assert!(message.contains("Custom:Rack has no attribute Row"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn queries_filter_across_the_fleet_and_the_summary_counts_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let (a, b) = (node(&store, "a").await, node(&store, "b").await);
    let os = |version: &str| item("AWS:InstanceInformation", json!([{"PlatformName": "Debian GNU/Linux", "PlatformVersion": version}]));
    store.put_inventory(&a, vec![packages(&[("openssl", "1.1.1w-0"), ("curl", "7.88")]), os("12")]).unwrap();
    store.put_inventory(&b, vec![packages(&[("openssl", "3.0.15-1"), ("openssh-server", "9.2")]), os("12")]).unwrap();

    let filters = |f: &[&str]| f.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let old = store.query_inventory("AWS:Application", &filters(&["Name=openssl", "Version<3.0"]), 100).unwrap();
    assert_eq!(old.rows.len(), 1);
    assert_eq!((old.rows[0].node_id.as_str(), old.nodes, old.truncated), (a.as_str(), 1, false));
    let open = store.query_inventory("AWS:Application", &filters(&["Name^=open"]), 100).unwrap();
    assert_eq!(open.rows.len(), 3);
    assert_eq!(open.nodes, 2);
    let limited = store.query_inventory("AWS:Application", &[], 2).unwrap();
    assert!(limited.truncated);

    match store.query_inventory("AWS:Application", &filters(&["Nme=openssl"]), 10) {
        Err(FleetError::Invalid { field, .. }) => assert_eq!(field, "filter[0]"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(store.query_inventory("AWS:Bogus", &[], 10), Err(FleetError::Invalid { field, .. }) if field == "type"));
    assert!(matches!(store.query_inventory("Custom:Never", &[], 10), Err(FleetError::Invalid { field, .. }) if field == "type"));

    // Pages of one row each reach every entry once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let (rows, next) = store.inventory_page("AWS:Application", &[], cursor, 1).unwrap();
        seen.extend(rows.into_iter().map(|r| r.entry["Name"].as_str().unwrap().to_string()));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");

    let summary = store.inventory_summary(10).unwrap();
    assert_eq!(summary.nodes, 2);
    assert_eq!(summary.os_versions[0].value, "Debian GNU/Linux 12");
    assert_eq!(summary.os_versions[0].nodes, 2);
    assert_eq!((summary.applications[0].value.as_str(), summary.applications[0].nodes), ("openssl", 2));
    assert_eq!(summary.types.iter().find(|t| t.type_name == "AWS:Application").unwrap().entries, 4);
}

#[tokio::test]
async fn a_deregistered_nodes_inventory_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let a = node(&store, "a").await;
    store.put_inventory(&a, vec![packages(&[("openssl", "3.0")])]).unwrap();
    store.deregister_node(&a, std::time::Duration::from_secs(60)).unwrap();
    assert!(store.node_inventory(&a, None).unwrap().is_empty());
    assert_eq!(count_entries(&store), 0);
    assert_eq!(store.inventory_summary(5).unwrap().nodes, 0);
    assert!(matches!(store.put_inventory(&a, vec![]), Err(FleetError::Conflict(_))));
}
