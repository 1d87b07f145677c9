//! Embeds the built-in documents of `runbooks/` in the binary: writes a list of
//! `(name, file name, include_str!(path))` entries for `src/runbooks.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&manifest).join("../../runbooks");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("&[\n");
    for path in files {
        let path = path.canonicalize().unwrap_or(path);
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let file_name = path.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        let _ = writeln!(out, "    ({name:?}, {file_name:?}, include_str!({:?})),", path.display().to_string());
    }
    out.push_str("]\n");
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    if let Err(e) = std::fs::write(Path::new(&out_dir).join("runbooks.rs"), out) {
        println!("cargo:warning=cannot write the list of built-in runbooks: {e}");
        std::process::exit(1);
    }
}
