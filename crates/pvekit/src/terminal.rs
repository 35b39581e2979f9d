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
//! A [`Terminal`] is a `Stream` of output chunks and a `Sink` of [`TermInput`] (keystrokes
//! and resizes); [`Terminal::send`] and [`Terminal::resize`] are the same through `&self`.
//! One writer task owns the websocket's sending half; input, resizes and keepalives reach it
//! through a bounded channel. Dropping a [`Terminal`] closes the websocket, which ends the
//! remote shell and every command in it, and ends the writer and keepalive tasks.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::stream::SplitStream;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use pvekit_core::Upid;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::net::TcpStream;
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

/// Input for a [`Terminal`] used as a `Sink`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermInput {
    /// Bytes typed into the terminal (sent in frames of at most 64 KiB).
    Data(Bytes),
    /// A new window size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

impl TermInput {
    /// The termproxy messages for this input.
    fn messages(&self) -> Vec<Message> {
        match self {
            TermInput::Data(data) => data
                .chunks(MAX_INPUT_CHUNK)
                .map(|chunk| {
                    let mut msg = format!("0:{}:", chunk.len()).into_bytes();
                    msg.extend_from_slice(chunk);
                    Message::Binary(Bytes::from(msg))
                })
                .collect(),
            TermInput::Resize { cols, rows } => vec![Message::Binary(Bytes::from(format!(
                "1:{}:{}:",
                (*cols).max(1),
                (*rows).max(1)
            )))],
        }
    }
}

/// Messages queued for the writer task, at most this many batches.
const INPUT_QUEUE: usize = 16;
/// How long the writer task may take to close the websocket once the terminal is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// An open terminal on a node: a root shell for `root@pam`, a login prompt for anyone else.
///
/// It is a `Stream` of output chunks (ending when the session ends; an error when the peer
/// stopped answering) and a `Sink` of [`TermInput`].
///
/// ```no_run
/// # async fn demo(node: pvekit::Node) -> Result<(), pvekit::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// let mut term = pvekit::Terminal::open(&node, 80, 24).await?;
/// term.send(b"uptime\n").await?;
/// term.feed(pvekit::TermInput::Resize { cols: 120, rows: 40 }).await?;
/// while let Some(chunk) = term.next().await {
///     print!("{}", String::from_utf8_lossy(&chunk?));
/// }
/// # Ok(()) }
/// ```
pub struct Terminal {
    /// To the writer task, which owns the websocket's sending half.
    input: mpsc::Sender<Vec<Message>>,
    stream: SplitStream<Ws>,
    /// Output that arrived in the same frame as `OK`.
    pending: Option<Bytes>,
    keepalive: tokio::task::JoinHandle<()>,
    /// How long reading may see nothing at all (no output, no pong) before the peer counts
    /// as gone, and the timer for it.
    idle_limit: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    upid: Option<Upid>,
    ended: bool,
    /// Hides output up to a marker line (a container shell opened from the node's).
    skipper: Option<pvekit_core::command::Skipper>,
    /// How the stream ended, kept while held-back output is shown first.
    pending_end: Option<Option<Result<Bytes>>>,
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
        let (mut sink, stream) = ws.split();
        let pending = (first.len() > 2).then(|| Bytes::copy_from_slice(&first[2..]));
        let (input, mut queue) = mpsc::channel::<Vec<Message>>(INPUT_QUEUE);
        // The writer: sends what arrives, in order, and closes the websocket when every
        // sender (the terminal and the keepalive task) is gone or the socket fails.
        tokio::spawn(async move {
            while let Some(batch) = queue.next().await {
                let mut sent = Ok(());
                for msg in batch {
                    sent = sent.and(sink.feed(msg).await);
                }
                if sent.and(sink.flush().await).is_err() {
                    return;
                }
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        });
        let keepalive = {
            let mut input = input.clone();
            let period = target.keepalive;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    // termproxy's keepalive, and a ping that pveproxy answers.
                    let beat = vec![
                        Message::Binary(Bytes::from_static(b"2")),
                        Message::Ping(Bytes::new()),
                    ];
                    if input.send(beat).await.is_err() {
                        return;
                    }
                }
            })
        };
        debug!(node = node.name(), user = %target.user, "terminal open");
        let idle_limit = target.keepalive * 2 + target.request_timeout;
        let term = Terminal {
            input,
            stream,
            pending,
            keepalive,
            idle_limit,
            idle: Box::pin(tokio::time::sleep(idle_limit)),
            upid: proxy.upid.parse().ok(),
            ended: false,
            skipper: None,
            pending_end: None,
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
        self.queue(TermInput::Data(Bytes::copy_from_slice(data)))
            .await
    }

    /// Tells the remote terminal its new size.
    ///
    /// # Errors
    /// [`Error::Terminal`] when the session is gone.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        self.queue(TermInput::Resize { cols, rows }).await
    }

    async fn queue(&self, input: TermInput) -> Result<()> {
        self.input
            .clone()
            .send(input.messages())
            .await
            .map_err(|_| gone())
    }

    /// From now on, hides output until the skipper's marker line has passed.
    pub(crate) fn hide_until(&mut self, skipper: pvekit_core::command::Skipper) {
        self.skipper = Some(skipper);
    }

    /// Closes the session, ending the remote shell.
    pub async fn close(self) {
        drop(self);
    }
}

fn gone() -> Error {
    Error::Terminal {
        message: "the terminal session is gone".into(),
    }
}

impl Stream for Terminal {
    type Item = Result<Bytes>;

    /// The next chunk of output; `None` once the session ended (the server closes without
    /// a close frame, which counts as a normal end); an error when nothing at all, neither
    /// output nor a pong, came for the idle limit.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let item = ready!(self.as_mut().poll_raw(cx));
            let Some(skipper) = &mut self.skipper else {
                return Poll::Ready(item);
            };
            match item {
                Some(Ok(chunk)) => {
                    let shown = skipper.push(&chunk);
                    if skipper.is_done() {
                        self.skipper = None;
                    }
                    if !shown.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(shown))));
                    }
                }
                // The session ended or broke while hiding: show what was held back first.
                other => {
                    let held = skipper.flush();
                    self.skipper = None;
                    if held.is_empty() {
                        return Poll::Ready(other);
                    }
                    self.pending_end = Some(other);
                    return Poll::Ready(Some(Ok(Bytes::from(held))));
                }
            }
        }
    }
}

impl Terminal {
    /// The next websocket output, before any hiding.
    fn poll_raw(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        let this = &mut *self;
        if let Some(end) = this.pending_end.take() {
            return Poll::Ready(end);
        }
        if let Some(p) = this.pending.take() {
            return Poll::Ready(Some(Ok(p)));
        }
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let next = match this.stream.poll_next_unpin(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => {
                    ready!(this.idle.as_mut().poll(cx));
                    this.ended = true;
                    return Poll::Ready(Some(Err(Error::Timeout {
                        what: "the node's terminal to answer (no output and no pong)".into(),
                        after: this.idle_limit,
                    })));
                }
            };
            // Anything from the peer, a pong included, proves it alive. Moving the timer is
            // not free, so it moves only once a tenth of the limit has passed.
            let now = tokio::time::Instant::now();
            if this.idle.deadline() < now + this.idle_limit - this.idle_limit / 10 {
                this.idle.as_mut().reset(now + this.idle_limit);
            }
            match next {
                Some(Ok(Message::Binary(b))) if !b.is_empty() => return Poll::Ready(Some(Ok(b))),
                Some(Ok(Message::Text(t))) if !t.is_empty() => {
                    return Poll::Ready(Some(Ok(Bytes::copy_from_slice(t.as_bytes()))));
                }
                Some(Ok(Message::Close(_))) | None => this.ended = true,
                Some(Ok(_)) => {}
                Some(Err(e)) if is_bare_close(&e) => this.ended = true,
                Some(Err(e)) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(ws_error(e))));
                }
            }
        }
    }
}

impl Sink<TermInput> for Terminal {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.input.poll_ready(cx).map_err(|_| gone())
    }

    fn start_send(mut self: Pin<&mut Self>, item: TermInput) -> Result<()> {
        self.input.start_send(item.messages()).map_err(|_| gone())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.input).poll_flush(cx).map_err(|_| gone())
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.input).poll_close(cx).map_err(|_| gone())
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
