//! Terminal sessions over the node's terminal proxy, as Proxmox VE's web shell opens them.
//!
//! 1. `POST /nodes/{node}/termproxy` starts `termproxy` on the node and returns a short-lived
//!    VNC ticket and a port.
//! 2. A websocket to `/nodes/{node}/vncwebsocket?port=..&vncticket=..` on the same host, with
//!    the `binary` subprotocol and the login cookie.
//! 3. The first message is `<user>:<ticket>\n`; the proxy answers `OK`, possibly followed by
//!    the first output in the same frame.
//! 4. Input goes as `0:<byte length>:<data>`, resizes as `1:<cols>:<rows>:`, keepalives as `2`
//!    (every 30 s, like the web UI). Output is raw terminal bytes.
//!
//! termproxy ignores the `2` and answers nothing, so with every keepalive the client also
//! sends a websocket ping, which pveproxy answers with a pong (pve-http-server,
//! `PVE/APIServer/AnyEvent.pm`, `websocket_proxy`: opcode 9 is answered with 0xA since
//! commit e6cb79b, 2020). A session from which nothing at all arrives, neither output nor
//! pong, for two keepalive periods plus the request timeout has lost its peer, and reading
//! it fails with [`Error::Timeout`] instead of waiting forever; a quiet command (`sleep
//! 300`) still runs, since the pongs keep coming.
//!
//! pveproxy takes frames of at most 128 KiB and refuses fragmented ones (same function), so
//! input goes in unfragmented frames of at most 64 KiB; incoming messages are capped at
//! 1 MiB (pveproxy sends at most 128 KiB per frame).
//!
//! Dropping a [`Terminal`] closes the websocket, which ends the remote shell and every
//! command in it, and stops the keepalive task.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use pvekit_core::Upid;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tracing::debug;

use crate::error::{Error, Result};
use crate::node::Node;

/// The websocket between the client and the node's termproxy.
type Socket = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// Upgrades to the websocket, sends the auth line and reads termproxy's answer: the socket
/// and the first bytes, which start with `OK` (and may carry the first output too).
async fn handshake(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
    tls: tokio_rustls::client::TlsStream<TcpStream>,
    auth: String,
) -> Result<(Socket, Vec<u8>)> {
    let (mut ws, _resp) =
        tokio_tungstenite::client_async_with_config(request, tls, Some(ws_config()))
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(resp) => Error::Terminal {
                    message: format!(
                        "the server refused the terminal websocket: HTTP {} {}",
                        resp.status().as_u16(),
                        resp.status().canonical_reason().unwrap_or("")
                    ),
                },
                other => ws_error(other),
            })?;
    // The auth line: the user the termproxy answer names, then the VNC ticket.
    ws.send(Message::Binary(Bytes::from(auth)))
        .await
        .map_err(ws_error)?;
    let mut first = Vec::new();
    while first.len() < 2 {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => first.extend_from_slice(&b),
            Some(Ok(Message::Text(t))) => first.extend_from_slice(t.as_bytes()),
            Some(Ok(_)) => {}
            Some(Err(e)) if !is_bare_close(&e) => return Err(ws_error(e)),
            Some(Err(_)) | None => break,
        }
    }
    if !first.starts_with(b"OK") {
        return Err(Error::Terminal {
            message: "the terminal proxy refused the session (the ticket was not accepted)".into(),
        });
    }
    Ok((ws, first))
}

/// Caps on what the server may make the client buffer.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_INCOMING_MESSAGE))
        .max_frame_size(Some(MAX_INCOMING_MESSAGE))
}

/// The largest message accepted from the server (pveproxy sends at most 128 KiB a frame).
const MAX_INCOMING_MESSAGE: usize = 1024 * 1024;

/// The interval of keepalive messages (the web UI's).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// The largest data payload sent in one websocket frame (the server accepts 128 KiB frames).
const MAX_INPUT_CHUNK: usize = 64 * 1024;

type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// The answer of `POST .../termproxy`. A real Proxmox VE 9 sends `port` as a string.
#[derive(Debug, Deserialize)]
pub(crate) struct TermProxy {
    pub user: String,
    pub ticket: SecretString,
    pub port: u16,
    pub upid: String,
}

/// An open terminal on a node: a root shell for `root@pam`, a login prompt for anyone else.
pub struct Terminal {
    sink: Arc<Mutex<SplitSink<Ws, Message>>>,
    stream: SplitStream<Ws>,
    /// Output that arrived in the same frame as `OK`.
    pending: Option<Bytes>,
    keepalive: tokio::task::JoinHandle<()>,
    /// How long reading may see nothing at all (no output, no pong) before the peer counts
    /// as gone.
    idle_limit: Duration,
    upid: Option<Upid>,
    ended: bool,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("upid", &self.upid)
            .field("ended", &self.ended)
            .finish()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

fn ws_error(e: tokio_tungstenite::tungstenite::Error) -> Error {
    Error::Terminal {
        message: e.to_string(),
    }
}

impl Terminal {
    /// Opens the node's shell with a `cols` × `rows` terminal.
    ///
    /// # Errors
    /// [`Error::NoSession`] without a username/password login (API tokens get only a login
    /// prompt); connection, TLS and auth errors; [`Error::Terminal`] when the proxy refuses.
    pub async fn open(node: &Node, cols: u16, rows: u16) -> Result<Terminal> {
        Self::open_at(node, &[], cols, rows).await
    }

    /// Opens container `vmid`'s console, as the web UI's console tab does: per the
    /// container's `cmode`, a login prompt on its tty or a root shell (`cmode: shell`). The
    /// console session is shared and outlives the websocket.
    ///
    /// # Errors
    /// As [`Terminal::open`].
    pub async fn open_lxc_console(
        node: &Node,
        vmid: u64,
        cols: u16,
        rows: u16,
    ) -> Result<Terminal> {
        let vmid = vmid.to_string();
        Self::open_at(node, &["lxc", &vmid], cols, rows).await
    }

    /// Opens the terminal of `/nodes/{node}/<sub...>`.
    async fn open_at(node: &Node, sub: &[&str], cols: u16, rows: u16) -> Result<Terminal> {
        let client = node.client();
        let target = client.websocket_target().await?;
        let base = pvekit_core::path::api_path(
            ["nodes", node.name()]
                .into_iter()
                .chain(sub.iter().copied()),
        );
        let proxy: TermProxy = client
            .post_with_login(&format!("{base}/termproxy"), &[])
            .await?;

        let mut url = target.api_base.clone();
        url.set_scheme("wss")
            .map_err(|_| Error::config("cannot build the websocket URL"))?;
        url.path_segments_mut()
            .map_err(|_| Error::config("cannot build the websocket URL"))?
            .extend(["nodes", node.name()])
            .extend(sub)
            .push("vncwebsocket");
        url.query_pairs_mut()
            .append_pair("port", &proxy.port.to_string())
            .append_pair("vncticket", proxy.ticket.expose_secret());
        let host = url
            .host_str()
            .ok_or_else(|| Error::config("url has no host"))?
            .to_string();
        let port = url.port_or_known_default().unwrap_or(8006);

        let mut request = url.as_str().into_client_request().map_err(ws_error)?;
        let headers = request.headers_mut();
        headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
        let mut cookie = HeaderValue::from_str(target.cookie.expose_secret())
            .map_err(|_| Error::config("the ticket cannot be sent as a cookie"))?;
        cookie.set_sensitive(true);
        headers.insert("Cookie", cookie);

        // TCP and TLS within the connect timeout; the websocket upgrade and termproxy's `OK`
        // within the request timeout: a stalled proxy fails instead of hanging.
        let origin = format!("{host}:{port}");
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|_| Error::config(format!("'{host}' is not a valid TLS server name")))?;
        let tls = tokio::time::timeout(target.connect_timeout, async {
            let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| Error::Connect {
                    url: origin.clone(),
                    reason: e.to_string(),
                })?;
            tcp.set_nodelay(true).ok();
            tokio_rustls::TlsConnector::from(target.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Connect {
                    url: origin.clone(),
                    reason: format!("TLS: {e}"),
                })
        })
        .await
        .map_err(|_| Error::Timeout {
            what: format!("connecting to {origin}"),
            after: target.connect_timeout,
        })??;
        let auth = format!("{}:{}\n", proxy.user, proxy.ticket.expose_secret());
        let (ws, first) =
            tokio::time::timeout(target.request_timeout, handshake(request, tls, auth))
                .await
                .map_err(|_| Error::Timeout {
                    what: format!("the terminal proxy of node {} to answer", node.name()),
                    after: target.request_timeout,
                })??;
        let (sink, stream) = ws.split();
        let pending = (first.len() > 2).then(|| Bytes::copy_from_slice(&first[2..]));
        let sink = Arc::new(Mutex::new(sink));
        let keepalive = {
            let sink = Arc::downgrade(&sink);
            let period = target.keepalive;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(sink) = sink.upgrade() else { return };
                    let mut sink = sink.lock().await;
                    // termproxy's keepalive, and a ping that pveproxy answers.
                    let sent = sink
                        .feed(Message::Binary(Bytes::from_static(b"2")))
                        .await
                        .and(sink.feed(Message::Ping(Bytes::new())).await)
                        .and(sink.flush().await);
                    if sent.is_err() {
                        return;
                    }
                }
            })
        };
        debug!(node = node.name(), user = %target.user, "terminal open");
        let term = Terminal {
            sink,
            stream,
            pending,
            keepalive,
            idle_limit: target.keepalive * 2 + target.request_timeout,
            upid: proxy.upid.parse().ok(),
            ended: false,
        };
        term.resize(cols, rows).await?;
        Ok(term)
    }

    /// The task of the terminal session on the node.
    pub fn upid(&self) -> Option<&Upid> {
        self.upid.as_ref()
    }

    /// Types bytes into the terminal (split into frames of at most 64 KiB of data).
    ///
    /// # Errors
    /// [`Error::Terminal`] when the session is gone.
    pub async fn send(&self, data: &[u8]) -> Result<()> {
        let mut sink = self.sink.lock().await;
        for chunk in data.chunks(MAX_INPUT_CHUNK) {
            let mut msg = format!("0:{}:", chunk.len()).into_bytes();
            msg.extend_from_slice(chunk);
            sink.send(Message::Binary(Bytes::from(msg)))
                .await
                .map_err(ws_error)?;
        }
        Ok(())
    }

    /// Tells the remote terminal its new size.
    ///
    /// # Errors
    /// [`Error::Terminal`] when the session is gone.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        let msg = format!("1:{}:{}:", cols.max(1), rows.max(1));
        self.sink
            .lock()
            .await
            .send(Message::Binary(Bytes::from(msg)))
            .await
            .map_err(ws_error)
    }

    /// The next chunk of output; `None` once the session ended (the server closes without a
    /// close frame, which counts as a normal end).
    pub async fn read(&mut self) -> Option<Result<Bytes>> {
        if let Some(p) = self.pending.take() {
            return Some(Ok(p));
        }
        if self.ended {
            return None;
        }
        loop {
            let Ok(next) = tokio::time::timeout(self.idle_limit, self.stream.next()).await else {
                self.ended = true;
                return Some(Err(Error::Timeout {
                    what: "the node's terminal to answer (no output and no pong)".into(),
                    after: self.idle_limit,
                }));
            };
            match next {
                Some(Ok(Message::Binary(b))) if !b.is_empty() => return Some(Ok(b)),
                Some(Ok(Message::Text(t))) if !t.is_empty() => {
                    return Some(Ok(Bytes::copy_from_slice(t.as_bytes())));
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) if is_bare_close(&e) => break,
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(ws_error(e)));
                }
            }
        }
        self.ended = true;
        None
    }

    /// The output as a `Stream`; dropping it closes the session.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes>> {
        futures_util::stream::unfold(
            self,
            |mut t| async move { t.read().await.map(|item| (item, t)) },
        )
    }

    /// Closes the session, ending the remote shell.
    pub async fn close(self) {
        let _ = self.sink.lock().await.close().await;
    }
}

/// pveproxy ends a session with a bare TCP close, no close frame.
fn is_bare_close(e: &tokio_tungstenite::tungstenite::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error as E;
    use tokio_tungstenite::tungstenite::error::ProtocolError as P;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => true,
        E::Protocol(P::ResetWithoutClosingHandshake) => true,
        E::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}
