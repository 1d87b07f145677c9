//! The events Bosun emits about its own state, appended in the transaction that
//! makes the change: command and invocation status changes (`bosun.command`) and
//! Automation execution status changes (`bosun.automation`).

use bosun_engine::StoreError;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::{NewEvent, append};
use crate::sql_error;

/// A command's status became `status`.
pub(crate) fn command_status(conn: &Connection, command_no: i64, status: &str) -> Result<(), StoreError> {
    let (id, document): (String, String) = conn
        .prepare_cached("SELECT id, document_name FROM commands WHERE no = ?1")
        .and_then(|mut s| s.query_row([command_no], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(sql_error)?;
    let detail = json!({"command-id": id, "document-name": document, "status": status});
    let event = NewEvent {
        source: "bosun.command".into(),
        detail_type: "Command Status Change".into(),
        resources: vec![format!("command/{id}")],
        detail,
    };
    append(conn, &event).map(|_| ())
}

/// An invocation's status became `status` (call after the change).
pub(crate) fn invocation_status(conn: &Connection, invocation_id: &str, status: &str) -> Result<(), StoreError> {
    let (command, node, document): (String, String, String) = conn
        .prepare_cached("SELECT c.id, i.node_id, c.document_name FROM invocations i JOIN commands c ON c.no = i.command_no WHERE i.id = ?1")
        .and_then(|mut s| s.query_row([invocation_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(sql_error)?;
    let detail = json!({"command-id": command, "instance-id": node, "document-name": document, "status": status});
    let event = NewEvent {
        source: "bosun.command".into(),
        detail_type: "Command Invocation Status Change".into(),
        resources: vec![format!("command/{command}"), format!("node/{node}")],
        detail,
    };
    append(conn, &event).map(|_| ())
}

/// An execution is created (`document` given) or its status is about to be written
/// (call before the change): an event when the status differs from the stored one.
pub(crate) fn automation_status(conn: &Connection, execution_id: &str, document: Option<&str>, status: &str) -> Result<(), StoreError> {
    let document = match document {
        Some(name) => name.to_string(),
        None => {
            let stored: Option<(String, String, bool)> = conn
                .prepare_cached("SELECT document_name, status, terminal FROM executions WHERE id = ?1")
                .and_then(|mut s| s.query_row(params![execution_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
                .map_err(sql_error)?;
            match stored {
                Some((name, previous, false)) if previous != status => name,
                _ => return Ok(()),
            }
        }
    };
    let detail = json!({"execution-id": execution_id, "document-name": document, "status": status});
    let event = NewEvent {
        source: "bosun.automation".into(),
        detail_type: "Automation Execution Status Change".into(),
        resources: vec![format!("automation-execution/{execution_id}")],
        detail,
    };
    append(conn, &event).map(|_| ())
}

#[cfg(test)]
mod tests {
    use crate::commands::fixtures::{advance_now, new_command};
    use crate::{Durability, Report, Store, invocation_id, timestamp};

    #[tokio::test(flavor = "multi_thread")]
    async fn command_and_invocation_changes_are_logged_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Normal).unwrap();
        let now = || timestamp(chrono::Utc::now());
        let no = store.create_command(new_command("cmd-1", &["mi-1"])).unwrap();
        let advance = || advance_now(no);
        store.advance_command(advance()).await.unwrap();
        let report =
            Report { status: "Success".into(), exit_code: Some(0), stdout: String::new(), stderr: String::new(), steps: "[]".into() };
        store.record_report("mi-1", &invocation_id("cmd-1", "mi-1"), report, &now()).await.unwrap();
        store.advance_command(advance()).await.unwrap();
        let events = store.events_after(0, 100).unwrap();
        let seen: Vec<(String, String)> =
            events.iter().map(|e| (e.detail_type.clone(), e.detail["status"].as_str().unwrap_or_default().to_string())).collect();
        let expected = [
            ("Command Status Change", "InProgress"),
            ("Command Invocation Status Change", "Success"),
            ("Command Status Change", "Success"),
        ];
        assert_eq!(seen, expected.map(|(a, b)| (a.to_string(), b.to_string())));
        assert_eq!(events[1].resources, vec!["command/cmd-1".to_string(), "node/mi-1".to_string()]);
        assert!(events.iter().all(|e| e.source == "bosun.command" && e.detail["command-id"] == "cmd-1"));
    }
}
