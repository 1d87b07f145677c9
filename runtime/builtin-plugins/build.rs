//! Compiles the built-in plugins (and, with the `test-plugins` feature, the
//! hostile test plugin) for wasm32-wasip2 with a nested cargo, into a target
//! directory of their own beside the outer build's (`<target>/bosun-plugins`,
//! reused across builds; the outer build's own directory would deadlock on
//! its lock), and leaves `<name>.wasm` with the manifest embedded in OUT_DIR.

use std::path::{Path, PathBuf};

/// Plugin crates built always, relative to the repository root.
const BUILTIN: &[&str] = &[
    "plugins/read-file",
    "plugins/inventory-packages",
    "plugins/inventory-os",
    "plugins/inventory-services",
    "plugins/inventory-network",
    "plugins/inventory-files",
    "plugins/inventory-custom",
    "plugins/configure-package",
    "plugins/aws-api",
    "plugins/patch-baseline",
];
/// Built only with the `test-plugins` feature.
const TEST_PLUGINS: &[&str] = &["tests/plugins/hostile"];
/// What plugin builds read besides their own crates: the SDK and the ABI, and the
/// libraries plugins share with the server (`runtime/package`: configure-package's
/// manifests and archives; `runtime/patching` and `runtime/debversion`: the patch scan).
const SHARED_INPUTS: &[&str] = &["sdk", "wit", "Cargo.toml", "Cargo.lock", "runtime/package", "runtime/patching", "runtime/debversion"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BOSUN_PLUGINS_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    let mut crates: Vec<&str> = BUILTIN.to_vec();
    if std::env::var_os("CARGO_FEATURE_TEST_PLUGINS").is_some() {
        crates.extend_from_slice(TEST_PLUGINS);
    }
    for path in SHARED_INPUTS.iter().chain(&crates) {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let target_dir = match std::env::var_os("BOSUN_PLUGINS_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => plugins_target_dir(&out_dir),
    };
    let mut options = bosun_plugin_build::BuildOptions::new(target_dir, &out_dir);
    options.echo_stderr = true;
    for dir in crates {
        if let Err(e) = bosun_plugin_build::build(&root.join(dir), &options) {
            eprintln!("error: building the plugin in {dir} failed: {e}");
            std::process::exit(1);
        }
    }
}

/// `<target>/bosun-plugins`, from OUT_DIR = `<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`.
fn plugins_target_dir(out_dir: &Path) -> PathBuf {
    let profile_dir = out_dir.ancestors().nth(3).expect("OUT_DIR is <target>/<profile>/build/<pkg>/out");
    let mut target = profile_dir.parent().expect("the profile directory has a parent");
    let triple = std::env::var("TARGET").unwrap_or_default();
    if target.file_name().is_some_and(|name| name == triple.as_str()) {
        target = target.parent().expect("the triple directory has a parent");
    }
    target.join("bosun-plugins")
}
