//! Parameter Store in the store: versions, labels, history, limits, concurrent
//! writers, SecureString sealing and rotation, policies and path reads.

use std::sync::Arc;

use bosun_protocol::params::{ParameterType, PutParameter, Tier};
use bosun_store::params::{MAX_VERSIONS, PathQuery};
use bosun_store::{Durability, MasterKey, ParamError, Store};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Durability::Normal).unwrap()
}

fn put(name: &str, value: &str) -> PutParameter {
    PutParameter {
        name: name.into(),
        value: value.into(),
        kind: Some(ParameterType::String),
        description: None,
        allowed_pattern: None,
        data_type: None,
        tier: None,
        policies: None,
        overwrite: false,
    }
}

fn overwrite(name: &str, value: &str) -> PutParameter {
    PutParameter { overwrite: true, ..put(name, value) }
}

fn secure(name: &str, value: &str) -> PutParameter {
    PutParameter { kind: Some(ParameterType::SecureString), ..put(name, value) }
}

fn value(store: &Store, selector: &str) -> String {
    store.get_parameter(selector).unwrap().reveal(None, false).unwrap().value
}

#[test]
fn puts_make_versions_and_selectors_pick_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.put_parameter(put("/app/url", "one"), "ops", None).unwrap().version, 1);
    let again = store.put_parameter(put("/app/url", "two"), "ops", None).unwrap_err();
    assert!(matches!(&again, ParamError::Conflict(m) if m.contains("exists already") && m.contains("overwrite")), "{again}");
    assert_eq!(store.put_parameter(overwrite("/app/url", "two"), "ops", None).unwrap().version, 2);
    assert_eq!(store.put_parameter(overwrite("/app/url", "three"), "ci", None).unwrap().version, 3);
    assert_eq!(value(&store, "/app/url"), "three");
    assert_eq!(value(&store, "/app/url:1"), "one");
    let latest = store.get_parameter("/app/url").unwrap().reveal(None, false).unwrap();
    assert_eq!((latest.version, latest.last_modified_user.as_str(), latest.tier), (3, "ci", Tier::Standard));
    assert!(matches!(store.get_parameter("/app/url:9"), Err(ParamError::NotFound(m)) if m.contains("no version 9")));
    assert!(matches!(store.get_parameter("/app/nope"), Err(ParamError::NotFound(_))));

    store.label_parameter("/app/url", Some(1), &["prod".into()]).unwrap();
    assert_eq!(value(&store, "/app/url:prod"), "one");
    // Labelling another version moves the label.
    store.label_parameter("/app/url", None, &["prod".into()]).unwrap();
    assert_eq!(value(&store, "/app/url:prod"), "three");
    let bad = store.label_parameter("/app/url", Some(2), &["ok".into(), "9bad".into()]).unwrap();
    assert_eq!(bad.invalid_labels, vec!["9bad".to_string()]);
    assert!(store.get_parameter("/app/url:ok").is_err(), "no label is applied when one is invalid");
    let unlabelled = store.unlabel_parameter("/app/url", 3, &["prod".into(), "other".into()]).unwrap();
    assert_eq!((unlabelled.removed_labels, unlabelled.invalid_labels), (vec!["prod".to_string()], vec!["other".to_string()]));

    // A one-level name is one parameter with or without its slash.
    store.put_parameter(put("/top", "t"), "ops", None).unwrap();
    assert_eq!(value(&store, "top"), "t");
    assert!(store.put_parameter(put("top", "t"), "ops", None).is_err());
}

#[test]
fn a_version_holds_at_most_ten_labels() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_parameter(put("/l", "v"), "ops", None).unwrap();
    let ten: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
    store.label_parameter("/l", Some(1), &ten).unwrap();
    let over = store.label_parameter("/l", Some(1), &["l10".into()]).unwrap_err();
    assert!(matches!(&over, ParamError::Conflict(m) if m.contains("11 labels")), "{over}");
    assert!(store.label_parameter("/l", Some(1), &(0..11).map(|i| format!("x{i}")).collect::<Vec<_>>()).is_err());
    assert!(store.label_parameter("/l", Some(1), &[]).is_err());
}

#[test]
fn history_keeps_a_hundred_versions_unless_the_oldest_is_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_parameter(put("/h", "v1"), "ops", None).unwrap();
    for i in 2..=MAX_VERSIONS {
        store.put_parameter(overwrite("/h", &format!("v{i}")), "ops", None).unwrap();
    }
    let (page, meta) = store.parameter_history("/h", None, None).unwrap();
    assert_eq!(page.len(), 50);
    let (rest, _) = store.parameter_history("/h", None, meta.next_token.as_deref()).unwrap();
    assert_eq!(rest.len(), 50);
    store.label_parameter("/h", Some(1), &["pinned".into()]).unwrap();
    let refused = store.put_parameter(overwrite("/h", "v101"), "ops", None).unwrap_err();
    assert!(matches!(&refused, ParamError::Conflict(m) if m.contains("oldest, version 1, has a label")), "{refused}");
    store.unlabel_parameter("/h", 1, &["pinned".into()]).unwrap();
    assert_eq!(store.put_parameter(overwrite("/h", "v101"), "ops", None).unwrap().version, 101);
    assert!(store.get_parameter("/h:1").is_err(), "the oldest version went");
    assert_eq!(value(&store, "/h:2"), "v2");
    let (first, _) = store.parameter_history("/h", Some(1), None).unwrap();
    assert_eq!(first.into_iter().next().unwrap().reveal(None, false).unwrap().version, 2);
}

#[test]
fn values_and_fields_are_checked_at_their_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let sized = |n: usize| "x".repeat(n);
    assert!(store.put_parameter(put("/s4096", &sized(4096)), "ops", None).is_ok());
    assert!(store.put_parameter(put("/s4095", &sized(4095)), "ops", None).is_ok());
    let over = store.put_parameter(put("/s4097", &sized(4097)), "ops", None).unwrap_err().to_string();
    assert!(over.contains("4097 bytes; the Standard tier allows 4096"), "{over}");
    let intelligent = PutParameter { tier: Some(Tier::IntelligentTiering), ..put("/i4097", &sized(4097)) };
    assert_eq!(store.put_parameter(intelligent, "ops", None).unwrap().tier, Tier::Advanced);
    let advanced = |n| PutParameter { tier: Some(Tier::Advanced), ..put("/a", &sized(n)) };
    assert!(store.put_parameter(advanced(8193), "ops", None).is_err());
    assert!(store.put_parameter(advanced(8192), "ops", None).is_ok());
    let back = PutParameter { tier: Some(Tier::Standard), ..overwrite("/a", "small") };
    assert!(matches!(store.put_parameter(back, "ops", None), Err(ParamError::Conflict(_))));
    assert!(store.put_parameter(put("/e", ""), "ops", None).is_err());
    assert!(
        store.put_parameter(PutParameter { kind: None, ..put("/k", "v") }, "ops", None).unwrap_err().to_string().contains("needs a type")
    );
    let described = |n| PutParameter { description: Some(sized(n)), ..put("/d", "v") };
    assert!(store.put_parameter(described(1025), "ops", None).is_err());
    assert!(store.put_parameter(described(1024), "ops", None).is_ok());
    let patterned = |v: &str| PutParameter { allowed_pattern: Some("^[0-9]+$".into()), ..overwrite("/p", v) };
    assert!(store.put_parameter(patterned("12"), "ops", None).is_ok());
    assert!(store.put_parameter(patterned("12a"), "ops", None).unwrap_err().to_string().contains("allowed pattern"));
    // An overwrite without a pattern keeps the one the parameter has.
    assert!(store.put_parameter(overwrite("/p", "x"), "ops", None).is_err());
    let policies = r#"[{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"1","Unit":"Days"}}]"#;
    let standard_with_policy = PutParameter { policies: Some(policies.into()), tier: Some(Tier::Standard), ..put("/pol", "v") };
    assert!(store.put_parameter(standard_with_policy, "ops", None).unwrap_err().to_string().contains("Advanced tier"));
    let intelligent_with_policy =
        PutParameter { policies: Some(policies.into()), tier: Some(Tier::IntelligentTiering), ..put("/pol", "v") };
    assert_eq!(store.put_parameter(intelligent_with_policy, "ops", None).unwrap().tier, Tier::Advanced);
    for hostile in ["../x", "/a//b", "/a/", "/a\u{1}", &format!("/{}", "n".repeat(2000)), "/aws/x"] {
        assert!(matches!(store.put_parameter(put(hostile, "v"), "ops", None), Err(ParamError::Invalid { .. })), "{hostile:?}");
    }
}

#[test]
fn twenty_concurrent_writers_to_one_name_get_gapless_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    store.put_parameter(put("/race", "start"), "ops", None).unwrap();
    let writers: Vec<_> = (0..20)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..5)
                    .map(|i| store.put_parameter(overwrite("/race", &format!("w{w}-{i}")), "ops", None).unwrap().version)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut versions: Vec<i64> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..=101).collect::<Vec<_>>(), "every put got its own version, with no gap");
    let (history, _) = store.parameter_history("/race", None, None).unwrap();
    let mut values: Vec<String> = history.into_iter().map(|p| p.reveal(None, false).unwrap().value).collect();
    let (more, _) = store.parameter_history("/race", None, Some("51")).unwrap();
    values.extend(more.into_iter().map(|p| p.reveal(None, false).unwrap().value));
    for w in 0..20 {
        for i in 0..5 {
            assert!(values.contains(&format!("w{w}-{i}")), "the write w{w}-{i} was kept");
        }
    }
}

/// Every file of the data directory, as bytes.
fn data_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn secure_values_are_sealed_at_rest_and_open_only_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(MasterKey::generate().unwrap());
    let plaintext = "pl41ntext-canary-7f3a";
    {
        let store = open(dir.path());
        assert!(
            matches!(store.put_parameter(secure("/db/pw", plaintext), "ops", None), Err(ParamError::Crypto(_))),
            "no key, no SecureString"
        );
        store.put_parameter(secure("/db/pw", plaintext), "ops", Some(Arc::clone(&key))).unwrap();
        store
            .put_parameter(PutParameter { overwrite: true, ..secure("/db/pw", &format!("{plaintext}-2")) }, "ops", Some(Arc::clone(&key)))
            .unwrap();
        let stored = store.get_parameter("/db/pw").unwrap();
        assert!(stored.is_secure());
        let hidden = stored.clone().reveal(Some(&key), false).unwrap();
        assert!(!hidden.value.contains(plaintext) && hidden.key_id.as_deref() == Some(key.id()));
        assert_eq!(stored.reveal(Some(&key), true).unwrap().value, format!("{plaintext}-2"));
        let files = data_files(dir.path());
        assert!(files.iter().any(|(name, _)| name.ends_with("-wal")), "the WAL is there to be searched");
        for (name, bytes) in &files {
            assert!(!holds(bytes, plaintext), "{name} holds the plaintext");
        }
    }
    for (name, bytes) in data_files(dir.path()) {
        assert!(!holds(&bytes, plaintext), "{name} holds the plaintext after the checkpoint");
    }
    let store = open(dir.path());
    let wrong = MasterKey::generate().unwrap();
    let refused = store.get_parameter("/db/pw").unwrap().reveal(Some(&wrong), true).unwrap_err();
    assert!(
        matches!(&refused, ParamError::Crypto(m) if m.contains(key.id()) && m.contains(wrong.id()) && !m.contains(plaintext)),
        "{refused}"
    );

    let new_key = Arc::new(MasterKey::generate().unwrap());
    assert!(
        store.rotate_parameter_key(Arc::new(MasterKey::generate().unwrap()), Arc::clone(&new_key)).is_err(),
        "a wrong old key stops the rotation"
    );
    assert_eq!(
        store.get_parameter("/db/pw:1").unwrap().reveal(Some(&key), true).unwrap().value,
        plaintext,
        "a failed rotation changed nothing"
    );
    assert_eq!(store.rotate_parameter_key(Arc::clone(&key), Arc::clone(&new_key)).unwrap().rewrapped, 2);
    assert_eq!(store.get_parameter("/db/pw:1").unwrap().reveal(Some(&new_key), true).unwrap().value, plaintext);
    assert_eq!(store.get_parameter("/db/pw").unwrap().reveal(Some(&new_key), true).unwrap().value, format!("{plaintext}-2"));
    assert!(store.get_parameter("/db/pw").unwrap().reveal(Some(&key), true).is_err());
}

#[test]
fn get_by_path_filters_pages_and_hides_what_the_caller_may_not_see() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for name in ["/app/dev/a", "/app/dev/b", "/app/dev/deep/c", "/app/prod/a", "/application/x", "/top"] {
        store.put_parameter(put(name, "v"), "ops", None).unwrap();
    }
    store.put_parameter(PutParameter { kind: Some(ParameterType::StringList), ..put("/app/dev/list", "a,b") }, "ops", None).unwrap();
    let names = |query: PathQuery, visible: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut all = Vec::new();
        let mut query = query;
        loop {
            let (page, next) = store.get_parameters_by_path(&query, visible).unwrap();
            all.extend(page.iter().map(|p| p.name().to_string()));
            match next {
                Some(token) => query.next_token = Some(token),
                None => return all,
            }
        }
    };
    let everything = |_: &str| true;
    let q = |path: &str, recursive| PathQuery { path: path.into(), recursive, max_results: Some(1), ..PathQuery::default() };
    assert_eq!(names(q("/app/dev", false), &everything), ["/app/dev/a", "/app/dev/b", "/app/dev/list"]);
    assert_eq!(names(q("/app/dev/", true), &everything), ["/app/dev/a", "/app/dev/b", "/app/dev/deep/c", "/app/dev/list"]);
    assert_eq!(names(q("/app", true), &everything).len(), 5, "/application is not under /app");
    assert_eq!(names(q("/", false), &everything), ["top"]);
    assert_eq!(names(q("/", true), &everything).len(), 7);
    let only_dev = |name: &str| name.starts_with("/app/dev/");
    assert_eq!(names(q("/app", true), &only_dev).len(), 4);
    let typed = PathQuery {
        filters: vec![bosun_protocol::params::PathFilter { key: "Type".into(), option: None, values: vec!["StringList".into()] }],
        ..q("/app", true)
    };
    assert_eq!(names(typed, &everything), ["/app/dev/list"]);
    let bad_filter = PathQuery {
        filters: vec![bosun_protocol::params::PathFilter { key: "Colour".into(), option: None, values: vec!["x".into()] }],
        ..q("/app", true)
    };
    assert!(store.get_parameters_by_path(&bad_filter, &everything).is_err());
    assert!(store.get_parameters_by_path(&PathQuery { max_results: Some(11), ..q("/app", true) }, &everything).is_err());
    assert!(store.get_parameters_by_path(&PathQuery { max_results: Some(0), ..q("/app", true) }, &everything).is_err());
    assert!(store.get_parameters_by_path(&q("app", true), &everything).is_err());
    let deleted = store.delete_parameters(&["/app/prod/a".into(), "/nope".into(), "bad name".into()]).unwrap();
    assert_eq!(deleted, (vec!["/app/prod/a".to_string()], vec!["/nope".to_string(), "bad name".to_string()]));
    assert!(store.get_parameter("/app/prod/a").is_err());
}

#[test]
fn a_policy_fires_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let policies = r#"[
        {"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2031-01-10T00:00:00Z"}},
        {"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"2","Unit":"Days"}},
        {"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"1","Unit":"Hours"}}
    ]"#;
    let with_policies = PutParameter { policies: Some(policies.into()), tier: Some(Tier::Advanced), ..put("/expiring", "v") };
    let events_of = |store: &Store| {
        store.events_after(0, 1000).unwrap().into_iter().filter(|e| e.detail_type == "Parameter Store Policy Action").collect::<Vec<_>>()
    };
    {
        let store = open(dir.path());
        store.put_parameter(with_policies, "ops", None).unwrap();
        assert!(store.fire_due_policies(chrono::Utc::now()).unwrap().is_empty(), "nothing is due yet");
        let in_two_hours = chrono::Utc::now() + chrono::Duration::hours(2);
        let fired = store.fire_due_policies(in_two_hours).unwrap();
        assert_eq!(fired.iter().map(|f| f.policy_type.as_str()).collect::<Vec<_>>(), ["NoChangeNotification"]);
        assert!(store.fire_due_policies(in_two_hours).unwrap().is_empty(), "a firing happens once");
        let (_, history) = store.parameter_history("/expiring", None, None).unwrap();
        assert_eq!(history.policy_firings.len(), 1);
        assert_eq!(history.policy_firings[0].event_id, fired[0].event_id);
        let shown = store.get_parameter("/expiring").unwrap().reveal(None, false).unwrap();
        let status: Vec<_> = shown.policies.iter().map(|p| (p.policy_type.as_str(), p.policy_status.as_str())).collect();
        assert_eq!(status, [("Expiration", "Pending"), ("ExpirationNotification", "Pending"), ("NoChangeNotification", "Finished")]);
    }
    let store = open(dir.path());
    let later: chrono::DateTime<chrono::Utc> = "2031-01-11T00:00:00Z".parse().unwrap();
    let fired = store.fire_due_policies(later).unwrap();
    assert_eq!(fired.iter().map(|f| f.policy_type.as_str()).collect::<Vec<_>>(), ["ExpirationNotification", "Expiration"]);
    assert!(store.get_parameter("/expiring").is_err(), "the expiration deleted it");
    assert!(store.fire_due_policies(later).unwrap().is_empty());
    let events = events_of(&store);
    let kinds: Vec<_> = events.iter().map(|e| e.detail["policy-type"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["NoChangeNotification", "ExpirationNotification", "Expiration"], "each fired once, restart included");
    assert_eq!(events[2].detail["action-status"], "Expired");
}
