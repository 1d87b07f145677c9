//! Package versions: creation, the latest version, immutability, events, and
//! deleting versions, refused while an association names them.

use bosun_package::Manifest;
use bosun_protocol::Target;
use bosun_protocol::association::AssociationDefinition;
use bosun_protocol::packages::PackageFile;

use crate::{Durability, FleetError, Store};

fn manifest(version: &str, sha: &str) -> Manifest {
    let text = format!(
        r#"{{"schemaVersion":"2.0","version":"{version}","packages":{{"_any":{{"_any":{{"_any":{{"file":"p.zip"}}}}}}}},
            "files":{{"p.zip":{{"checksums":{{"sha256":"{sha}"}}}}}}}}"#
    );
    Manifest::parse(&text).unwrap()
}

fn add(store: &Store, version: &str, sha: &str) -> Result<bosun_protocol::packages::PackageVersionView, FleetError> {
    let files = vec![PackageFile { file: "p.zip".into(), sha256: sha.into(), size: 10 }];
    store.create_package_version("tools", manifest(version, sha), files)
}

fn associate(store: &Store, name: &str, version: Option<&str>) {
    let mut parameters = serde_json::Map::new();
    parameters.insert("name".into(), serde_json::json!(["tools"]));
    parameters.insert("action".into(), serde_json::json!("Install"));
    if let Some(v) = version {
        parameters.insert("version".into(), serde_json::json!(v));
    }
    let definition = AssociationDefinition {
        name: name.into(),
        document_name: "Bosun-ConfigurePackage".into(),
        document_version: None,
        parameters,
        targets: vec![Target::parse("tag:Role=web").unwrap()],
        schedule_expression: None,
        schedule_timezone: None,
        schedule_offset: 0,
        max_concurrency: None,
        max_errors: None,
        compliance_severity: None,
    };
    store.create_association(&definition, chrono::Utc::now()).unwrap();
}

#[test]
fn versions_are_kept_in_order_and_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let (a, b) = ("a".repeat(64), "b".repeat(64));
    add(&store, "1.0", &a).unwrap();
    let second = add(&store, "2.0", &b).unwrap();
    assert!(second.latest && second.platforms == vec!["_any _any _any".to_string()]);
    assert!(matches!(add(&store, "1.0", &b), Err(FleetError::Conflict(m)) if m.contains("versions do not change")));
    let listed = store.list_packages().unwrap();
    assert_eq!((listed[0].latest_version.as_str(), listed[0].versions, listed[0].size), ("2.0", 2, 20));
    assert_eq!(store.package_version("tools", None).unwrap().version, "2.0");
    assert_eq!(store.package_version("tools", Some("1.0")).unwrap().files[0].sha256, a);
    assert!(matches!(store.package_version("tools", Some("3")), Err(FleetError::NotFound(_))));
    assert!(matches!(store.package_versions("nope"), Err(FleetError::NotFound(_))));
    let events = store.events_after(0, 100).unwrap();
    assert_eq!(events.iter().filter(|e| e.detail_type == "Package Version Created").count(), 2);
}

#[test]
fn a_version_in_use_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let (a, b) = ("a".repeat(64), "b".repeat(64));
    add(&store, "1.0", &a).unwrap();
    add(&store, "2.0", &b).unwrap();
    associate(&store, "keep-tools-1", Some("1.0"));
    let refused = store.delete_package("tools", Some("1.0")).unwrap_err().to_string();
    assert!(refused.contains("version 1.0 of package tools is in use by the association(s) keep-tools-1"), "{refused}");
    // 2.0 is the latest, but the association names 1.0: 2.0 may go, and 1.0 becomes the latest.
    let (gone, orphaned) = store.delete_package("tools", Some("2.0")).unwrap();
    assert_eq!((gone, orphaned), (vec!["2.0".to_string()], vec![b.clone()]));
    associate(&store, "keep-tools-latest", None);
    let refused = store.delete_package("tools", None).unwrap_err().to_string();
    assert!(refused.contains("keep-tools-1, keep-tools-latest"), "{refused}");
    assert_eq!(store.package_version("tools", None).unwrap().version, "1.0");
}

#[test]
fn deleting_the_last_version_deletes_the_package_and_frees_unshared_content() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Durability::Normal).unwrap();
    let a = "a".repeat(64);
    add(&store, "1.0", &a).unwrap();
    add(&store, "1.1", &a).unwrap();
    let (_, orphaned) = store.delete_package("tools", Some("1.0")).unwrap();
    assert!(orphaned.is_empty(), "1.1 still uses the archive");
    let (gone, orphaned) = store.delete_package("tools", None).unwrap();
    assert_eq!((gone, orphaned), (vec!["1.1".to_string()], vec![a]));
    assert!(store.list_packages().unwrap().is_empty());
    assert!(matches!(store.delete_package("tools", None), Err(FleetError::NotFound(_))));
}
