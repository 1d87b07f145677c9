//! Checks a `POST /v1/sessions` body: the document names what runs (a shell, one
//! command, or port forwarding), its parameters are the ones that document takes,
//! and the terminal size is sane. Every refusal names the field.

use bosun_protocol::JsonMap;
use bosun_protocol::session::{COMMAND_DOCUMENT, PORT_FORWARD_DOCUMENT, SHELL_DOCUMENT, SessionKind, StartSession};
use serde_json::Value;

/// The longest command of an interactive command session.
pub const MAX_COMMAND: usize = 4096;
/// The largest terminal side.
const MAX_SIDE: u16 = 1000;

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub document: &'static str,
    pub kind: SessionKind,
    pub rows: u16,
    pub cols: u16,
}

/// (field, message)
pub type Refusal = (String, String);

fn refuse(field: &str, message: impl Into<String>) -> Refusal {
    (field.to_string(), message.into())
}

fn only(parameters: &JsonMap, allowed: &[&str]) -> Result<(), Refusal> {
    match parameters.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(refuse(
            &format!("parameters.{key}"),
            if allowed.is_empty() {
                "this document takes no parameters".to_string()
            } else {
                format!("this document takes only {}", allowed.join(", "))
            },
        )),
        None => Ok(()),
    }
}

/// A parameter as text: a string, or a one-element list of one (SSM passes lists).
fn text<'a>(parameters: &'a JsonMap, key: &str) -> Option<&'a Value> {
    match parameters.get(key)? {
        Value::Array(items) if items.len() == 1 => items.first(),
        other => Some(other),
    }
}

fn command(parameters: &JsonMap) -> Result<String, Refusal> {
    only(parameters, &["command"])?;
    let field = "parameters.command";
    let command = match text(parameters, "command") {
        Some(Value::String(command)) => command,
        Some(_) => return Err(refuse(field, "must be a string")),
        None => return Err(refuse(field, format!("{COMMAND_DOCUMENT} needs a command (-p command=\"top\")"))),
    };
    if command.trim().is_empty() || command.len() > MAX_COMMAND || command.contains('\0') {
        return Err(refuse(field, format!("must be 1 to {MAX_COMMAND} bytes without NUL")));
    }
    Ok(command.clone())
}

fn port(parameters: &JsonMap) -> Result<u16, Refusal> {
    only(parameters, &["portNumber"])?;
    let field = "parameters.portNumber";
    let number = match text(parameters, "portNumber") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
        None => return Err(refuse(field, format!("{PORT_FORWARD_DOCUMENT} needs the node's port (portNumber)"))),
    };
    match number {
        Some(port @ 1..=65535) => Ok(port as u16),
        _ => Err(refuse(field, "must be a port number from 1 to 65535")),
    }
}

fn side(value: Option<u16>, default: u16, field: &str) -> Result<u16, Refusal> {
    match value.unwrap_or(default) {
        n @ 1..=MAX_SIDE => Ok(n),
        n => Err(refuse(field, format!("{n} is not between 1 and {MAX_SIDE}"))),
    }
}

pub fn check(request: &StartSession) -> Result<Checked, Refusal> {
    if request.target.is_empty() || request.target.len() > 64 {
        return Err(refuse("target", "must be a node id (see `bosun node list`)"));
    }
    let (document, kind) = match request.document.as_deref().unwrap_or(SHELL_DOCUMENT) {
        SHELL_DOCUMENT => {
            only(&request.parameters, &[])?;
            (SHELL_DOCUMENT, SessionKind::Shell)
        }
        COMMAND_DOCUMENT => (COMMAND_DOCUMENT, SessionKind::Command { command: command(&request.parameters)? }),
        PORT_FORWARD_DOCUMENT => (PORT_FORWARD_DOCUMENT, SessionKind::PortForward { port: port(&request.parameters)? }),
        other => {
            return Err(refuse(
                "document",
                format!("{other:?} is not a session document; use {SHELL_DOCUMENT}, {COMMAND_DOCUMENT} or {PORT_FORWARD_DOCUMENT}"),
            ));
        }
    };
    Ok(Checked { document, kind, rows: side(request.rows, 24, "rows")?, cols: side(request.cols, 80, "cols")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(document: Option<&str>, parameters: Value) -> StartSession {
        StartSession {
            target: "mi-1".into(),
            document: document.map(str::to_string),
            parameters: parameters.as_object().cloned().unwrap_or_default(),
            rows: None,
            cols: None,
        }
    }

    #[test]
    fn documents_and_their_parameters() {
        assert_eq!(check(&request(None, json!({}))).unwrap().kind, SessionKind::Shell);
        let top = check(&request(Some(COMMAND_DOCUMENT), json!({"command": ["top"]}))).unwrap();
        assert_eq!(top.kind, SessionKind::Command { command: "top".into() });
        let forward = check(&request(Some(PORT_FORWARD_DOCUMENT), json!({"portNumber": "5432"}))).unwrap();
        assert_eq!(forward.kind, SessionKind::PortForward { port: 5432 });
        assert_eq!((forward.rows, forward.cols), (24, 80));
    }

    #[test]
    fn bad_requests_name_the_field() {
        let field = |r: StartSession| check(&r).unwrap_err().0;
        assert_eq!(field(request(Some("AWS-RunShellScript"), json!({}))), "document");
        assert_eq!(field(request(None, json!({"command": "x"}))), "parameters.command");
        assert_eq!(field(request(Some(COMMAND_DOCUMENT), json!({}))), "parameters.command");
        assert_eq!(field(request(Some(COMMAND_DOCUMENT), json!({"command": 5}))), "parameters.command");
        assert_eq!(field(request(Some(COMMAND_DOCUMENT), json!({"command": "a\u{0}b"}))), "parameters.command");
        assert_eq!(field(request(Some(COMMAND_DOCUMENT), json!({"command": "x".repeat(MAX_COMMAND + 1)}))), "parameters.command");
        assert_eq!(field(request(Some(PORT_FORWARD_DOCUMENT), json!({"portNumber": 0}))), "parameters.portNumber");
        assert_eq!(field(request(Some(PORT_FORWARD_DOCUMENT), json!({"portNumber": "99999"}))), "parameters.portNumber");
        assert_eq!(field(request(Some(PORT_FORWARD_DOCUMENT), json!({"portNumber": 22, "host": "x"}))), "parameters.host");
        assert_eq!(field(StartSession { rows: Some(0), ..request(None, json!({})) }), "rows");
        assert_eq!(field(StartSession { cols: Some(5000), ..request(None, json!({})) }), "cols");
        assert_eq!(field(StartSession { target: String::new(), ..request(None, json!({})) }), "target");
    }
}
