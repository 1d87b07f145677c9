//! The hostile-plugin suite: every misbehaviour is refused with a clear
//! message, and the host serves the next call normally.

use bosun_plugin_host::{CallError, HostKind, Limits, LoadError};
use bosun_plugin_manifest::{ActionSpec, embed, extract};
use serde_json::json;

use crate::support::*;

fn dir_with_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inside.txt"), "inside").unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    (dir, path)
}

#[tokio::test]
async fn reading_an_absolute_path_outside_the_preopens_fails() {
    let (_dir, path) = dir_with_file();
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[&format!("fs:ro:{path}")], None).await;
    let ok = call(&host, &plugin, json!({"Case": "read", "Path": format!("{path}/inside.txt")})).await;
    assert_eq!(ok.result.unwrap()["Content"], "inside", "the granted directory is readable");
    let outcome = call(&host, &plugin, json!({"Case": "read", "Path": "/etc/hostname"})).await;
    let CallError::Failed(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.starts_with("read /etc/hostname:"), "{message}");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn dot_dot_cannot_leave_a_preopen() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
    std::fs::create_dir(outer.path().join("granted")).unwrap();
    let granted = outer.path().join("granted").to_str().unwrap().to_string();
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[&format!("fs:ro:{granted}")], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "read", "Path": format!("{granted}/../secret.txt")})).await;
    let CallError::Failed(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("secret.txt"), "{message}");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn a_symlink_pointing_out_is_not_followed() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
    std::fs::create_dir(outer.path().join("granted")).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), outer.path().join("granted/link")).unwrap();
    let granted = outer.path().join("granted").to_str().unwrap().to_string();
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[&format!("fs:ro:{granted}")], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "read", "Path": format!("{granted}/link")})).await;
    let CallError::Failed(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("/link"), "{message}");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn writing_to_a_read_only_preopen_fails() {
    let (dir, path) = dir_with_file();
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[&format!("fs:ro:{path}")], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "write", "Path": format!("{path}/new.txt")})).await;
    let CallError::Failed(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("new.txt"), "{message}");
    assert!(!dir.path().join("new.txt").exists(), "nothing was written");
    // The same plugin with a read-write grant may write.
    let writer = hostile(&host, &[&format!("fs:rw:{path}")], None).await;
    let outcome = call(&host, &writer, json!({"Case": "write", "Path": format!("{path}/new.txt"), "Content": "ok"})).await;
    assert_eq!(outcome.result.unwrap()["Written"], 2);
    assert_eq!(std::fs::read_to_string(dir.path().join("new.txt")).unwrap(), "ok");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn http_to_a_host_not_granted_is_denied() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &["http:https://api.example.com"], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "http", "Url": "https://evil.example.net/steal"})).await;
    assert_eq!(
        error(&outcome),
        CallError::Denied(
            "http request to https://evil.example.net denied: not granted; grant it with --grant http:https://evil.example.net".into()
        )
    );
    assert_eq!(outcome.denials.len(), 1);
    assert_eq!(outcome.denials[0].capability, "http");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn exec_of_a_program_not_granted_or_with_a_forbidden_argument_is_denied() {
    let host = host(HostKind::Node);
    let plugin = hostile(&host, &["exec:/bin/echo hello *"], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "exec", "Program": "/bin/sh", "Args": ["-c", "id"]})).await;
    let CallError::Denied(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("exec of /bin/sh denied") && message.contains("--grant exec:/bin/sh"), "{message}");
    let outcome = call(&host, &plugin, json!({"Case": "exec", "Program": "/bin/echo", "Args": ["goodbye", "x"]})).await;
    let CallError::Denied(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("match no granted pattern"), "{message}");
    let outcome = call(&host, &plugin, json!({"Case": "exec", "Program": "/bin/echo", "Args": ["hello", "world"]})).await;
    let outputs = outcome.result.unwrap();
    assert_eq!((outputs["ExitCode"].clone(), outputs["Stdout"].clone()), (json!(0), json!("hello world\n")));
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn exec_is_denied_on_the_control_plane_even_when_granted() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &["exec:/bin/echo"], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "exec", "Program": "/bin/echo", "Args": ["hi"]})).await;
    let CallError::Denied(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("only on nodes"), "{message}");
}

#[tokio::test]
async fn a_parameter_outside_the_granted_path_is_denied() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &["param:/app/dev/*"], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "param", "Name": "/app/dev/db"})).await;
    assert_eq!(outcome.result.unwrap()["Value"], "db.internal");
    let outcome = call(&host, &plugin, json!({"Case": "param", "Name": "/app/prod/db"})).await;
    let CallError::Denied(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("reading parameter /app/prod/db denied"), "{message}");
    assert!(!format!("{outcome:?}").contains("secret-prod"), "the value never reaches the plugin");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn an_environment_variable_not_granted_is_invisible() {
    // PATH and HOME are set in the test process, which the host is part of.
    let host = host(HostKind::Server);
    let plain = hostile(&host, &[], None).await;
    let outcome = call(&host, &plain, json!({"Case": "env", "Name": "PATH"})).await;
    let outputs = outcome.result.unwrap();
    assert_eq!((outputs["Visible"].clone(), outputs["Count"].clone()), (json!(false), json!(0)), "nothing is visible by default");
    let granted = hostile(&host, &["env:PATH"], None).await;
    let outputs = call(&host, &granted, json!({"Case": "env", "Name": "PATH"})).await.result.unwrap();
    assert_eq!(outputs["Visible"], true);
    assert_eq!(outputs["Value"], std::env::var("PATH").unwrap());
    let outputs = call(&host, &granted, json!({"Case": "env", "Name": "HOME"})).await.result.unwrap();
    assert_eq!((outputs["Visible"].clone(), outputs["Count"].clone()), (json!(false), json!(1)), "only the granted variable");
}

#[tokio::test]
async fn an_infinite_loop_times_out_and_the_host_goes_on() {
    let host = host(HostKind::Server);
    let limits = Limits { timeout_seconds: 1, ..Limits::default() };
    let plugin = hostile(&host, &[], Some(limits)).await;
    let outcome = call(&host, &plugin, json!({"Case": "loop"})).await;
    let CallError::TimedOut(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("1 s deadline"), "{message}");
    assert!(outcome.wall.as_secs_f64() < 5.0, "stopped near its deadline, not later: {:?}", outcome.wall);
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    let host = host(HostKind::Server);
    let limits = Limits { memory_mib: 16, ..Limits::default() };
    let plugin = hostile(&host, &[], Some(limits)).await;
    let outcome = call(&host, &plugin, json!({"Case": "memory"})).await;
    let CallError::MemoryLimit(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.starts_with("memory limit exceeded") && message.contains("its limit is 16 MiB"), "{message}");
    assert!(outcome.peak_memory_bytes <= 16 << 20, "{}", outcome.peak_memory_bytes);
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn an_oversized_output_is_refused() {
    let host = host(HostKind::Server);
    let limits = Limits { output_kib: 4, ..Limits::default() };
    let plugin = hostile(&host, &[], Some(limits)).await;
    let fits = call(&host, &plugin, json!({"Case": "output", "Bytes": 1000})).await;
    assert!(fits.result.is_ok());
    let outcome = call(&host, &plugin, json!({"Case": "output", "Bytes": 100_000})).await;
    assert_eq!(error(&outcome), CallError::OutputTooLarge { size: 100_000 + r#"{"Data":""}"#.len(), limit: 4096 });
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn a_panic_is_a_crash_with_its_message() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "panic"})).await;
    let CallError::Trap(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("the hostile plugin panics on purpose"), "{message}");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn a_trap_is_a_crash() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "trap"})).await;
    let CallError::Trap(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("unreachable"), "{message}");
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn an_unknown_abi_version_is_refused_with_both_versions() {
    let host = host(HostKind::Server);
    let mut manifest = extract(bosun_builtin_plugins::HOSTILE).unwrap();
    manifest.abi = "1.0".into();
    let forged = embed(bosun_builtin_plugins::HOSTILE, &manifest).unwrap();
    let message = host.load(&forged, vec![], None).await.unwrap_err().to_string();
    assert!(message.contains("built for ABI bosun:plugin@1.0") && message.contains("speaks 0.1"), "{message}");
}

#[tokio::test]
async fn a_corrupted_component_is_refused() {
    let host = host(HostKind::Server);
    let original = bosun_builtin_plugins::HOSTILE;
    let mut flipped = original.to_vec();
    let middle = flipped.len() / 3;
    for byte in &mut flipped[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    let error = host.load(&flipped, vec![], None).await.unwrap_err();
    assert!(matches!(error, LoadError::Section(_) | LoadError::Compile(_)), "{error}");
    let error = host.load(&original[..original.len() / 2], vec![], None).await.unwrap_err();
    assert!(matches!(error, LoadError::Section(_) | LoadError::Compile(_)), "{error}");
    let error = host.load(b"not wasm at all", vec![], None).await.unwrap_err();
    assert_eq!(error.to_string(), "not a WebAssembly file (no \\0asm header)");
    // The host still loads and runs a good plugin.
    let plugin = hostile(&host, &[], None).await;
    assert_serves_next_call(&host, &plugin).await;
}

#[tokio::test]
async fn a_manifest_claiming_an_action_the_component_lacks_is_refused() {
    let host = host(HostKind::Server);
    let mut manifest = extract(bosun_builtin_plugins::HOSTILE).unwrap();
    manifest.actions.push(ActionSpec { name: "plugin:ghost".into(), description: String::new(), input_schema: None, idempotent: false });
    let forged = embed(bosun_builtin_plugins::HOSTILE, &manifest).unwrap();
    let error = host.load(&forged, vec![], None).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the manifest claims plugin:ghost, which the component does not implement (it implements: plugin:hostile)"
    );
}

#[tokio::test]
async fn inputs_are_checked_against_the_schema_before_the_plugin_runs() {
    let host = host(HostKind::Server);
    let plugin = hostile(&host, &[], None).await;
    let outcome = call(&host, &plugin, json!({"Case": "explode"})).await;
    let CallError::InvalidInput(message) = error(&outcome) else { panic!("{outcome:?}") };
    assert!(message.contains("/Case"), "{message}");
    let outcome = host.call(&plugin, "plugin:other", &json!({})).await;
    assert_eq!(error(&outcome), CallError::UnknownAction("plugin:other".into()));
}
