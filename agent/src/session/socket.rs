//! A session's WebSocket as a client (the agent, and the `bosun` CLI): the
//! connection to an `http(s)://` server's stream route with a bearer credential,
//! TLS through rustls (the usual roots plus an optional CA certificate), frame
//! size limits, and a writer task that owns the sending half behind a bounded
//! queue, so whoever produces frames waits while the socket cannot take them.

use std::path::Path;
use std::sync::Arc;

use bosun_protocol::session::{Frame, FrameError, MAX_FRAME};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// A connected session socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// Frames waiting for the socket: a few, so memory stays bounded whatever the peer does.
pub const QUEUED_FRAMES: usize = 8;

/// The socket's buffers and limits: frames beyond [`MAX_FRAME`] are refused.
pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(64 * 1024)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

/// Why a session socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Setup(String),
    /// The server answered the upgrade with an HTTP error: its status and body.
    #[error("the server refused the session ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("cannot connect to {url}: {message}")]
    Network { url: String, message: String },
}

/// The rustls client settings: the webpki roots and, when given, a CA certificate (PEM).
pub fn tls_config(ca_cert: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ConnectError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_cert {
        let pem =
            std::fs::read(path).map_err(|e| ConnectError::Setup(format!("cannot read the CA certificate {}: {e}", path.display())))?;
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConnectError::Setup(format!("{} is not a PEM certificate: {e}", path.display())))?;
        for certificate in certificates {
            roots.add(certificate).map_err(|e| ConnectError::Setup(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The `ws(s)://` URL of `path` on an `http(s)://` server.
pub fn stream_url(server: &str, path: &str) -> Result<String, ConnectError> {
    let server = server.trim_end_matches('/');
    let rest = |scheme: &str| server.strip_prefix(scheme);
    match (rest("http://"), rest("https://")) {
        (Some(host), _) => Ok(format!("ws://{host}{path}")),
        (_, Some(host)) => Ok(format!("wss://{host}{path}")),
        _ => Err(ConnectError::Setup(format!("the server {server:?} is not an http:// or https:// URL"))),
    }
}

/// Opens the WebSocket of `path` on `server` with `Authorization: Bearer credential`.
pub async fn connect(server: &str, path: &str, credential: &str, tls: Arc<rustls::ClientConfig>) -> Result<Socket, ConnectError> {
    let url = stream_url(server, path)?;
    let mut request = url.as_str().into_client_request().map_err(|e| ConnectError::Setup(format!("{url}: {e}")))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {credential}"))
        .map_err(|_| ConnectError::Setup("the credential is not a header value".into()))?;
    request.headers_mut().insert("authorization", bearer);
    let connector = if url.starts_with("wss://") { Connector::Rustls(tls) } else { Connector::Plain };
    match tokio_tungstenite::connect_async_tls_with_config(request, Some(socket_config()), true, Some(connector)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            Err(ConnectError::Refused { status: response.status().as_u16(), body })
        }
        Err(e) => Err(ConnectError::Network { url, message: e.to_string() }),
    }
}

/// What came from the peer.
#[derive(Debug)]
pub enum Incoming {
    Frame(Frame),
    /// The peer closed the socket, or it broke.
    Closed,
    /// A message that is not a frame: the session should end.
    Bad(FrameError),
}

/// The receiving half, reading frames.
pub struct FrameReader {
    stream: SplitStream<Socket>,
}

impl FrameReader {
    pub async fn next(&mut self) -> Incoming {
        loop {
            return match self.stream.next().await {
                Some(Ok(Message::Binary(bytes))) => match Frame::decode(&bytes) {
                    Ok(frame) => Incoming::Frame(frame),
                    Err(e) => Incoming::Bad(e),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Text(_))) => Incoming::Bad(FrameError::UnknownKind(b'{')),
                Some(Ok(Message::Close(_)) | Err(_)) | None => Incoming::Closed,
            };
        }
    }
}

/// Splits a socket: frames to send go through the returned sender (bounded); a
/// task writes them and closes the socket when every sender is gone.
pub fn split(socket: Socket) -> (mpsc::Sender<Frame>, FrameReader, tokio::task::JoinHandle<()>) {
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(QUEUED_FRAMES);
    let writer = tokio::spawn(write_frames(sink, rx));
    (tx, FrameReader { stream }, writer)
}

async fn write_frames(mut sink: SplitSink<Socket, Message>, mut rx: mpsc::Receiver<Frame>) {
    while let Some(frame) = rx.recv().await {
        if sink.send(Message::Binary(frame.encode().into())).await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_urls_follow_the_server_scheme() {
        assert_eq!(stream_url("http://h:1/", "/v1/x").unwrap(), "ws://h:1/v1/x");
        assert_eq!(stream_url("https://h", "/v1/x").unwrap(), "wss://h/v1/x");
        assert!(stream_url("ftp://h", "/v1/x").is_err());
    }
}
