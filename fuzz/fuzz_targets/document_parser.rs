//! Fuzzes the document loader: any bytes, read as YAML and as JSON, must load
//! (or fail with diagnostics) without panicking.
#![no_main]

use bosun_document::actions::StructureOnly;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["fuzz.yaml", "fuzz.json"] {
        let loaded = bosun_document::load(name, text, &StructureOnly);
        for diagnostic in &loaded.diagnostics.0 {
            let _ = diagnostic.render(name);
        }
    }
});
