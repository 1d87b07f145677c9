//! Plugins from the author's side: the tutorial of sdk/README.md run command
//! by command (scaffold, native tests, build, sandbox test, inspect, install,
//! list, a runbook using the plugin), the built-in read-file plugin reading a
//! granted directory only, and the refusals of bad grants, files and hashes.
//!
//! The tutorial's commands and runbooks are taken from the README itself, so
//! the README cannot drift from what works.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Dev, Run, bosun, bosun_in, bosun_path, repo_root, start, wait_status, write};

/// The tutorial.
fn readme() -> String {
    let path = repo_root().join("sdk/README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The fenced ```yaml block of the README whose first line is `# NAME`.
fn readme_yaml(readme: &str, name: &str) -> String {
    let start = format!("```yaml\n# {name}\n");
    let at = readme.find(&start).unwrap_or_else(|| panic!("sdk/README.md has no ```yaml block starting with `# {name}`"));
    let body = &readme[at + "```yaml\n".len()..];
    let end = body.find("```").unwrap_or_else(|| panic!("the {name} block of sdk/README.md is not closed"));
    body[..end].to_string()
}

/// Splits a command line as a shell would for the commands of the tutorial:
/// words, '…' taken literally, "…" with `$PWD` expanded to `pwd` (the
/// README uses `$PWD` only inside double quotes).
fn shell_words(line: &str, pwd: &Path) -> Vec<String> {
    let pwd = pwd.to_str().expect("a UTF-8 temporary directory");
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => word.get_or_insert_default().extend(chars.by_ref().take_while(|c| *c != '\'')),
            '"' => {
                let quoted: String = chars.by_ref().take_while(|c| *c != '"').collect();
                word.get_or_insert_default().push_str(&quoted.replace("$PWD", pwd));
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

/// Runs a `bosun …` line of the README in `dir`, with `extra` arguments
/// appended; fails if the README does not show the line.
fn tutorial(readme: &str, dir: &Path, line: &str, extra: &[&str]) -> Run {
    assert!(readme.contains(line), "sdk/README.md no longer shows `{line}`");
    let words = shell_words(line, dir);
    assert_eq!(words[0], "bosun", "{line}");
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    bosun_in(dir, &args)
}

/// The workspace's target directory, from where the `bosun` under test was built.
fn workspace_target_dir() -> PathBuf {
    let bosun = Path::new(bosun_path());
    // <target>/<profile>/bosun (or <target>/<triple>/<profile>/bosun).
    bosun.parent().and_then(Path::parent).unwrap_or_else(|| panic!("{} is not inside a target directory", bosun.display())).to_path_buf()
}

/// Where the nested cargo builds of the tutorial go: kept between runs, so a
/// second run only rebuilds the scaffolded crate itself.
fn tutorial_target_dir() -> PathBuf {
    workspace_target_dir().join("e2e-plugin-tutorial")
}

/// `cargo ARGS` in `dir`, without the variables the outer cargo set that
/// would point a nested build at the outer one.
fn cargo_in(dir: &Path, args: &[&str]) -> Run {
    cargo_in_with(dir, args, &[])
}

/// `cargo_in` with extra environment variables.
fn cargo_in_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(bosun_plugin_build::inherited_var_breaks_nested_cargo) {
            command.env_remove(key);
        }
    }
    command.args(args).current_dir(dir).env("CARGO_TARGET_DIR", tutorial_target_dir()).envs(env.iter().copied());
    let output = command.output().unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn installed(dir: &Path, readme: &str) -> Vec<Value> {
    let list = tutorial(readme, dir, "bosun plugin list", &["--output", "json"]).expect_code(0).json();
    list.as_array().unwrap_or_else(|| panic!("not a list: {list}")).clone()
}

fn by_name<'a>(plugins: &'a [Value], name: &str) -> Option<&'a Value> {
    plugins.iter().find(|p| p["name"] == name)
}

#[test]
fn the_tutorial_goes_from_scaffold_to_a_runbook_step() {
    let readme = readme();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Scaffold: a crate with its manifest, depending on this checkout's SDK.
    let run = tutorial(&readme, dir, "bosun plugin new acme/hello", &[]);
    assert!(run.expect_code(0).stdout.contains("created plugin acme/hello in hello"), "{}", run.stdout);
    let crate_dir = dir.join("hello");
    for file in ["Cargo.toml", "bosun-plugin.json", "src/lib.rs", ".gitignore"] {
        assert!(crate_dir.join(file).is_file(), "the scaffold has no {file}");
    }
    // The workspace's lock file pins the versions already built (and needs no
    // network); cargo drops the packages the plugin does not use.
    std::fs::copy(repo_root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    // Native unit tests through TestHost.
    assert!(readme.contains("cd hello && cargo test"), "sdk/README.md no longer shows `cd hello && cargo test`");
    let run = cargo_in(&crate_dir, &["test"]);
    run.expect_code(0);
    assert!(run.stdout.contains("test result: ok. 3 passed"), "{}", run.stdout);

    // Build for wasm32-wasip2 with the manifest embedded.
    let target_dir = tutorial_target_dir();
    let run = tutorial(&readme, dir, "bosun plugin build hello", &["--target-dir", target_dir.to_str().unwrap()]);
    assert!(run.expect_code(0).stdout.contains("built acme/hello 0.1.0 -> hello/acme-hello.wasm"), "{}", run.stdout);
    let wasm = std::fs::read(crate_dir.join("acme-hello.wasm")).unwrap();
    // A component (layer 1), not a core module.
    assert_eq!(&wasm[..8], b"\0asm\x0d\x00\x01\x00", "not a component");
    // The same crate's test that runs it in the real sandbox, through this bosun.
    assert!(readme.contains("BOSUN=$(command -v bosun) cargo test -- --ignored"), "sdk/README.md no longer shows the sandbox test");
    let run = cargo_in_with(
        &crate_dir,
        &["test", "--", "--ignored"],
        &[("BOSUN", bosun_path()), ("BOSUN_SANDBOX_TARGET_DIR", tutorial_target_dir().to_str().unwrap())],
    );
    run.expect_code(0);
    assert!(run.stdout.contains("greets_in_the_real_sandbox ... ok"), "{}", run.stdout);

    // The real sandbox: outputs, the log line, time and memory.
    let run = tutorial(&readme, dir, r#"bosun plugin test hello/acme-hello.wasm --input '{"Name":"Ada"}'"#, &[]);
    let text = &run.expect_code(0).stdout;
    for expected in ["plugin:acme/hello: Success", "\"Greeting\": \"Hello, Ada!\"", "INFO  greeting Ada", "wall time: ", "peak memory: "] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    let result = tutorial(&readme, dir, r#"bosun plugin test hello/acme-hello.wasm --input '{"Name":"Ada"}' --output json"#, &[])
        .expect_code(0)
        .json();
    assert_eq!(result["status"], "Success", "{result}");
    assert_eq!(result["outputs"], json!({"Greeting": "Hello, Ada!"}));
    assert_eq!(result["logs"], json!([{"level": "INFO", "message": "greeting Ada", "fields": {}}]));
    assert_eq!(result["denials"], json!([]));
    assert!(result["wallMs"].as_f64().is_some_and(|ms| ms > 0.0), "{result}");
    assert!(result["peakMemoryBytes"].as_u64().is_some_and(|b| b > 0), "{result}");
    // The input schema of the manifest is enforced by the host.
    let run = bosun_in(dir, &["plugin", "test", "hello/acme-hello.wasm", "--input", "{}"]);
    assert!(run.expect_code(1).stdout.contains("Failed: invalid input"), "{}", run.stdout);

    let run = tutorial(&readme, dir, "bosun plugin inspect hello/acme-hello.wasm", &[]);
    let text = &run.expect_code(0).stdout;
    for expected in [
        "acme/hello 0.1.0 (ABI bosun:plugin@0.1)",
        "plugin:acme/hello - Returns a greeting for Name.",
        "exports: bosun:plugin/action@0.1.0",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }

    // Install with tighter limits than the manifest's; it is listed.
    let run = tutorial(&readme, dir, "bosun plugin install hello/acme-hello.wasm --memory-mib 16 --timeout-seconds 5", &[]);
    assert!(run.expect_code(0).stdout.contains("installed acme/hello@0.1.0"), "{}", run.stdout);
    let plugins = installed(dir, &readme);
    let hello = by_name(&plugins, "acme/hello").unwrap_or_else(|| panic!("acme/hello is not listed: {plugins:?}"));
    assert_eq!(hello["version"], "0.1.0");
    assert_eq!(hello["builtin"], false);
    assert_eq!(hello["actions"], json!(["plugin:acme/hello"]));
    assert_eq!(hello["sha256"], bosun_plugin_host::sha256_hex(&wasm));
    assert_eq!(hello["limits"]["memory_mib"], 16);
    assert_eq!(hello["limits"]["timeout_seconds"], 5);
    assert!(by_name(&plugins, "read-file").is_some_and(|p| p["builtin"] == true), "{plugins:?}");
    let text = tutorial(&readme, dir, "bosun plugin list", &[]).expect_code(0).stdout.clone();
    assert!(text.lines().any(|l| l.starts_with("acme/hello") && l.contains("user") && l.contains("plugin:acme/hello")), "{text}");

    // A runbook step runs the plugin.
    write(dir, "hello.yaml", &readme_yaml(&readme, "hello.yaml"));
    // Validation counts the plugins installed in the data directory.
    bosun_in(dir, &["doc", "validate", "hello.yaml"]).expect_code(0);
    let run = tutorial(&readme, dir, "bosun automation run hello.yaml -p Name=Ada", &[]);
    assert!(run.expect_code(0).stdout.contains("Greet.Greeting = Hello, Ada!"), "{}", run.stdout);
    let result = tutorial(&readme, dir, "bosun automation run hello.yaml -p Name=Ada", &["--output", "json"]).expect_code(0).json();
    assert_eq!(result["status"], "Success", "{result}");
    assert_eq!(result["outputs"], json!({"Greet.Greeting": "Hello, Ada!"}));
    assert_eq!(result["steps"][0]["action"], "plugin:acme/hello");
    // A step may pin the version.
    assert!(readme.contains("`plugin:acme/hello@0.1.0`"), "sdk/README.md no longer shows pinning");
    let pinned = readme_yaml(&readme, "hello.yaml").replace("action: plugin:acme/hello", "action: plugin:acme/hello@0.1.0");
    write(dir, "pinned.yaml", &pinned);
    let result = bosun_in(dir, &["automation", "run", "pinned.yaml", "-p", "Name=Ada", "--output", "json"]).expect_code(0).json();
    assert_eq!(result["outputs"], json!({"Greet.Greeting": "Hello, Ada!"}));

    // Versions, then removal: the action is gone.
    let versions = tutorial(&readme, dir, "bosun plugin versions acme/hello", &["--output", "json"]).expect_code(0).json();
    assert_eq!(versions.as_array().map(Vec::len), Some(1), "{versions}");
    let run = tutorial(&readme, dir, "bosun plugin remove acme/hello", &[]);
    assert!(run.expect_code(0).stdout.contains("removed 1 version of acme/hello"), "{}", run.stdout);
    assert!(by_name(&installed(dir, &readme), "acme/hello").is_none());
    let run = tutorial(&readme, dir, "bosun automation run hello.yaml -p Name=Ada", &[]);
    assert!(run.expect_code(2).stderr.contains("no installed plugin implements it"), "{}", run.stderr);
    let run = bosun_in(dir, &["doc", "validate", "hello.yaml"]);
    assert!(run.expect_code(1).stderr.contains("not available here"), "{}", run.stderr);

    // Signing: once a key is trusted, only files it signed install.
    tutorial(&readme, dir, "bosun plugin keygen --out acme.key", &[]).expect_code(0);
    tutorial(&readme, dir, "bosun plugin trust add acme acme.key.pub", &[]).expect_code(0);
    let run = tutorial(&readme, dir, "bosun plugin install hello/acme-hello.wasm", &[]);
    assert!(run.expect_code(2).stderr.contains("is not signed, and signing keys are trusted here"), "{}", run.stderr);
    tutorial(&readme, dir, "bosun plugin sign hello/acme-hello.wasm --key acme.key", &[]).expect_code(0);
    let run = tutorial(&readme, dir, "bosun plugin install hello/acme-hello.wasm", &[]);
    assert!(run.expect_code(0).stdout.contains("signed by acme"), "{}", run.stdout);
    let hello = by_name(&installed(dir, &readme), "acme/hello").cloned().expect("installed again");
    assert_eq!(hello["signedBy"], "acme");
    // A signature from a key nobody trusts is refused, even with --allow-unsigned.
    bosun_in(dir, &["plugin", "keygen", "--out", "other.key"]).expect_code(0);
    bosun_in(dir, &["plugin", "sign", "hello/acme-hello.wasm", "--key", "other.key"]).expect_code(0);
    let run = bosun_in(dir, &["plugin", "install", "hello/acme-hello.wasm", "--allow-unsigned"]);
    assert!(run.expect_code(2).stderr.contains("not from a trusted key"), "{}", run.stderr);
}

#[test]
fn read_file_reads_only_the_directory_it_is_granted() {
    let readme = readme();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("shared")).unwrap();
    std::fs::create_dir(dir.join("other")).unwrap();
    write(&dir.join("shared"), "motd.txt", "hello file\n");
    write(&dir.join("other"), "secret.txt", "not for plugins\n");
    write(dir, "read.yaml", &readme_yaml(&readme, "read.yaml"));
    let inside = r#"bosun automation run read.yaml -p "Path=$PWD/shared/motd.txt""#;
    let outside = r#"bosun automation run read.yaml -p "Path=$PWD/other/secret.txt""#;

    // Nothing granted: even the shared file cannot be read.
    let result = tutorial(&readme, dir, inside, &["--output", "json"]).expect_code(1).json();
    assert_eq!(result["steps"][0]["status"], "Failed", "{result}");

    let run = tutorial(&readme, dir, r#"bosun plugin grant read-file --grant "fs:ro:$PWD/shared""#, &[]);
    assert!(run.expect_code(0).stdout.contains("read-file is granted: fs:ro:"), "{}", run.stdout);

    let result = tutorial(&readme, dir, inside, &["--output", "json"]).expect_code(0).json();
    assert_eq!(result["status"], "Success", "{result}");
    assert_eq!(result["outputs"]["Read.Sha256"], bosun_plugin_host::sha256_hex(b"hello file\n"));
    assert_eq!(result["outputs"]["Read.Content"], "hello file\n");
    assert!(readme.contains(&bosun_plugin_host::sha256_hex(b"hello file\n")), "the README shows another hash");

    let result = tutorial(&readme, dir, outside, &["--output", "json"]).expect_code(1).json();
    assert_eq!(result["status"], "Failed", "{result}");
    let step = &result["steps"][0];
    assert_eq!(step["status"], "Failed", "{result}");
    assert!(step["failureMessage"].as_str().is_some_and(|m| m.contains("secret.txt")), "{result}");
    assert!(!result.to_string().contains("not for plugins"), "{result}");

    // No grant at all revokes.
    bosun_in(dir, &["plugin", "grant", "read-file"]).expect_code(0);
    let result = tutorial(&readme, dir, inside, &["--output", "json"]).expect_code(1).json();
    assert_eq!(result["status"], "Failed", "{result}");
}

#[test]
fn a_running_dev_sees_grant_changes_without_a_restart() {
    let readme = readme();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    std::fs::create_dir(dir.join("shared")).unwrap();
    write(&dir.join("shared"), "motd.txt", "hello file\n");
    let runbook = write(dir, "read.yaml", &readme_yaml(&readme, "read.yaml"));
    let path = format!("Path={}", dir.join("shared/motd.txt").display());
    let data_arg = data.to_str().unwrap();
    let _dev = Dev::start(&data);

    let id = start(&data, &runbook, &[&path]);
    let execution = wait_status(&data, &id, &["Success", "Failed"], Duration::from_secs(60));
    assert_eq!(execution["status"], "Failed", "nothing is granted yet: {execution}");

    let grant = format!("fs:ro:{}", dir.join("shared").display());
    bosun(&["plugin", "grant", "--data-dir", data_arg, "read-file", "--grant", &grant]).expect_code(0);
    let id = start(&data, &runbook, &[&path]);
    let execution = wait_status(&data, &id, &["Success", "Failed"], Duration::from_secs(60));
    assert_eq!(execution["status"], "Success", "the new grant applies: {execution}");

    bosun(&["plugin", "grant", "--data-dir", data_arg, "read-file"]).expect_code(0);
    let id = start(&data, &runbook, &[&path]);
    let execution = wait_status(&data, &id, &["Success", "Failed"], Duration::from_secs(60));
    assert_eq!(execution["status"], "Failed", "the revocation applies: {execution}");
}

/// The built-in read-file component, as a file.
fn read_file_component(dir: &Path) -> PathBuf {
    let builtin = bosun_builtin_plugins::get("read-file").expect("read-file is built in");
    let path = dir.join("read-file.wasm");
    std::fs::write(&path, builtin.bytes).unwrap();
    path
}

#[test]
fn grant_syntax_errors_exit_2_and_name_the_grant() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = read_file_component(dir);
    let file = file.to_str().unwrap();
    let cases = [
        ("fs:ro:relative/dir", "the host path must be absolute"),
        ("http:ftp://example.com", "unknown scheme \"ftp\""),
        ("exec:/usr/bin/apt-get ** install", "** stands for the remaining arguments"),
        ("param:/app/*/db", "only a trailing /* is allowed"),
        ("disk:/dev/sda", "unknown kind \"disk\""),
    ];
    for (grant, reason) in cases {
        let run = bosun_in(dir, &["plugin", "test", file, "--input", r#"{"Path":"/x"}"#, "--grant", grant]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("grant \"{grant}\": {reason}")), "{grant}: {}", run.stderr);
        let run = bosun_in(dir, &["plugin", "grant", "read-file", "--grant", grant]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("grant \"{grant}\"")), "{grant}: {}", run.stderr);
    }
    // Other flags of `plugin test` and `install` that take text.
    let bad_flags: [(&[&str], &str); 4] = [
        (&["--input", "{not json"], "--input is not JSON"),
        (&["--param", "no-equals-sign"], "expected NAME=VALUE"),
        (&["--memory-mib", "0"], "limits.memory_mib"),
        (&["--action", "plugin:nope"], "does not implement plugin:nope"),
    ];
    for (flags, message) in bad_flags {
        let mut args = vec!["plugin", "test", file];
        args.extend_from_slice(flags);
        let run = bosun_in(dir, &args);
        assert!(run.stderr.contains(message) || run.stdout.contains(message), "{flags:?}: {}{}", run.stdout, run.stderr);
        assert_ne!(run.code, 0, "{flags:?}");
    }
}

#[test]
fn install_refuses_what_is_not_a_component_or_not_the_pinned_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "notes.wasm", "this is not WebAssembly\n");
    let run = bosun_in(dir, &["plugin", "install", "notes.wasm"]);
    assert!(run.expect_code(2).stderr.contains("notes.wasm: not a WebAssembly file"), "{}", run.stderr);
    let run = bosun_in(dir, &["plugin", "install", "missing.wasm"]);
    assert!(run.expect_code(2).stderr.contains("cannot read missing.wasm"), "{}", run.stderr);

    let file = read_file_component(dir);
    let wrong = "0".repeat(64);
    let run = bosun_in(dir, &["plugin", "install", file.to_str().unwrap(), "--sha256", &wrong]);
    run.expect_code(2);
    let right = bosun_plugin_host::sha256_hex(bosun_builtin_plugins::get("read-file").unwrap().bytes);
    assert!(run.stderr.contains(&format!("has sha256 {right}, not the {wrong} given with --sha256")), "{}", run.stderr);
    let list = bosun_in(dir, &["plugin", "list", "--output", "json"]).expect_code(0).json();
    assert_eq!(list.as_array().map(|l| l.iter().filter(|p| p["builtin"] == false).count()), Some(0), "{list}");
}

#[test]
fn a_builtin_plugin_cannot_be_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    bosun_in(dir, &["plugin", "list"]).expect_code(0);
    let run = bosun_in(dir, &["plugin", "remove", "read-file"]);
    assert!(run.expect_code(2).stderr.contains("read-file is built in and cannot be removed"), "{}", run.stderr);
    let list = bosun_in(dir, &["plugin", "list", "--output", "json"]).expect_code(0).json();
    assert!(list.as_array().is_some_and(|l| l.iter().any(|p| p["name"] == "read-file")), "{list}");
}
