//! Builds a plugin crate into a Bosun component: `cargo build --release
//! --target wasm32-wasip2` in a clean environment, then the crate's
//! `bosun-plugin.json` embedded as the manifest section. Used by build scripts
//! (bosun-builtin-plugins) and by `bosun plugin build`, so it assumes neither.
//! No WebAssembly runtime here.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use bosun_plugin_manifest::{Manifest, ManifestError, SectionError};

/// The file beside a plugin's Cargo.toml that holds its manifest.
pub const MANIFEST_FILE: &str = "bosun-plugin.json";
/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// How many lines of cargo's stderr an error keeps.
const STDERR_TAIL_LINES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{} is not a Rust crate: it has no Cargo.toml", .dir.display())]
    NotACrate { dir: PathBuf },
    #[error("cannot read the plugin manifest {}: {source}", .path.display())]
    ReadManifest { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", .path.display())]
    Manifest { path: PathBuf, source: ManifestError },
    #[error("cannot run `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("`{command}` failed ({status}); the end of its output:\n{stderr_tail}")]
    Cargo { command: String, status: ExitStatus, stderr_tail: String },
    #[error(
        "`{command}` built no .wasm for {}: is the crate's type `[\"cdylib\"]` (or `[\"cdylib\", \"rlib\"]`)?",
        .manifest_path.display()
    )]
    NoArtifact { command: String, manifest_path: PathBuf },
    #[error("cannot {action} {}: {source}", .path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("cannot embed the manifest in {}: {source}", .path.display())]
    Embed { path: PathBuf, source: SectionError },
}

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Cargo's target directory for the build. Never the directory of a cargo
    /// build that is running this one (it would wait forever on its lock).
    pub target_dir: PathBuf,
    /// Where `<name>.wasm` is written.
    pub out_dir: PathBuf,
    /// The cargo to run; none: `$CARGO` (set inside cargo builds), else `cargo`.
    pub cargo: Option<PathBuf>,
    /// Leave debug information out of the component (smaller, faster to build).
    pub strip_debug: bool,
    /// Copy cargo's progress and diagnostics to this process's stderr as they come.
    pub echo_stderr: bool,
}

impl BuildOptions {
    pub fn new(target_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        BuildOptions { target_dir: target_dir.into(), out_dir: out_dir.into(), cargo: None, strip_debug: true, echo_stderr: false }
    }
}

/// A built component.
#[derive(Debug, Clone)]
pub struct BuiltPlugin {
    /// `<out_dir>/<name>.wasm` (an owner's `/` becomes `-`), manifest embedded.
    pub path: PathBuf,
    pub manifest: Manifest,
}

/// Reads and checks `<crate_dir>/bosun-plugin.json`.
pub fn read_manifest(crate_dir: &Path) -> Result<Manifest, BuildError> {
    let path = crate_dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| BuildError::ReadManifest { path: path.clone(), source })?;
    Manifest::from_json(&text).map_err(|source| BuildError::Manifest { path, source })
}

/// Builds the plugin crate in `crate_dir` into `<out_dir>/<name>.wasm`.
pub fn build(crate_dir: &Path, options: &BuildOptions) -> Result<BuiltPlugin, BuildError> {
    let manifest_path = crate_dir.join("Cargo.toml");
    if !manifest_path.is_file() {
        return Err(BuildError::NotACrate { dir: crate_dir.to_path_buf() });
    }
    let manifest = read_manifest(crate_dir)?;
    let mut command = cargo_command(&manifest_path, options);
    let shown = show(&command);
    let (stdout, status, stderr_tail) =
        run(&mut command, options.echo_stderr).map_err(|source| BuildError::Spawn { command: shown.clone(), source })?;
    if !status.success() {
        return Err(BuildError::Cargo { command: shown, status, stderr_tail });
    }
    let wanted = std::fs::canonicalize(&manifest_path).unwrap_or(manifest_path.clone());
    let artifact = find_artifact(&stdout, &wanted).ok_or(BuildError::NoArtifact { command: shown, manifest_path: wanted })?;
    let component = std::fs::read(&artifact).map_err(|source| BuildError::Io { action: "read", path: artifact.clone(), source })?;
    let embedded =
        bosun_plugin_manifest::embed(&component, &manifest).map_err(|source| BuildError::Embed { path: artifact.clone(), source })?;
    std::fs::create_dir_all(&options.out_dir).map_err(|source| BuildError::Io {
        action: "create",
        path: options.out_dir.clone(),
        source,
    })?;
    let path = options.out_dir.join(format!("{}.wasm", manifest.name.replace('/', "-")));
    write_atomically(&path, &embedded)?;
    Ok(BuiltPlugin { path, manifest })
}

/// The cargo command `build` runs, with its environment cleaned.
pub fn cargo_command(manifest_path: &Path, options: &BuildOptions) -> Command {
    let cargo = options.cargo.clone().or_else(|| std::env::var_os("CARGO").map(PathBuf::from)).unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(manifest_path)
        .arg("--target-dir")
        .arg(&options.target_dir);
    if options.strip_debug {
        command.args(["--config", "profile.release.debug=false", "--config", "profile.release.strip=\"debuginfo\""]);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(inherited_var_breaks_nested_cargo) {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Variables a build script or an outer cargo sets that must not reach a
/// nested cargo: they would point it at the outer build's target, target dir,
/// flags, jobserver or features (as substrate-wasm-builder also clears them).
pub fn inherited_var_breaks_nested_cargo(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "RUSTC_LINKER",
    ];
    const PREFIXES: &[&str] = &["CARGO_CFG_", "CARGO_FEATURE_", "CARGO_PKG_", "CARGO_BIN_", "DEP_"];
    EXACT.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

fn show(command: &Command) -> String {
    let mut parts: Vec<String> = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs the command, returning stdout, the status and the last lines of stderr.
fn run(command: &mut Command, echo: bool) -> std::io::Result<(String, ExitStatus, String)> {
    let mut child = command.spawn()?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail = std::thread::spawn(move || {
        let mut tail = VecDeque::with_capacity(STDERR_TAIL_LINES);
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).into_owned();
            if echo {
                eprintln!("{line}");
            }
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        Vec::from(tail).join("\n")
    });
    let mut stdout = String::new();
    let mut out = child.stdout.take().expect("stdout is piped");
    let read = out.read_to_string(&mut stdout);
    let status = child.wait()?;
    let tail = tail.join().unwrap_or_default();
    read?;
    Ok((stdout, status, tail))
}

/// The `.wasm` of the crate at `manifest_path`, from cargo's JSON messages.
fn find_artifact(messages: &str, manifest_path: &Path) -> Option<PathBuf> {
    let mut found = None;
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let same_crate = message["manifest_path"].as_str().is_some_and(|p| {
            let p = Path::new(p);
            p == manifest_path || std::fs::canonicalize(p).is_ok_and(|p| p == manifest_path)
        });
        if !same_crate {
            continue;
        }
        let files = message["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str());
        if let Some(wasm) = files.into_iter().find(|f| f.ends_with(".wasm")) {
            found = Some(PathBuf::from(wasm));
        }
    }
    found
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let mut temp = OsString::from(path.as_os_str());
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, bytes).map_err(|source| BuildError::Io { action: "write", path: temp.clone(), source })?;
    std::fs::rename(&temp, path).map_err(|source| BuildError::Io { action: "write", path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"name":"demo","version":"0.1.0","abi":"0.1","actions":[{"name":"plugin:demo"}]}"#;

    fn options(dir: &Path) -> BuildOptions {
        BuildOptions::new(dir.join("target"), dir.join("out"))
    }

    #[test]
    fn the_environment_of_a_build_script_is_cleaned() {
        for key in ["CARGO_ENCODED_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "CARGO_MAKEFLAGS"] {
            assert!(inherited_var_breaks_nested_cargo(key), "{key}");
        }
        assert!(inherited_var_breaks_nested_cargo("CARGO_CFG_TARGET_OS"));
        assert!(inherited_var_breaks_nested_cargo("CARGO_FEATURE_TEST_PLUGINS"));
        for key in ["CARGO_HOME", "RUSTUP_TOOLCHAIN", "PATH", "RUSTFLAGS", "CARGO_NET_OFFLINE", "CARGO"] {
            assert!(!inherited_var_breaks_nested_cargo(key), "{key}");
        }
    }

    #[test]
    fn the_command_targets_wasm_in_its_own_target_dir() {
        let dir = tempfile::tempdir().unwrap();
        let shown = show(&cargo_command(Path::new("/p/Cargo.toml"), &options(dir.path())));
        assert!(shown.contains("build --release --target wasm32-wasip2"), "{shown}");
        assert!(shown.contains(&format!("--target-dir {}", dir.path().join("target").display())), "{shown}");
    }

    #[test]
    fn a_directory_without_cargo_toml_is_not_a_crate() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(build(dir.path(), &options(dir.path())), Err(BuildError::NotACrate { .. })));
    }

    #[test]
    fn manifest_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        let e = build(dir.path(), &options(dir.path())).unwrap_err().to_string();
        assert!(e.contains(MANIFEST_FILE) && e.contains("cannot read"), "{e}");
        std::fs::write(dir.path().join(MANIFEST_FILE), MANIFEST.replace("\"demo\"", "\"Bad Name\"")).unwrap();
        let e = build(dir.path(), &options(dir.path())).unwrap_err().to_string();
        assert!(e.contains(MANIFEST_FILE) && e.contains("manifest field `name`"), "{e}");
    }

    #[test]
    fn a_failing_cargo_is_named_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"demo\"\nversion = \n").unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), MANIFEST).unwrap();
        let e = build(dir.path(), &options(dir.path())).unwrap_err();
        assert!(matches!(e, BuildError::Cargo { .. }), "{e}");
        let e = e.to_string();
        assert!(e.contains("--target wasm32-wasip2") && e.contains("Cargo.toml"), "{e}");
    }

    #[test]
    fn the_artifact_is_found_in_cargos_messages() {
        let manifest = Path::new("/src/demo/Cargo.toml");
        let messages = [
            r#"{"reason":"compiler-artifact","manifest_path":"/src/dep/Cargo.toml","filenames":["/t/libdep.rlib"]}"#,
            "not json",
            r#"{"reason":"compiler-artifact","manifest_path":"/src/demo/Cargo.toml","filenames":["/t/demo.wasm","/t/libdemo.rlib"]}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(find_artifact(&messages, manifest), Some(PathBuf::from("/t/demo.wasm")));
        assert_eq!(find_artifact(&messages, Path::new("/src/other/Cargo.toml")), None);
    }
}
