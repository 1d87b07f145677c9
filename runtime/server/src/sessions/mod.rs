//! Session Manager in the control plane: [`SessionHub`] opens sessions (checks the
//! request, the node and the caller's tag scopes, records the session, offers it to
//! the node through its long poll), pairs the client's WebSocket with the node's
//! when both have arrived, runs the relay (`relay.rs`, recording through
//! `recorder.rs`), and terminates sessions. A session whose node does not connect
//! within [`CONNECT_WITHIN`] fails.

pub mod asciicast;
pub mod offers;
mod recorder;
mod relay;
pub mod request;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::WebSocket;
use bosun_engine::StoreError;
use bosun_protocol::PingStatus;
use bosun_protocol::session::{EXIT_ENDED_BY_SERVER, Frame, SessionKind, SessionOffer, SessionView, StartSession};
use bosun_store::sessions::{FAILED, TERMINATED};
use bosun_store::{NewSession, SessionEnd, Store};
use futures_util::SinkExt;
use tokio::sync::watch;

use crate::run_command::RunCommand;
use relay::{RelayContext, relay};

/// How long a new session waits for both ends to connect.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(30);

/// Which end of a session a socket is.
pub enum End {
    Client,
    Node,
}

/// Why a session was not opened.
#[derive(Debug)]
pub enum StartError {
    Invalid { field: String, message: String },
    NotFound(String),
    Forbidden(String),
    Conflict(String),
    Store(StoreError),
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// What to do with a socket that arrives.
enum Attach {
    Wait,
    Refuse(Box<WebSocket>, &'static str),
    Relay(Box<Paired>),
}

/// Both ends of a session, ready for the relay.
struct Paired {
    client: WebSocket,
    node: WebSocket,
    kind: SessionKind,
    stop: watch::Receiver<Option<String>>,
}

/// A session that is open in this process.
struct Live {
    node_id: String,
    kind: SessionKind,
    /// The first socket to arrive waits here for the other.
    waiting: Option<(End, WebSocket)>,
    relaying: bool,
    stop: watch::Sender<Option<String>>,
}

pub struct SessionHub {
    store: Arc<Store>,
    run_command: Arc<RunCommand>,
    live: Mutex<HashMap<String, Live>>,
}

impl SessionHub {
    pub fn new(store: Arc<Store>, run_command: Arc<RunCommand>) -> Arc<Self> {
        Arc::new(Self { store, run_command, live: Mutex::new(HashMap::new()) })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for `owner` (a token name): checks, records it and offers it to the node.
    pub async fn start(
        self: &Arc<Self>,
        owner: &str,
        request: &StartSession,
        source_address: String,
        heartbeat_gap: Duration,
    ) -> Result<SessionView, StartError> {
        let checked = request::check(request).map_err(|(field, message)| StartError::Invalid { field, message })?;
        let node = self
            .store
            .get_node(&request.target, heartbeat_gap)?
            .ok_or_else(|| StartError::NotFound(format!("no node {} (see `bosun node list`)", request.target)))?;
        let scopes = self.store.session_scopes(owner)?;
        if !scopes.allows(&node.tags) {
            let allowed = match &scopes {
                bosun_store::SessionScopes::Nodes(conditions) if !conditions.is_empty() => {
                    format!("its session scopes are {}", conditions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
                }
                _ => "it is scoped and has no session scope (bosun token create --session-tag KEY=PATTERN)".to_string(),
            };
            return Err(StartError::Forbidden(format!("the token {owner} may not open sessions to {}: {allowed}", node.node_id)));
        }
        if node.ping_status != PingStatus::Online {
            return Err(StartError::Conflict(format!(
                "node {} is {}: its agent must be Online to open a session",
                node.node_id, node.ping_status
            )));
        }
        let preferences = self.store.session_preferences()?;
        let id = uuid::Uuid::new_v4().to_string();
        let view = self
            .store
            .create_session(NewSession {
                id: id.clone(),
                node_id: node.node_id.clone(),
                owner: owner.to_string(),
                document: checked.document.to_string(),
                run_as: preferences.run_as.clone(),
                rows: checked.rows,
                cols: checked.cols,
                source_address,
            })
            .await?;
        let offer = SessionOffer {
            session_id: id.clone(),
            kind: checked.kind.clone(),
            run_as: preferences.run_as,
            shell_profile: preferences.shell_profile,
            rows: checked.rows,
            cols: checked.cols,
        };
        let (stop, _) = watch::channel(None);
        self.live().insert(id.clone(), Live { node_id: node.node_id.clone(), kind: checked.kind, waiting: None, relaying: false, stop });
        self.run_command.offer_session(&node.node_id, offer);
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(CONNECT_WITHIN).await;
            hub.give_up_unpaired(&id).await;
        });
        Ok(view)
    }

    /// Fails a session whose ends have not both connected.
    async fn give_up_unpaired(&self, id: &str) {
        let unpaired = {
            let mut live = self.live();
            match live.get(id) {
                Some(session) if !session.relaying => live.remove(id),
                _ => None,
            }
        };
        let Some(session) = unpaired else { return };
        self.run_command.withdraw_session(&session.node_id, id);
        let reason = format!("the node did not connect within {} s (is its agent running?)", CONNECT_WITHIN.as_secs());
        if let Some((End::Client, socket)) = session.waiting {
            close_with(socket, &reason).await;
        }
        if let Err(error) = self.store.end_session(id, SessionEnd { status: FAILED, exit_code: None, reason }).await {
            tracing::error!(session = id, %error, "cannot record the session's end");
        }
    }

    /// Takes a connected socket: it waits for the other end, or starts the relay with it.
    pub async fn attach(self: &Arc<Self>, id: &str, end: End, socket: WebSocket) {
        let next = {
            let mut live = self.live();
            match live.get_mut(id) {
                None => Attach::Refuse(Box::new(socket), "the session is not open any more"),
                Some(session) if session.relaying => Attach::Refuse(Box::new(socket), "this session is connected already"),
                Some(session) => match (session.waiting.take(), end) {
                    (None, end) => {
                        session.waiting = Some((end, socket));
                        Attach::Wait
                    }
                    (Some((End::Client, client)), End::Node) => {
                        session.relaying = true;
                        Attach::Relay(Box::new(Paired { client, node: socket, kind: session.kind.clone(), stop: session.stop.subscribe() }))
                    }
                    (Some((End::Node, node)), End::Client) => {
                        session.relaying = true;
                        Attach::Relay(Box::new(Paired { client: socket, node, kind: session.kind.clone(), stop: session.stop.subscribe() }))
                    }
                    (waiting, _) => {
                        session.waiting = waiting;
                        Attach::Refuse(Box::new(socket), "this end of the session is connected already")
                    }
                },
            }
        };
        match next {
            Attach::Wait => {}
            Attach::Refuse(socket, why) => close_with(*socket, why).await,
            Attach::Relay(paired) => self.run(id, *paired).await,
        }
    }

    async fn run(&self, id: &str, Paired { client, node, kind, stop }: Paired) {
        match self.store.session_connected(id).await {
            Ok(true) => {}
            Ok(false) => {
                self.live().remove(id);
                return close_with(client, "the session has ended").await;
            }
            Err(error) => tracing::error!(session = id, %error, "cannot record that the session connected"),
        }
        let preferences = self.store.session_preferences().unwrap_or_default();
        let context = RelayContext {
            store: self.store.clone(),
            session_id: id.to_string(),
            record: !matches!(kind, SessionKind::PortForward { .. }),
            max_recorded_bytes: preferences.max_recorded_bytes,
            idle_timeout: Duration::from_secs(preferences.idle_timeout_seconds),
            max_duration: Duration::from_secs(preferences.max_duration_seconds),
            stop,
        };
        relay(context, client, node).await;
        self.live().remove(id);
    }

    /// Ends a session: a relayed one through its relay, a connecting one at once.
    /// `Ok(false)` when it had ended already.
    pub async fn terminate(&self, id: &str, by: &str) -> Result<bool, StoreError> {
        let reason = format!("terminated by {by}");
        let connecting = {
            let mut live = self.live();
            match live.get(id) {
                Some(session) if session.relaying => {
                    session.stop.send_replace(Some(reason));
                    return Ok(true);
                }
                Some(_) => live.remove(id),
                None => None,
            }
        };
        if let Some(session) = connecting {
            self.run_command.withdraw_session(&session.node_id, id);
            if let Some((_, socket)) = session.waiting {
                close_with(socket, &reason).await;
            }
        }
        let end = SessionEnd { status: TERMINATED, exit_code: None, reason };
        Ok(self.store.end_session(id, end).await?.is_some())
    }
}

/// Tells a socket's peer why the session is over, and closes it.
async fn close_with(mut socket: WebSocket, reason: &str) {
    use axum::extract::ws::Message;
    for frame in [Frame::Closed(reason.to_string()), Frame::Exit(EXIT_ENDED_BY_SERVER)] {
        if socket.send(Message::Binary(frame.encode().into())).await.is_err() {
            return;
        }
    }
    let _ = socket.close().await;
}
