//! The built-in inventory collectors in the sandbox: the packages collector
//! against this machine's dpkg database, denials for paths not granted,
//! granted directories missing on the host, and the kinds kept apart.

use bosun_plugin_host::{CallError, CollectedItem, HostKind, LoadError};
use serde_json::json;

use crate::support::*;

fn builtin(name: &str) -> &'static [u8] {
    bosun_builtin_plugins::get(name).unwrap_or_else(|| panic!("no built-in {name}")).bytes
}

fn field<'a>(entry: &'a [(String, String)], key: &str) -> &'a str {
    entry.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_default()
}

#[tokio::test]
async fn the_packages_collector_sees_what_dpkg_query_sees() {
    let listed = match std::process::Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Status} ${Package} ${Version}\n"]).output() {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap(),
        _ => {
            println!("skipped: dpkg-query is not on this machine, so there is no dpkg database to compare with");
            return;
        }
    };
    // dpkg-query also lists packages removed with their configuration kept; the
    // collector reports installed ones, so compare with those.
    let mut expected: Vec<String> = listed.lines().filter_map(|l| l.strip_prefix("installed ")).map(str::to_string).collect();
    expected.sort();
    let host = host(HostKind::Node);
    let collector = host.load_collector(builtin("inventory-packages"), grants(&["fs:ro:/var/lib/dpkg"]), None).await.unwrap();
    let outcome = host.collect(&collector, &json!({})).await;
    let items: Vec<CollectedItem> = outcome.result.unwrap_or_else(|e| panic!("{e}; logs {:?}", outcome.logs));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].type_name, "AWS:Application");
    assert_eq!(items[0].capture_time.len(), 20, "{}", items[0].capture_time);
    let mut got: Vec<String> = items[0].content.iter().map(|e| format!("{} {}", field(e, "Name"), field(e, "Version"))).collect();
    got.sort();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // rpm was not granted: the collector went on without it, and the denial is on record.
    assert!(outcome.denials.iter().any(|d| d.capability == "exec"), "{:?}", outcome.denials);
}

#[tokio::test]
async fn a_collector_is_denied_a_path_it_was_not_granted() {
    let allowed = tempfile::tempdir().unwrap();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(allowed.path().join("app.conf"), "x").unwrap();
    std::fs::write(secret.path().join("key.conf"), "x").unwrap();
    let (allowed, secret) = (allowed.path().to_str().unwrap(), secret.path().to_str().unwrap());
    let host = host(HostKind::Node);
    let collector = host.load_collector(builtin("inventory-files"), grants(&[&format!("fs:ro:{allowed}")]), None).await.unwrap();
    let outcome = host.collect(&collector, &json!({"Files": [{"Path": allowed, "Pattern": ["*.conf"]}]})).await;
    let items = outcome.result.unwrap();
    assert_eq!(field(&items[0].content[0], "Name"), "app.conf");
    let outcome = host.collect(&collector, &json!({"Files": [{"Path": secret, "Pattern": ["*.conf"]}]})).await;
    match outcome.result {
        Err(CallError::Denied(message)) => {
            assert!(message.contains(secret) && message.contains(&format!("--grant fs:ro:{secret}")), "{message}")
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn granted_directories_missing_on_the_host_are_left_out() {
    let host = host(HostKind::Node);
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory");
    std::fs::create_dir(&inventory).unwrap();
    std::fs::write(inventory.join("rack.json"), r#"{"SchemaVersion":"1.0","TypeName":"Custom:RackInfo","Content":{"Bay":"B"}}"#).unwrap();
    let grant = format!("fs:ro:{}", inventory.display());
    let collector =
        host.load_collector(builtin("inventory-custom"), grants(&[&grant, "fs:ro:/nonexistent/bosun-test"]), None).await.unwrap();
    let outcome = host.collect(&collector, &json!({"Directory": inventory.to_str().unwrap()})).await;
    let items = outcome.result.unwrap();
    assert_eq!(items[0].type_name, "Custom:RackInfo");
    assert_eq!(items[0].content, vec![vec![("Bay".to_string(), "B".to_string())]]);
}

#[tokio::test]
async fn collectors_and_actions_are_kept_apart() {
    let host = host(HostKind::Node);
    let e = host.load(builtin("inventory-os"), Vec::new(), None).await.unwrap_err();
    assert!(matches!(e, LoadError::NotAnActionPlugin), "{e}");
    let e = host.load_collector(builtin("read-file"), Vec::new(), None).await.unwrap_err();
    assert!(matches!(e, LoadError::NotACollector), "{e}");
    let collector = host.load_collector(builtin("inventory-os"), Vec::new(), None).await.unwrap();
    let outcome = host.collect(&collector, &json!(["not", "a", "map"])).await;
    assert!(matches!(outcome.result, Err(CallError::InvalidInput(_))));
    let outcome = host.collect(&collector, &json!({"Unknown": 1})).await;
    assert!(matches!(&outcome.result, Err(CallError::InvalidInput(m)) if m.contains("unknown field `Unknown`")), "{:?}", outcome.result);
    // Granted nothing: os-release is in no granted directory.
    let outcome = host.collect(&collector, &json!({})).await;
    assert!(matches!(&outcome.result, Err(CallError::Denied(m)) if m.contains("/usr/lib/os-release")), "{:?}", outcome.result);
}

#[tokio::test]
async fn items_past_the_output_limit_are_refused() {
    let host = host(HostKind::Node);
    let limits = bosun_plugin_host::Limits { output_kib: 1, ..bosun_plugin_host::Limits::default() };
    let collector = host.load_collector(builtin("inventory-packages"), grants(&["fs:ro:/var/lib/dpkg"]), Some(limits)).await.unwrap();
    if !std::path::Path::new("/var/lib/dpkg/status").exists() {
        println!("skipped: no dpkg database on this machine");
        return;
    }
    let outcome = host.collect(&collector, &json!({})).await;
    assert!(matches!(outcome.result, Err(CallError::OutputTooLarge { limit: 1024, .. })), "{:?}", outcome.result);
}
