//! Property tests of the manifest reader: manifests generated from good and
//! hostile platforms, architectures, file names and checksums, and any text,
//! give a manifest or a list of problems, never a panic; a manifest that
//! parses prints and parses back to itself, and every archive it names is
//! listed with a lowercase-hex sha256.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::Manifest;

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn pick(values: &[&'static str]) -> impl Strategy<Value = String> + use<> {
    prop::sample::select(values.to_vec()).prop_map(String::from)
}

/// One (platform, platform version, architecture, file) entry.
fn target() -> impl Strategy<Value = (String, String, String, String)> {
    (
        pick(&["ubuntu", "debian", "amazon", "_any", "windows", "Ubuntu", "../x", ""]),
        pick(&["_any", "22.04", "12", "", "..", "2023"]),
        pick(&["x86_64", "arm64", "_any", "mips", "X86_64"]),
        pick(&["a.zip", "b.zip", "tool-1.0.zip", "../c.zip", ".hidden.zip", "x.tar", "d/e.zip", "\u{7}.zip"]),
    )
}

/// A manifest's JSON from generated entries, file list and top-level fields.
fn manifest() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(target(), 0..6),
        prop::collection::vec((pick(&["a.zip", "b.zip", "tool-1.0.zip", "unused.zip", "../c.zip"]), pick(&[SHA, "ABC", ""])), 0..5),
        pick(&["2.0", "1.0", ""]),
        pick(&["1.0", "2.3.4-rc1", "../2", "", "a b"]),
        any::<bool>(),
    )
        .prop_map(|(targets, files, schema, version, publisher)| {
            let mut packages = Map::new();
            for (platform, platform_version, arch, file) in targets {
                let versions = packages.entry(platform).or_insert_with(|| json!({}));
                let arches = versions.as_object_mut().unwrap().entry(platform_version).or_insert_with(|| json!({}));
                arches[arch] = json!({"file": file});
            }
            let files: Map<String, Value> = files.into_iter().map(|(name, sha)| (name, json!({"checksums": {"sha256": sha}}))).collect();
            let mut manifest = json!({"schemaVersion": schema, "version": version, "packages": packages, "files": files});
            if publisher {
                manifest["publisher"] = json!("Example");
            }
            manifest.to_string()
        })
}

/// A manifest made of valid parts only: every archive named is listed with its sha256.
fn valid_manifest() -> impl Strategy<Value = String> {
    let entry = (
        pick(&["ubuntu", "debian", "amazon", "_any"]),
        pick(&["_any", "22.04", "12"]),
        pick(&["x86_64", "arm64", "_any"]),
        pick(&["a.zip", "b.zip", "tool-1.0.zip"]),
    );
    (prop::collection::vec(entry, 1..6), pick(&["1.0", "2.3.4-rc1", "7"])).prop_map(|(targets, version)| {
        let mut packages = Map::new();
        let mut files = Map::new();
        for (platform, platform_version, arch, file) in targets {
            let versions = packages.entry(platform).or_insert_with(|| json!({}));
            let arches = versions.as_object_mut().unwrap().entry(platform_version).or_insert_with(|| json!({}));
            arches[arch] = json!({"file": file});
        }
        for versions in packages.values() {
            for arches in versions.as_object().unwrap().values() {
                for target in arches.as_object().unwrap().values() {
                    files.insert(target["file"].as_str().unwrap().to_string(), json!({"checksums": {"sha256": SHA}}));
                }
            }
        }
        json!({"schemaVersion": "2.0", "version": version, "packages": packages, "files": files}).to_string()
    })
}

proptest! {
    #[test]
    fn valid_manifests_parse_and_print_back(text in valid_manifest()) {
        let manifest = Manifest::parse(&text);
        prop_assert!(manifest.is_ok(), "{:?}\n{}", manifest, text);
        let manifest = manifest.unwrap();
        prop_assert_eq!(Manifest::parse(&manifest.to_json()), Ok(manifest));
    }

    #[test]
    fn generated_manifests_parse_or_name_their_problems(text in manifest()) {
        match Manifest::parse(&text) {
            Ok(manifest) => {
                prop_assert_eq!(Manifest::parse(&manifest.to_json()), Ok(manifest.clone()));
                for versions in manifest.packages.0.values() {
                    for arches in versions.0.values() {
                        for target in arches.0.values() {
                            let sha = manifest.sha256_of(&target.file);
                            prop_assert!(sha.is_some_and(crate::is_sha256), "{} has no sha256", target.file);
                        }
                    }
                }
            }
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }

    #[test]
    fn a_duplicated_key_is_refused(text in manifest()) {
        // The same key twice, which serde would otherwise resolve silently.
        let doubled = text.replacen("\"version\":", "\"version\":\"9\",\"version\":", 1);
        prop_assert!(Manifest::parse(&doubled).is_err());
    }

    #[test]
    fn any_text_never_panics(text in "\\PC{0,300}") {
        let _ = Manifest::parse(&text);
    }
}
