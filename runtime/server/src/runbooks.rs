//! The built-in documents of `runbooks/`, embedded in the binary, and loading
//! them into a store as read-only `Bosun`-owned documents.

use bosun_document::actions::StructureOnly;
use bosun_store::{NewDocument, Store};

/// `(name, file name, text)` of every built-in document.
pub const BUILTINS: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/runbooks.rs"));

/// The document type (`Command` or `Automation`) and schema version of a
/// document whose structure is valid, or its problems rendered as `file:line:col: path: message`.
pub fn document_facts(file_name: &str, text: &str) -> Result<(String, String), Vec<String>> {
    let loaded = bosun_document::load(file_name, text, &StructureOnly);
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.render(file_name)).collect();
    match loaded.document {
        Some(doc) if errors.is_empty() => Ok((doc.kind.as_str().to_string(), doc.schema_version.clone())),
        _ => Err(errors),
    }
}

/// Loads every built-in document into the store (a new version only when its content changed).
pub fn load_builtins(store: &Store) -> Result<(), String> {
    for (name, file_name, text) in BUILTINS {
        let (document_type, schema_version) =
            document_facts(file_name, text).map_err(|errors| format!("built-in document {name} is not valid:\n{}", errors.join("\n")))?;
        store
            .load_builtin(&NewDocument { name, file_name, content: text, document_type: &document_type, schema_version: &schema_version })
            .map_err(|e| format!("cannot load built-in document {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_builtin_runbooks_named_bosun() {
        assert!(BUILTINS.len() >= 2);
        for (name, _, _) in BUILTINS {
            assert!(name.starts_with("Bosun-"), "{name}");
        }
    }

    #[test]
    fn builtin_runbooks_are_valid_ssm_documents() {
        for (name, file_name, text) in BUILTINS {
            let (kind, schema) = document_facts(file_name, text).unwrap_or_else(|e| panic!("{name}: {}", e.join("\n")));
            assert!(matches!((kind.as_str(), schema.as_str()), ("Automation", "0.3") | ("Command", "2.2")), "{name}: {kind} {schema}");
        }
    }
}
