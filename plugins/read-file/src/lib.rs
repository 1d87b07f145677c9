//! The `bosun:readFile` action: reads one file through the directories the
//! operator granted (WASI preopens, so plain `std::fs`) and returns its
//! content as UTF-8 text or base64, its SHA-256 and its size.

use std::io::Read;

use base64::Engine;
use bosun_plugin_sdk::{Host, PluginError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The default of `MaxBytes`: 1 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// The largest `MaxBytes` accepted: 64 MiB, the largest output a plugin may return.
pub const MAX_MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "base64")]
    Base64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Input {
    pub path: String,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    #[serde(default)]
    pub encoding: Encoding,
}

fn default_max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub content: String,
    pub sha256: String,
    pub size: u64,
}

pub fn read_file(input: Input, host: &Host) -> Result<Output, PluginError> {
    if !input.path.starts_with('/') {
        return Err(PluginError::invalid_input(format!("Path \"{}\" must be absolute", input.path)));
    }
    if input.max_bytes > MAX_MAX_BYTES {
        return Err(PluginError::invalid_input(format!("MaxBytes {} is above the largest allowed, {MAX_MAX_BYTES}", input.max_bytes)));
    }
    let file = std::fs::File::open(&input.path).map_err(|e| PluginError::failed(format!("cannot open {}: {e}", input.path)))?;
    // Read one byte past the limit rather than trusting the file's reported
    // size, which is 0 for many files under /proc and /sys.
    let mut bytes = Vec::new();
    file.take(input.max_bytes + 1).read_to_end(&mut bytes).map_err(|e| PluginError::failed(format!("cannot read {}: {e}", input.path)))?;
    if bytes.len() as u64 > input.max_bytes {
        return Err(PluginError::failed(format!(
            "{} is larger than MaxBytes ({} bytes); raise MaxBytes to read it",
            input.path, input.max_bytes
        )));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let content = match input.encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(&bytes),
        Encoding::Utf8 => String::from_utf8(bytes).map_err(|e| {
            PluginError::failed(format!(
                "{} is not UTF-8 text (invalid byte at offset {}); pass Encoding: base64 to read it",
                input.path,
                e.utf8_error().valid_up_to()
            ))
        })?,
    };
    host.log(bosun_plugin_sdk::Level::Debug, "read file", &[("path", &input.path), ("size", &size.to_string())]);
    Ok(Output { content, sha256, size })
}

bosun_plugin_sdk::export_action!("bosun:readFile" => read_file);

#[cfg(test)]
mod tests {
    use bosun_plugin_sdk::PluginError;
    use bosun_plugin_sdk::testing::TestHost;
    use serde_json::{Value, json};

    fn run(inputs: Value) -> Result<Value, PluginError> {
        let out = super::bosun_dispatch("bosun:readFile", &inputs.to_string(), &TestHost::new().host())?;
        Ok(serde_json::from_str(&out).unwrap())
    }

    fn path(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).to_str().unwrap().to_string()
    }

    #[test]
    fn reads_text_with_hash_and_size() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
        let out = run(json!({"Path": path(&dir, "a.txt")})).unwrap();
        assert_eq!(
            out,
            json!({
                "Content": "hello\n",
                "Sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                "Size": 6,
            })
        );
    }

    #[test]
    fn binary_needs_base64() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.bin"), [0xff, 0x00, 0x41]).unwrap();
        let e = run(json!({"Path": path(&dir, "b.bin")})).unwrap_err();
        assert!(matches!(&e, PluginError::Failed(m) if m.contains("not UTF-8") && m.contains("base64")), "{e}");
        let out = run(json!({"Path": path(&dir, "b.bin"), "Encoding": "base64"})).unwrap();
        assert_eq!(out["Content"], "/wBB");
        assert_eq!(out["Size"], 3);
    }

    #[test]
    fn max_bytes_is_enforced_exactly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.txt"), "12345").unwrap();
        assert_eq!(run(json!({"Path": path(&dir, "c.txt"), "MaxBytes": 5})).unwrap()["Content"], "12345");
        let e = run(json!({"Path": path(&dir, "c.txt"), "MaxBytes": 4})).unwrap_err();
        assert!(matches!(&e, PluginError::Failed(m) if m.contains("larger than MaxBytes")), "{e}");
    }

    #[test]
    fn the_default_limit_is_one_mib() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), vec![b'a'; (1 << 20) + 1]).unwrap();
        assert!(run(json!({"Path": path(&dir, "big")})).is_err());
        std::fs::write(dir.path().join("big"), vec![b'a'; 1 << 20]).unwrap();
        assert_eq!(run(json!({"Path": path(&dir, "big")})).unwrap()["Size"], 1 << 20);
    }

    #[test]
    fn bad_inputs_are_invalid_input() {
        for (inputs, expected) in [
            (json!({}), "missing field `Path`"),
            (json!({"Path": "relative.txt"}), "must be absolute"),
            (json!({"Path": "/x", "MaxBytes": -1}), "invalid value"),
            (json!({"Path": "/x", "MaxBytes": 1u64 << 40}), "above the largest"),
            (json!({"Path": "/x", "Encoding": "latin1"}), "unknown variant `latin1`"),
            (json!({"Path": "/x", "Pth": "/y"}), "unknown field `Pth`"),
        ] {
            let e = run(inputs.clone()).unwrap_err();
            assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains(expected)), "{inputs}: {e}");
        }
    }

    #[test]
    fn a_missing_file_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = path(&dir, "nope");
        let e = run(json!({"Path": missing})).unwrap_err();
        assert!(matches!(&e, PluginError::Failed(m) if m.contains(&missing)), "{e}");
    }

    #[test]
    fn the_manifest_parses_and_names_the_exported_action() {
        let manifest = bosun_plugin_manifest::Manifest::from_json(include_str!("../bosun-plugin.json")).unwrap();
        let names: Vec<&str> = manifest.actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, super::BOSUN_ACTIONS);
        assert!(manifest.actions[0].idempotent);
        assert!(manifest.capabilities.is_empty(), "the operator grants fs per install");
    }
}
