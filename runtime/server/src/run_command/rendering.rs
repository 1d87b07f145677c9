//! One rendering of each command for its deliveries. The document, the documents it
//! includes, the plugins, the parameters and the timeout are the same for every node
//! of a command, so they are read and parsed once per command and shared
//! (reference-counted) by every node's long poll; a node's assignment adds only its
//! invocation id (and its own copy of the parameters when they name Parameter Store
//! values, resolved at delivery). A sent command never changes, so a rendering stays
//! right; the renderings of the few most recent commands are kept.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bosun_engine::StoreError;
use bosun_protocol::session::SessionOffer;
use bosun_store::{CommandRecord, Store};
use serde::Serialize;
use serde::ser::SerializeStruct;
use serde_json::{Map, Value};

use super::SentDocument;

/// How many commands' renderings are kept.
const KEPT: usize = 16;

/// What every node of a command is sent.
#[derive(Debug)]
pub struct Rendering {
    pub command_id: String,
    pub requested_by: String,
    pub sent: SentDocument,
    /// The parameters as stored (Parameter Store references unresolved).
    pub parameters: Map<String, Value>,
    pub timeout_seconds: u64,
}

impl Rendering {
    /// None when the stored document cannot be read.
    fn of(record: CommandRecord) -> Option<Rendering> {
        let sent = serde_json::from_str::<SentDocument>(&record.document).ok()?;
        Some(Rendering {
            parameters: serde_json::from_str(&record.parameters).unwrap_or_default(),
            command_id: record.id,
            requested_by: record.requested_by,
            sent,
            timeout_seconds: record.timeout_seconds,
        })
    }
}

/// The renderings of the most recent commands delivered or reported on.
#[derive(Debug, Default)]
pub struct Renderings {
    /// Most recently used first.
    recent: Mutex<VecDeque<Arc<Rendering>>>,
}

impl Renderings {
    /// The rendering of a command: kept, or read from the store. Ok(None) when there is
    /// no such command or its stored document cannot be read.
    pub fn get(&self, store: &Store, command_id: &str) -> Result<Option<Arc<Rendering>>, StoreError> {
        if let Some(found) = self.kept(command_id) {
            return Ok(Some(found));
        }
        let Some(record) = store.get_command(command_id)? else { return Ok(None) };
        let Some(rendering) = Rendering::of(record).map(Arc::new) else {
            tracing::error!(command = %command_id, "a stored command's document is not readable");
            return Ok(None);
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        // Another poll may have read it meanwhile: keep one.
        if let Some(found) = recent.iter().find(|r| r.command_id == command_id) {
            return Ok(Some(found.clone()));
        }
        recent.push_front(rendering.clone());
        recent.truncate(KEPT);
        Ok(Some(rendering))
    }

    fn kept(&self, command_id: &str) -> Option<Arc<Rendering>> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let at = recent.iter().position(|r| r.command_id == command_id)?;
        let found = recent.remove(at)?;
        recent.push_front(found.clone());
        Some(found)
    }
}

/// One node's assignment, serialized as [`bosun_protocol::agent::Assignment`].
#[derive(Debug)]
pub struct NodeAssignment {
    pub invocation_id: String,
    pub rendering: Arc<Rendering>,
    /// The parameters with their Parameter Store references resolved for this delivery;
    /// None when they have none (the rendering's are sent).
    pub resolved: Option<Map<String, Value>>,
}

impl Serialize for NodeAssignment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rendering = &*self.rendering;
        let mut assignment = serializer.serialize_struct("Assignment", 7)?;
        assignment.serialize_field("invocationId", &self.invocation_id)?;
        assignment.serialize_field("commandId", &rendering.command_id)?;
        assignment.serialize_field("document", &rendering.sent.document)?;
        assignment.serialize_field("included", &rendering.sent.included)?;
        assignment.serialize_field("parameters", self.resolved.as_ref().unwrap_or(&rendering.parameters))?;
        assignment.serialize_field("timeoutSeconds", &rendering.timeout_seconds)?;
        assignment.serialize_field("plugins", &rendering.sent.plugins)?;
        assignment.end()
    }
}

/// A long poll's answer, serialized as [`bosun_protocol::agent::Work`].
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkReply {
    pub assignments: Vec<NodeAssignment>,
    pub cancel: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionOffer>,
}

impl WorkReply {
    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty() && self.cancel.is_empty() && self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use bosun_protocol::agent::{Assignment, DocumentText, PluginRef, Work};
    use bosun_store::{Durability, NewCommand};
    use serde_json::json;

    use super::*;

    fn sent() -> SentDocument {
        let text = |name: &str| DocumentText { name: name.into(), file_name: format!("{name}.yaml"), content: format!("# {name}\n") };
        SentDocument {
            document: text("Bosun-RunShellScript"),
            included: vec![text("Included")],
            plugins: vec![PluginRef {
                action: "plugin:acme".into(),
                plugin_action: "run".into(),
                name: "acme".into(),
                version: "1.0.0".into(),
                sha256: "ab".repeat(32),
            }],
        }
    }

    fn rendering(command_id: &str) -> Arc<Rendering> {
        Arc::new(Rendering {
            command_id: command_id.into(),
            requested_by: "admin".into(),
            sent: sent(),
            parameters: json!({"commands": ["echo hi"]}).as_object().unwrap().clone(),
            timeout_seconds: 3600,
        })
    }

    /// The assignment a node was sent before renderings were shared: its own copy of everything.
    fn assignment(invocation_id: &str, command_id: &str, parameters: Value) -> Assignment {
        let sent = sent();
        Assignment {
            invocation_id: invocation_id.into(),
            command_id: command_id.into(),
            document: sent.document,
            included: sent.included,
            parameters: parameters.as_object().unwrap().clone(),
            timeout_seconds: 3600,
            plugins: sent.plugins,
        }
    }

    #[test]
    fn a_shared_rendering_gives_each_node_its_own_invocation_and_parameters() {
        let shared = rendering("c-1");
        let resolved = json!({"commands": ["echo secret-value"]});
        let reply = WorkReply {
            assignments: vec![
                NodeAssignment { invocation_id: "c-1.mi-1".into(), rendering: shared.clone(), resolved: None },
                NodeAssignment {
                    invocation_id: "c-1.mi-2".into(),
                    rendering: shared.clone(),
                    resolved: Some(resolved.as_object().unwrap().clone()),
                },
            ],
            cancel: vec!["c-0.mi-1".into()],
            sessions: Vec::new(),
        };
        let text = serde_json::to_string(&reply).unwrap();
        let work: Work = serde_json::from_str(&text).unwrap();
        assert_eq!(work.assignments.len(), 2);
        assert_eq!(work.assignments[0].invocation_id, "c-1.mi-1");
        assert_eq!(work.assignments[1].invocation_id, "c-1.mi-2");
        assert_eq!(work.assignments[0].parameters["commands"], json!(["echo hi"]));
        assert_eq!(work.assignments[1].parameters["commands"], json!(["echo secret-value"]));
        assert_eq!(work.cancel, vec!["c-0.mi-1".to_string()]);
        // Exactly what a node got when each assignment was its own copy.
        let before = Work {
            assignments: vec![assignment("c-1.mi-1", "c-1", json!({"commands": ["echo hi"]})), assignment("c-1.mi-2", "c-1", resolved)],
            cancel: vec!["c-0.mi-1".into()],
            sessions: Vec::new(),
        };
        assert_eq!(text, serde_json::to_string(&before).unwrap());
    }

    #[test]
    fn an_empty_reply_is_what_an_empty_work_was() {
        let reply = WorkReply::default();
        assert!(reply.is_empty());
        assert_eq!(serde_json::to_string(&reply).unwrap(), serde_json::to_string(&Work::default()).unwrap());
    }

    fn record(store: &Store, id: &str, document: &str) {
        store
            .create_command(NewCommand {
                id: id.into(),
                document_name: "Bosun-RunShellScript".into(),
                document_version: None,
                document: document.into(),
                parameters: r#"{"commands":["echo hi"]}"#.into(),
                targets: "[]".into(),
                max_concurrency: "50".into(),
                max_errors: "0".into(),
                timeout_seconds: 60,
                delivery_timeout_seconds: 3600,
                comment: String::new(),
                requested_by: "admin".into(),
                requested_at: "2026-01-01T00:00:00Z".into(),
                nodes: vec!["mi-1".into()],
                undeliverable: Vec::new(),
            })
            .unwrap();
    }

    #[test]
    fn a_command_is_read_once_and_its_rendering_shared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let document = serde_json::to_string(&sent()).unwrap();
        record(&store, "c-1", &document);
        let renderings = Renderings::default();
        let first = renderings.get(&store, "c-1").unwrap().unwrap();
        let second = renderings.get(&store, "c-1").unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &second), "the second delivery shares the first one's rendering");
        assert_eq!(first.sent.document.name, "Bosun-RunShellScript");
        assert_eq!(first.parameters["commands"], json!(["echo hi"]));
        assert_eq!((first.timeout_seconds, first.requested_by.as_str()), (60, "admin"));
        assert!(renderings.get(&store, "c-missing").unwrap().is_none());
    }

    #[test]
    fn an_unreadable_document_is_no_rendering() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        for (id, document) in [("c-text", "not json"), ("c-shape", r#"{"document": 1}"#), ("c-empty", "")] {
            record(&store, id, document);
            assert!(Renderings::default().get(&store, id).unwrap().is_none(), "{id}");
        }
    }

    #[test]
    fn only_the_most_recent_renderings_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let document = serde_json::to_string(&sent()).unwrap();
        let renderings = Renderings::default();
        let first = {
            record(&store, "c-0", &document);
            renderings.get(&store, "c-0").unwrap().unwrap()
        };
        for i in 1..=KEPT {
            record(&store, &format!("c-{i}"), &document);
            renderings.get(&store, &format!("c-{i}")).unwrap().unwrap();
        }
        assert_eq!(renderings.recent.lock().unwrap().len(), KEPT);
        let again = renderings.get(&store, "c-0").unwrap().unwrap();
        assert!(!Arc::ptr_eq(&first, &again), "the oldest rendering was dropped and read again");
        let newest = renderings.get(&store, &format!("c-{KEPT}")).unwrap().unwrap();
        assert!(Arc::ptr_eq(&newest, &renderings.get(&store, &format!("c-{KEPT}")).unwrap().unwrap()));
    }
}
