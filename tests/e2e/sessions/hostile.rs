//! What no client or node should send: bad request bodies, unknown session ids,
//! the wrong credential, another node's session, and malformed, oversized, text
//! and forbidden frames on a live session; each is refused or ends that session
//! as Failed with the reason, and the server keeps serving.

use reqwest::StatusCode;
use serde_json::json;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, Utf8Bytes};

use super::{ended, setup};
use crate::fleet::{FleetServer, json_of};

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

/// Opens `path` as a WebSocket with `bearer`; the HTTP status when refused.
fn connect(server: &FleetServer, path: &str, bearer: Option<&str>) -> Result<Socket, u16> {
    let url = format!("{}{path}", server.url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    if let Some(bearer) = bearer {
        request.headers_mut().insert("authorization", format!("Bearer {bearer}").parse().unwrap());
    }
    match tungstenite::connect(request) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("cannot connect to {path}: {e}"),
    }
}

/// Opens a shell session on `node` through the API and attaches to it.
fn attached(server: &FleetServer, node: &str) -> (String, Socket) {
    let opened = json_of(server.post("/v1/sessions", Some(&server.token), &json!({"target": node})), StatusCode::CREATED);
    let id = opened["sessionId"].as_str().unwrap().to_string();
    let socket = connect(server, &format!("/v1/sessions/{id}/stream"), Some(&server.token)).unwrap();
    (id, socket)
}

/// Sends `message` on a live session and returns the reason the session ended with.
fn ending_after(server: &FleetServer, node: &str, message: Message) -> String {
    let (id, mut socket) = attached(server, node);
    let _ = socket.send(message);
    let view = ended(server, &id);
    assert_eq!(view["status"], "Failed", "{view}");
    view["reason"].as_str().unwrap().to_string()
}

#[test]
fn hostile_requests_ids_credentials_and_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = setup(dir.path(), &[]);
    let node = agent.node_id.as_str();
    let token = Some(server.token.as_str());

    for (body, status, field) in [
        (json!({"target": node, "shell": true}), StatusCode::UNPROCESSABLE_ENTITY, None),
        (json!({"target": node, "document": "AWS-RunShellScript"}), StatusCode::UNPROCESSABLE_ENTITY, Some("document")),
        (
            json!({"target": node, "document": "Bosun-StartPortForwardingSession", "parameters": {"portNumber": 70000}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("parameters.portNumber"),
        ),
        (json!({"target": node, "rows": 0}), StatusCode::UNPROCESSABLE_ENTITY, Some("rows")),
        (json!({"target": "mi-00000000000000000"}), StatusCode::NOT_FOUND, None),
    ] {
        let answer = json_of(server.post("/v1/sessions", token, &body), status);
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{answer}");
        }
    }
    let huge = json!({"target": node, "document": "Bosun-StartInteractiveCommand", "parameters": {"command": "x".repeat(3_000_000)}});
    assert!(server.post("/v1/sessions", token, &huge).status().is_client_error());

    assert_eq!(connect(&server, "/v1/sessions/no-such-session/stream", token).err(), Some(404));
    assert_eq!(connect(&server, "/v1/sessions/no-such-session/stream", None).err(), Some(401));
    assert_eq!(
        connect(&server, "/v1/agent/sessions/no-such-session/stream", token).err(),
        Some(401),
        "admin tokens are not node credentials"
    );

    // Another node cannot take this node's session.
    let (id, code) = server.activation(&json!({}));
    let (_, credential) = server.register(&id, &code, "intruder");
    let opened = json_of(server.post("/v1/sessions", token, &json!({"target": node})), StatusCode::CREATED);
    let session = opened["sessionId"].as_str().unwrap();
    assert_eq!(connect(&server, &format!("/v1/agent/sessions/{session}/stream"), Some(&credential)).err(), Some(404));
    json_of(server.post(&format!("/v1/sessions/{session}/terminate"), token, &json!({})), StatusCode::ACCEPTED);

    let reason = ending_after(&server, node, Message::Binary(vec![0x7f, 1, 2].into()));
    assert!(reason.contains("the client sent a bad frame: unknown frame kind 0x7f"), "{reason}");
    let reason = ending_after(&server, node, Message::Binary(vec![0x02, 0].into()));
    assert!(reason.contains("needs 4 bytes"), "{reason}");
    let reason = ending_after(&server, node, Message::Binary(vec![0x01; 64 * 1024].into()));
    assert!(reason.contains("the client sent a bad frame"), "{reason}");
    let reason = ending_after(&server, node, Message::Text(Utf8Bytes::from_static("{\"type\":\"data\"}")));
    assert!(reason.contains("text message"), "{reason}");
    let reason = ending_after(&server, node, Message::Binary(vec![0x03, 0, 0, 0, 0].into()));
    assert!(reason.contains("a client may not send an exit code"), "{reason}");

    // After all that the server still opens sessions.
    let (id, mut socket) = attached(&server, node);
    socket.send(Message::Binary([&[0x01][..], b"exit 5\r"].concat().into())).unwrap();
    assert_eq!(ended(&server, &id)["exitCode"], 5);
}
