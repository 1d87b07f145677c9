//! A test-only plugin that misbehaves on request: the input's `Case` picks one
//! misbehaviour (escape the preopens, call ungranted host functions, spin,
//! exhaust memory, return a huge output, panic, trap, flood the log), so the
//! host's limits and capability checks can be tested against a real
//! component. Built only with the `test-plugins` feature of
//! bosun-builtin-plugins; never shipped.

use std::io::Write;

use bosun_plugin_sdk::{ExecRequest, Host, HttpRequest, Level, PluginError};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize)]
#[serde(tag = "Case", rename_all = "lowercase", rename_all_fields = "PascalCase", deny_unknown_fields)]
pub enum Input {
    /// Returns `{}` at once.
    Noop,
    /// Reads `Path`: `{"Content": text (lossy UTF-8), "Sha256": hex, "Size": bytes}`.
    Read { path: String },
    /// Writes `Content` (default "hostile") to `Path`: `{"Written": bytes}`.
    Write {
        path: String,
        #[serde(default = "default_content")]
        content: String,
    },
    /// Sends `Method` (default GET) to `Url` through the host:
    /// `{"Status": n, "Body": text (lossy UTF-8)}`.
    Http {
        url: String,
        #[serde(default = "default_method")]
        method: String,
    },
    /// Runs `Program` with `Args` through the host:
    /// `{"ExitCode": n, "Stdout": text, "Stderr": text}`.
    Exec {
        program: String,
        #[serde(default)]
        args: Vec<String>,
    },
    /// Reads parameter `Name`: `{"Value": text}`.
    Param { name: String },
    /// Reads environment variable `Name`:
    /// `{"Visible": bool, "Value": text or null, "Count": number of variables visible}`.
    Env { name: String },
    /// Spins forever without calling the host.
    Loop,
    /// Allocates and touches `ChunkMiB` (default 1) MiB at a time until an
    /// allocation fails, then fails with `failed("allocation failed after N MiB")`
    /// (if the host does not trap first).
    Memory {
        #[serde(default = "default_chunk", rename = "ChunkMiB")]
        chunk_mib: usize,
    },
    /// Returns `{"Data": "xxx…"}` with `Bytes` characters.
    Output { bytes: usize },
    /// Panics.
    Panic,
    /// Executes `unreachable` (a wasm trap); a panic on native targets.
    Trap,
    /// Writes `Count` (default 3) log lines of `Message`, cycling through the
    /// levels, each with fields `n` and `case`: `{"Logged": n}`.
    Log {
        #[serde(default = "default_count")]
        count: usize,
        #[serde(default = "default_message")]
        message: String,
    },
}

fn default_content() -> String {
    "hostile".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_chunk() -> usize {
    1
}
fn default_count() -> usize {
    3
}
fn default_message() -> String {
    "hostile log line".into()
}

pub fn hostile(input: Input, host: &Host) -> Result<Value, PluginError> {
    match input {
        Input::Noop => Ok(json!({})),
        Input::Read { path } => {
            let bytes = std::fs::read(&path).map_err(|e| PluginError::failed(format!("read {path}: {e}")))?;
            Ok(json!({
                "Content": String::from_utf8_lossy(&bytes),
                "Sha256": hex::encode(Sha256::digest(&bytes)),
                "Size": bytes.len(),
            }))
        }
        Input::Write { path, content } => {
            let mut file = std::fs::File::create(&path).map_err(|e| PluginError::failed(format!("create {path}: {e}")))?;
            file.write_all(content.as_bytes()).map_err(|e| PluginError::failed(format!("write {path}: {e}")))?;
            Ok(json!({ "Written": content.len() }))
        }
        Input::Http { url, method } => {
            let response = host.http(&HttpRequest::new(method, url))?;
            Ok(json!({ "Status": response.status, "Body": String::from_utf8_lossy(&response.body) }))
        }
        Input::Exec { program, args } => {
            let output = host.exec(&ExecRequest::new(program).args(args))?;
            Ok(json!({ "ExitCode": output.exit_code, "Stdout": output.stdout_text(), "Stderr": output.stderr_text() }))
        }
        Input::Param { name } => Ok(json!({ "Value": host.get_parameter(&name)? })),
        Input::Env { name } => {
            let value = std::env::var(&name).ok();
            Ok(json!({ "Visible": value.is_some(), "Value": value, "Count": std::env::vars_os().count() }))
        }
        Input::Loop => spin(),
        Input::Memory { chunk_mib } => exhaust_memory(chunk_mib.max(1)),
        Input::Output { bytes } => Ok(json!({ "Data": "x".repeat(bytes) })),
        Input::Panic => panic!("the hostile plugin panics on purpose"),
        Input::Trap => trap(),
        Input::Log { count, message } => {
            const LEVELS: [Level; 5] = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error];
            for n in 0..count {
                host.log(LEVELS[n % LEVELS.len()], &message, &[("n", &n.to_string()), ("case", "log")]);
            }
            Ok(json!({ "Logged": count }))
        }
    }
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn exhaust_memory(chunk_mib: usize) -> Result<Value, PluginError> {
    let chunk = chunk_mib.saturating_mul(1 << 20);
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block: Vec<u8> = Vec::new();
        if block.try_reserve_exact(chunk).is_err() || held.try_reserve(1).is_err() {
            let total = held.len() * chunk_mib;
            drop(held);
            return Err(PluginError::failed(format!("allocation failed after {total} MiB")));
        }
        block.resize(chunk, 0);
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        held.push(std::hint::black_box(block));
    }
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    panic!("the hostile plugin traps on purpose (a panic on native targets)")
}

bosun_plugin_sdk::export_action!("plugin:hostile" => hostile);

#[cfg(test)]
mod tests {
    use bosun_plugin_sdk::testing::TestHost;
    use bosun_plugin_sdk::{ExecOutput, HttpResponse, PluginError};
    use serde_json::{Value, json};

    fn run_with(test: &TestHost, inputs: Value) -> Result<Value, PluginError> {
        let out = super::bosun_dispatch("plugin:hostile", &inputs.to_string(), &test.host())?;
        Ok(serde_json::from_str(&out).unwrap())
    }

    fn run(inputs: Value) -> Result<Value, PluginError> {
        run_with(&TestHost::new(), inputs)
    }

    #[test]
    fn noop_returns_an_empty_object() {
        assert_eq!(run(json!({"Case": "noop"})).unwrap(), json!({}));
    }

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_str().unwrap().to_string();
        assert_eq!(run(json!({"Case": "write", "Path": path, "Content": "abc"})).unwrap(), json!({"Written": 3}));
        let out = run(json!({"Case": "read", "Path": path})).unwrap();
        assert_eq!(out["Content"], "abc");
        assert_eq!(out["Size"], 3);
        assert_eq!(out["Sha256"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let e = run(json!({"Case": "read", "Path": dir.path().join("missing")})).unwrap_err();
        assert!(matches!(e, PluginError::Failed(_)));
    }

    #[test]
    fn host_calls_pass_denials_through() {
        let test = TestHost::builder()
            .parameter("/p", "v")
            .http("GET", "https://x.test/", HttpResponse::new(201, "made"))
            .exec("/bin/echo", ["hi"], ExecOutput { exit_code: 0, stdout: b"hi\n".to_vec(), stderr: vec![] })
            .build();
        assert_eq!(run_with(&test, json!({"Case": "param", "Name": "/p"})).unwrap(), json!({"Value": "v"}));
        assert!(matches!(run_with(&test, json!({"Case": "param", "Name": "/q"})), Err(PluginError::Denied(_))));
        assert_eq!(run_with(&test, json!({"Case": "http", "Url": "https://x.test/"})).unwrap(), json!({"Status": 201, "Body": "made"}));
        assert!(matches!(run_with(&test, json!({"Case": "http", "Url": "https://y.test/"})), Err(PluginError::Denied(_))));
        assert_eq!(
            run_with(&test, json!({"Case": "exec", "Program": "/bin/echo", "Args": ["hi"]})).unwrap(),
            json!({"ExitCode": 0, "Stdout": "hi\n", "Stderr": ""})
        );
        assert!(matches!(run_with(&test, json!({"Case": "exec", "Program": "/bin/sh"})), Err(PluginError::Denied(_))));
    }

    #[test]
    fn env_reports_visibility() {
        let out = run(json!({"Case": "env", "Name": "BOSUN_SURELY_UNSET_VARIABLE"})).unwrap();
        assert_eq!(out["Visible"], false);
        assert_eq!(out["Value"], Value::Null);
    }

    #[test]
    fn memory_takes_its_chunk_size_in_mib() {
        let e = run(json!({"Case": "memory", "ChunkMiB": "big"})).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("invalid type")), "{e}");
    }

    #[test]
    fn output_has_the_size_asked_for() {
        let out = run(json!({"Case": "output", "Bytes": 1000})).unwrap();
        assert_eq!(out["Data"].as_str().unwrap().len(), 1000);
    }

    #[test]
    fn log_writes_lines_with_fields() {
        let test = TestHost::new();
        assert_eq!(run_with(&test, json!({"Case": "log", "Count": 7})).unwrap(), json!({"Logged": 7}));
        let logs = test.logs();
        assert_eq!(logs.len(), 7);
        assert_eq!(logs[6].field("n"), Some("6"));
    }

    #[test]
    #[should_panic(expected = "panics on purpose")]
    fn panic_panics() {
        let _ = run(json!({"Case": "panic"}));
    }

    #[test]
    #[should_panic(expected = "traps on purpose")]
    fn trap_is_a_panic_natively() {
        let _ = run(json!({"Case": "trap"}));
    }

    #[test]
    fn unknown_cases_and_fields_are_invalid_input() {
        let e = run(json!({"Case": "explode"})).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("unknown variant `explode`")), "{e}");
        let e = run(json!({"Case": "read"})).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("missing field `Path`")), "{e}");
    }

    #[test]
    fn the_manifest_matches_the_export() {
        let manifest = bosun_plugin_manifest::Manifest::from_json(include_str!("../bosun-plugin.json")).unwrap();
        let names: Vec<&str> = manifest.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, super::BOSUN_ACTIONS);
    }
}
