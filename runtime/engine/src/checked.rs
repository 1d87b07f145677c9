//! Documents already parsed and checked by this engine, by content: a runbook
//! started many times (by a schedule, by a fleet of callers) is parsed once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bosun_document::Document;

use crate::error::EngineError;
use crate::record::DocumentSnapshot;

/// How many distinct documents are kept, and how many bytes of their text; past either
/// the cache starts over.
const CAPACITY: usize = 64;
const CAPACITY_BYTES: usize = 32 << 20;

/// What a check depends on besides the engine: the text, its format, and which steps are mocked.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    file_name: String,
    text: String,
    mocked: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct CheckedDocuments(Mutex<HashMap<Key, Arc<Document>>>);

impl CheckedDocuments {
    /// The checked document for `snapshot` with these mocked steps, checking it with
    /// `check` the first time. Failed checks are not kept.
    pub(crate) fn get_or_check(
        &self,
        snapshot: &DocumentSnapshot,
        mocked: impl Iterator<Item = String>,
        check: impl FnOnce() -> Result<Document, EngineError>,
    ) -> Result<Arc<Document>, EngineError> {
        let mut mocked: Vec<String> = mocked.collect();
        mocked.sort();
        let key = Key { file_name: snapshot.file_name.clone(), text: snapshot.text.clone(), mocked };
        if let Some(doc) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Arc::clone(doc));
        }
        let doc = Arc::new(check()?);
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: usize = entries.keys().map(|k| k.text.len()).sum::<usize>() + key.text.len();
        if entries.len() >= CAPACITY || bytes > CAPACITY_BYTES {
            entries.clear();
        }
        entries.insert(key, Arc::clone(&doc));
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use bosun_document::actions::StructureOnly;

    use super::*;

    fn snapshot(text: &str) -> DocumentSnapshot {
        DocumentSnapshot { name: "d".into(), version: None, file_name: "d.yaml".into(), text: text.into() }
    }

    const DOC: &str = "schemaVersion: '0.3'\nmainSteps:\n  - { name: a, action: bosun:echo, inputs: {} }\n";

    #[test]
    fn the_same_content_is_checked_once() {
        let cache = CheckedDocuments::default();
        let checks = Cell::new(0);
        let check = || {
            checks.set(checks.get() + 1);
            bosun_document::load("d.yaml", DOC, &StructureOnly).document.ok_or(EngineError::InvalidDocument(vec![]))
        };
        let first = cache.get_or_check(&snapshot(DOC), std::iter::empty(), check).unwrap();
        let second = cache.get_or_check(&snapshot(DOC), std::iter::empty(), check).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(checks.get(), 1);
        // Other mocked steps, or other text, are another check.
        cache.get_or_check(&snapshot(DOC), ["a".to_string()].into_iter(), check).unwrap();
        cache.get_or_check(&snapshot(&format!("{DOC}\n")), std::iter::empty(), check).unwrap();
        assert_eq!(checks.get(), 3);
    }

    #[test]
    fn a_failed_check_is_not_kept() {
        let cache = CheckedDocuments::default();
        let checks = Cell::new(0);
        let failing = || {
            checks.set(checks.get() + 1);
            Err(EngineError::InvalidDocument(vec!["bad".into()]))
        };
        assert!(cache.get_or_check(&snapshot("x"), std::iter::empty(), failing).is_err());
        assert!(cache.get_or_check(&snapshot("x"), std::iter::empty(), failing).is_err());
        assert_eq!(checks.get(), 2);
    }
}
