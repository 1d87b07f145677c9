//! The precompiled-artifact cache: the first load compiles and stores, a new
//! host loads from disk, and a damaged artifact is discarded and rebuilt.

use bosun_plugin_host::{HostConfig, HostKind, PluginHost, sha256_hex};
use serde_json::json;

fn cached_host(dir: &std::path::Path) -> PluginHost {
    let mut config = HostConfig::new(HostKind::Server);
    config.cache_dir = Some(dir.to_path_buf());
    config.slots = 4;
    PluginHost::new(config).unwrap()
}

#[tokio::test]
async fn artifacts_are_reused_across_hosts_and_rebuilt_when_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = bosun_builtin_plugins::HOSTILE;
    let first = cached_host(dir.path());
    first.load(bytes, vec![], None).await.unwrap();
    let artifact = first.cache_path().unwrap().join(format!("{}.cwasm", sha256_hex(bytes)));
    assert!(artifact.is_file(), "compiled into the cache");
    let modified = std::fs::metadata(&artifact).unwrap().modified().unwrap();
    drop(first);

    let second = cached_host(dir.path());
    let plugin = second.load(bytes, vec![], None).await.unwrap();
    assert_eq!(std::fs::metadata(&artifact).unwrap().modified().unwrap(), modified, "loaded, not rewritten");
    assert!(second.call(&plugin, "plugin:hostile", &json!({"Case": "noop"})).await.result.is_ok());
    drop((plugin, second));

    // Replaced, never truncated in place: a mapped artifact must not shrink under a reader.
    let damaged = dir.path().join("damaged");
    std::fs::write(&damaged, b"garbage").unwrap();
    std::fs::rename(&damaged, &artifact).unwrap();
    let third = cached_host(dir.path());
    let plugin = third.load(bytes, vec![], None).await.unwrap();
    assert!(third.call(&plugin, "plugin:hostile", &json!({"Case": "noop"})).await.result.is_ok());
    assert!(std::fs::read(&artifact).unwrap().len() > 1000, "the damaged artifact was replaced");
}

#[test]
fn the_cache_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let host = cached_host(dir.path());
    let mode = std::fs::metadata(host.cache_path().unwrap()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}
