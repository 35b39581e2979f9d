//! WebSockets as GoDoxy serves them: the `Origin` check, the text `ping`/`pong` keepalive
//! (a client that stops pinging is closed), and one loop that pumps a source stream to the
//! client, hands the client's other messages to the handler, and ends with a close frame
//! when the server stops. When the loop ends its source stream is dropped, which ends the
//! upstream work behind it (a terminal session, a poll).

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};
use futures_util::{SinkExt as _, Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// Close code for a normal end (the source ended).
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code when the server stops.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code when the client broke the keepalive rule or sent what is not allowed.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for an error of the upstream work.
pub const CLOSE_ERROR: u16 = 1011;
/// The largest message accepted from a client.
pub const MAX_MESSAGE: usize = 1 << 20;
/// The most outgoing bytes queued for a client that reads too slowly; past it the socket is
/// dropped instead of growing the queue.
pub const MAX_QUEUED: usize = 4 << 20;
/// Bytes read from a socket at a time. Clients of these routes send little (a `ping`, a
/// keystroke, a resize), and tungstenite's default of 128 KiB per socket would make 500
/// subscribers cost 64 MB.
pub const READ_BUFFER: usize = 4096;

/// Whether a request asks for a WebSocket (`Upgrade: websocket`).
pub fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// 400 `websocket required`, GoDoxy's answer to a plain request on a WebSocket route
/// (`c.JSON(http.StatusBadRequest, apitypes.Error("websocket required"))` in its
/// journalctl.go and tail.go).
pub fn required() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "websocket required",
        "",
    )
}

/// The checks every WebSocket of the server passes, in this order: a WebSocket request
/// (else [`required`]), an allowed `Origin` ([`check_origin`]), an upgrade the server can
/// make (no key or a wrong version is 400 `invalid request`); then [`limits`].
///
/// # Errors
/// 400 or 403 JSON, as above.
pub fn accept(
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    if !is_websocket(headers) {
        return Err(required());
    }
    check_origin(headers)?;
    let upgrade = upgrade.map_err(|e| ApiError::invalid(e.body_text()))?;
    Ok(limits(upgrade))
}

/// The limits every WebSocket of the server gets: message and frame size, a small read
/// buffer, no write batching, and a cap on what may queue for a slow client.
fn limits(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_QUEUED)
}

/// Whether a WebSocket request's `Origin` is allowed: none (not a browser), the same host as
/// the request's `Host`, or a loopback name (`localhost`, `127.0.0.1`, `[::1]`), as GoDoxy
/// allows.
///
/// # Errors
/// 403 naming the refused origin.
pub fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let refuse = || {
        ApiError::forbidden(format!(
            "WebSocket origin '{}' is neither this server's host nor localhost",
            String::from_utf8_lossy(origin.as_bytes())
        ))
    };
    let origin = origin.to_str().map_err(|_| refuse())?;
    let url = url::Url::parse(origin).map_err(|_| refuse())?;
    let Some(origin_host) = url.host_str() else {
        return Err(refuse());
    };
    let origin_host = origin_host.trim_start_matches('[').trim_end_matches(']');
    if matches!(origin_host, "localhost" | "127.0.0.1" | "::1") {
        return Ok(());
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    // Host is `name[:port]` or `[v6][:port]`.
    let host_name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    if !host_name.is_empty() && host_name.eq_ignore_ascii_case(origin_host) {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text message.
    Text(String),
    /// A text message shared by many sockets (cloning it copies no bytes).
    Shared(Utf8Bytes),
    /// A binary message.
    Binary(Vec<u8>),
    /// Close with this code and reason (the loop ends).
    Close(u16, String),
}

/// A message from the client other than the keepalive's `ping`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Text.
    Text(String),
    /// Binary.
    Binary(Vec<u8>),
}

/// How the loop treats the client.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    /// Close the connection when no `ping` text arrived for this long (GoDoxy's rule);
    /// `None`: no keepalive required.
    pub ping_timeout: Option<Duration>,
}

/// Why [`pump`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // `Ended::SourceEnded` reads as meant.
pub enum Ended {
    /// The source stream ended (or sent [`Outgoing::Close`]).
    SourceEnded,
    /// The client closed the connection or went away.
    ClientGone,
    /// No `ping` within the timeout.
    KeepaliveMissed,
    /// The server is stopping.
    Shutdown,
    /// The handler stopped reading the client's messages.
    InputClosed,
}

/// Pumps `source` to the client until one side ends. The client's `ping` texts get `pong`;
/// its other messages go to `input` (when given; otherwise they are ignored). Every way out
/// sends a close frame when the connection still works.
pub async fn pump<S>(
    socket: WebSocket,
    source: S,
    input: Option<mpsc::Sender<Incoming>>,
    keepalive: Keepalive,
    shutdown: &CancellationToken,
) -> Ended
where
    S: Stream<Item = Outgoing>,
{
    let (mut tx, mut rx) = socket.split();
    futures_util::pin_mut!(source);
    let timeout = keepalive.ping_timeout;
    let far = Duration::from_secs(24 * 3600);
    let deadline = tokio::time::sleep(timeout.unwrap_or(far));
    futures_util::pin_mut!(deadline);
    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_string()),
        }))
    };
    let ended = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let _ = tx.send(close(CLOSE_GOING_AWAY, "server stopping")).await;
                break Ended::Shutdown;
            }
            () = &mut deadline => {
                let _ = tx.send(close(CLOSE_POLICY, "no ping within the keepalive timeout")).await;
                break Ended::KeepaliveMissed;
            }
            msg = rx.next() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Ended::ClientGone,
                Some(Ok(Message::Text(t))) if t.as_str() == "ping" => {
                    if let Some(t) = timeout {
                        deadline.as_mut().reset(tokio::time::Instant::now() + t);
                    }
                    if tx.send(Message::Text("pong".into())).await.is_err() {
                        break Ended::ClientGone;
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if let Some(input) = &input
                        && input.send(Incoming::Text(t.to_string())).await.is_err()
                    {
                        let _ = tx.send(close(CLOSE_NORMAL, "")).await;
                        break Ended::InputClosed;
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    if let Some(input) = &input
                        && input.send(Incoming::Binary(b.to_vec())).await.is_err()
                    {
                        let _ = tx.send(close(CLOSE_NORMAL, "")).await;
                        break Ended::InputClosed;
                    }
                }
                Some(Ok(_)) => {} // WebSocket-level pings are answered by the library.
            },
            out = source.next() => match out {
                Some(Outgoing::Text(t)) => {
                    if tx.send(Message::Text(t.into())).await.is_err() {
                        break Ended::ClientGone;
                    }
                }
                Some(Outgoing::Shared(t)) => {
                    if tx.send(Message::Text(t)).await.is_err() {
                        break Ended::ClientGone;
                    }
                }
                Some(Outgoing::Binary(b)) => {
                    if tx.send(Message::Binary(b.into())).await.is_err() {
                        break Ended::ClientGone;
                    }
                }
                Some(Outgoing::Close(code, reason)) => {
                    let _ = tx.send(close(code, &reason)).await;
                    break Ended::SourceEnded;
                }
                None => {
                    let _ = tx.send(close(CLOSE_NORMAL, "")).await;
                    break Ended::SourceEnded;
                }
            },
        }
    };
    let _ = tx.close().await;
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn origins_allowed_are_none_same_host_and_localhost() {
        assert!(check_origin(&headers(&[("host", "pve.lan:8080")])).is_ok());
        for ok in [
            "http://pve.lan:8080",
            "https://PVE.lan",
            "http://localhost:3000",
            "http://127.0.0.1",
            "http://[::1]:9",
        ] {
            let h = headers(&[("host", "pve.lan:8080"), ("origin", ok)]);
            assert!(check_origin(&h).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example",
            "null",
            "pve.lan",
            "http://pve.lan.evil.example",
        ] {
            let h = headers(&[("host", "pve.lan:8080"), ("origin", bad)]);
            assert!(check_origin(&h).is_err(), "{bad}");
        }
        let h = headers(&[
            ("host", "[fd00::1]:8080"),
            ("origin", "http://[fd00::1]:8080"),
        ]);
        assert!(check_origin(&h).is_ok());
    }
}
