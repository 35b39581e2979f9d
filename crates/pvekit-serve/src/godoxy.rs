//! GoDoxy's `/api/v1/proxmox` routes: node and guest stats (plain HTTP and WebSocket),
//! journals and file tails (WebSocket only), and LXC start/stop/restart.
//!
//! The shapes follow GoDoxy's handlers (yusing/godoxy at commit
//! 6f52e6a57781fb8f94da299b93df6137d5fdc45d, `internal/api/v1/proxmox/*.go`, routes in
//! `internal/api/handler.go`) and its WebSocket manager (yusing/goutils at commit
//! a9d3aedeb316d9019cbb7c7460f01545fa0fff95, `http/websocket/manager.go` and
//! `text_stream.go`). Where pvekit differs, the comment next to the code says so.
//!
//! Upstream cost: guest stats read the cluster's latest inventory snapshot (no request at
//! all); node stats share one poll per node through [`crate::hub`]; a journal or tail
//! WebSocket owns one terminal session, which ends when the socket closes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::{Stream, StreamExt as _};
use pvekit::core::format::StatsFigures;
use pvekit::types::GuestKind;
use pvekit::{Action, JournalOptions, TailOptions};
use serde_json::json;

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::hub::NodeStatsReceiver;
use crate::state::{AppState, FoundGuest};
use crate::ws::{self, CLOSE_ERROR, Keepalive, Outgoing};

type S = Arc<AppState>;

/// GoDoxy's `limit` when none is given (`journalctl.go`, `tail.go`: `default:"100"`).
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` (GoDoxy: `binding:"min=1,max=1000"`).
pub const MAX_LIMIT: usize = 1000;
/// The longest line sent as one message; a longer line goes out in pieces of this size.
/// GoDoxy (`goutils http/websocket/text_stream.go`) buffers long lines whole, up to 64 MiB
/// shared by all streams; pvekit never buffers more than this per stream.
pub const MAX_LINE: usize = 64 * 1024;
/// How long a stats request waits for the first node poll before answering 504.
const FIRST_SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many repeated `service` or `file` values.
const MAX_REPEATED: usize = 64;

/// GoDoxy's proxmox routes (behind auth).
pub fn routes() -> Router<S> {
    Router::new()
        .route("/api/v1/proxmox/stats/{node}", get(node_stats))
        .route("/api/v1/proxmox/stats/{node}/{vmid}", get(guest_stats))
        .route("/api/v1/proxmox/journalctl", get(journalctl))
        .route("/api/v1/proxmox/journalctl/{node}", get(journalctl))
        .route("/api/v1/proxmox/journalctl/{node}/{vmid}", get(journalctl))
        .route(
            "/api/v1/proxmox/journalctl/{node}/{vmid}/{service}",
            get(journalctl),
        )
        .route("/api/v1/proxmox/tail", get(tail))
        .route("/api/v1/proxmox/lxc/{node}/{vmid}/start", post(lxc_start))
        .route("/api/v1/proxmox/lxc/{node}/{vmid}/stop", post(lxc_stop))
        .route(
            "/api/v1/proxmox/lxc/{node}/{vmid}/restart",
            post(lxc_restart),
        )
}

// ---------------------------------------------------------------------------------------
// Request parsing

/// The path's parameters by name (none on routes without any).
fn path_params(
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
) -> ApiResult<Vec<(String, String)>> {
    match raw {
        Ok(p) => Ok(p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()),
        Err(axum::extract::rejection::RawPathParamsRejection::MissingPathParams(_)) => {
            Ok(Vec::new())
        }
        Err(e) => Err(ApiError::invalid(e.body_text())),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The query's pairs, repeated keys kept in order (axum's `Query` cannot read them).
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

/// A VMID: digits, 1 or more (GoDoxy binds `uint64` with `binding:"required"`, which
/// refuses 0).
fn parse_vmid(s: &str) -> ApiResult<u64> {
    match s.parse::<u64>() {
        Ok(v) if v > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(v),
        _ => Err(ApiError::invalid(format!(
            "vmid must be a positive number, not '{}'",
            shorten(s, 40)
        ))),
    }
}

/// `limit`: 1 to 1000, 100 when absent (an empty value is refused, as gin binds it as 0).
fn parse_limit(s: Option<&str>) -> ApiResult<usize> {
    let Some(s) = s else {
        return Ok(DEFAULT_LIMIT);
    };
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!(
            "limit must be a number from 1 to {MAX_LIMIT}, not '{}'",
            shorten(s, 40)
        ))),
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Whether the request asks for a WebSocket (GoDoxy's `httpheaders.IsWebsocket`: the
/// `Upgrade` header is `websocket`).
fn keepalive(state: &AppState) -> Keepalive {
    // GoDoxy closes a socket whose client sent no `ping` text for 5 s, checked every 3 s
    // (goutils http/websocket/manager.go, pingCheckRoutine); pvekit's timeout is
    // `ServeOptions::ping_timeout` (10 s by default) and is checked exactly.
    Keepalive {
        ping_timeout: Some(state.tuning.ping_timeout),
    }
}

/// A close reason fits the 123 bytes a close frame allows.
fn close_reason(text: &str) -> String {
    shorten(text, 100)
}

/// The server's answer for an upstream failure, with GoDoxy's message (GoDoxy answers 500
/// with `failed to ...`; pvekit keeps the status [`ApiError::upstream`] picks: 4xx for the
/// server's own refusals, 409 for a failed task, 502/504 for transport).
fn upstream(e: &pvekit::Error, message: &'static str) -> ApiError {
    let mut err = ApiError::upstream(e);
    err.message = message.into();
    err
}

// ---------------------------------------------------------------------------------------
// Stats

/// `GET /api/v1/proxmox/stats/{node}`: GoDoxy's `NodeStats` JSON (stats.go `NodeStats`);
/// as a WebSocket, one JSON text message per node poll (every `node_stats_interval`,
/// GoDoxy: 1 s). All subscribers of a node share one poll.
async fn node_stats(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let params = path_params(raw)?;
    let name = param(&params, "node").unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::invalid("node name is required"));
    }
    let query = query_pairs(query.as_deref());
    let (cluster, node) = state.node_in(param(&query, "cluster"), name)?;
    let ws = if ws::is_websocket(&headers) {
        Some(ws::accept(&headers, ws)?)
    } else {
        None
    };
    let mut rx = state.hub.node_stats(
        &cluster.name,
        &node,
        state.tuning.node_stats_interval,
        &state.shutdown,
    );
    // The first sample decides the answer: an error is an HTTP error, not a socket that
    // opens and closes at once.
    let first = first_sample(&mut rx).await?;
    let Some(ws) = ws else {
        let mut r = first.to_string().into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(r);
    };
    let state2 = state.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        let _open = state2.telemetry.websocket();
        let first = futures_util::stream::once(async move { Outgoing::Text(first.to_string()) });
        let source = first.chain(node_samples(rx));
        ws::pump(socket, source, None, keepalive(&state2), &state2.shutdown).await;
    }))
}

async fn first_sample(rx: &mut NodeStatsReceiver) -> ApiResult<Arc<str>> {
    let waited = tokio::time::timeout(FIRST_SAMPLE_TIMEOUT, async {
        loop {
            if let Some(sample) = rx.borrow_and_update().clone() {
                return Some(sample);
            }
            rx.changed().await.ok()?;
        }
    })
    .await;
    match waited {
        Ok(Some(sample)) => match &*sample {
            Ok(json) => Ok(json.clone()),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "failed to get stats",
                e.clone(),
            )),
        },
        Ok(None) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server stopping",
            "",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "failed to get stats",
            "the node did not answer its status in time",
        )),
    }
}

/// Every later sample of a node: its JSON, or a close with the error (GoDoxy ends the
/// stream on the first failed poll too). Ends when the hub's poll ends (server stopping).
fn node_samples(rx: NodeStatsReceiver) -> impl Stream<Item = Outgoing> {
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        rx.changed().await.ok()?;
        let sample = rx.borrow_and_update().clone()?;
        match &*sample {
            Ok(json) => Some((Outgoing::Text(json.to_string()), Some(rx))),
            Err(e) => Some((
                Outgoing::Close(
                    CLOSE_ERROR,
                    close_reason(&format!("failed to get stats: {e}")),
                ),
                None,
            )),
        }
    })
}

/// The stats line of a guest, newline-terminated as GoDoxy writes it
/// (`internal/proxmox/lxc_stats.go`, `writeLXCStatsLine`).
fn stats_line(g: &pvekit::GuestResource) -> String {
    let mut line = StatsFigures::from_resource(&g.to_resource()).line();
    line.push('\n');
    line
}

/// `GET /api/v1/proxmox/stats/{node}/{vmid}`: the stats line as `text/plain`; as a
/// WebSocket, one line per message every `guest_stats_interval` (GoDoxy: 3 s, its resource
/// poll). The figures come from the inventory's latest snapshot: no upstream request.
///
/// GoDoxy serves containers only here (`GetResource("lxc", vmid)`); pvekit serves VMs too,
/// from the same `/cluster/resources` figures.
async fn guest_stats(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let params = path_params(raw)?;
    let name = param(&params, "node").unwrap_or_default().to_string();
    let vmid = parse_vmid(param(&params, "vmid").unwrap_or_default())?;
    let query = query_pairs(query.as_deref());
    let found = state.guest_on_in(param(&query, "cluster"), &name, vmid)?;
    if !ws::is_websocket(&headers) {
        let mut r = stats_line(&found.resource).into_response();
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok(r);
    }
    let ws = ws::accept(&headers, ws)?;
    let state2 = state.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        let _open = state2.telemetry.websocket();
        let source = guest_lines(found, name, state2.tuning.guest_stats_interval);
        ws::pump(socket, source, None, keepalive(&state2), &state2.shutdown).await;
    }))
}

/// A guest's line at once and then every `interval`, from the cluster's latest snapshot.
/// Ends with a close when the guest is gone from the node.
fn guest_lines(
    found: FoundGuest,
    node: String,
    interval: Duration,
) -> impl Stream<Item = Outgoing> {
    let mut ticker = tokio::time::interval(interval.max(pvekit::MIN_INTERVAL));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let vmid = found.resource.vmid;
    let cluster = found.cluster;
    futures_util::stream::unfold(Some(ticker), move |ticker| {
        let cluster = cluster.clone();
        let node = node.clone();
        async move {
            let mut ticker = ticker?;
            ticker.tick().await;
            let snapshot = cluster.snapshots.borrow().clone();
            let guest = snapshot
                .get_vmid(vmid)
                .filter(|g| g.node() == node)
                .cloned()
                // The channel's first value is an empty snapshot until the first poll.
                .or_else(|| {
                    if snapshot.taken_at.is_some() {
                        return None;
                    }
                    let stored = cluster.store.snapshot();
                    stored.get_vmid(vmid).filter(|g| g.node() == node).cloned()
                });
            match guest {
                Some(g) => Some((Outgoing::Text(stats_line(&g)), Some(ticker))),
                None => Some((
                    Outgoing::Close(
                        CLOSE_ERROR,
                        close_reason(&format!("node '{node}' has no guest {vmid} any more")),
                    ),
                    None,
                )),
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Journals and tails

/// Where a journal or tail runs: a node, or a container on it.
enum Target {
    Node(pvekit::Node),
    Container(pvekit::Guest),
}

/// The node (and container) a journal or tail names, checked against the inventory.
fn target(
    state: &AppState,
    cluster: Option<&str>,
    node: &str,
    vmid: Option<u64>,
) -> ApiResult<Target> {
    let Some(vmid) = vmid else {
        let (_, node) = state.node_in(cluster, node)?;
        return Ok(Target::Node(node));
    };
    let found = state.guest_on_in(cluster, node, vmid)?;
    if found.resource.kind != GuestKind::Lxc {
        return Err(ApiError::invalid(format!(
            "{vmid} is a VM: journals and tails run only in containers (pct exec)"
        )));
    }
    Ok(Target::Container(found.handle()))
}

/// `GET /api/v1/proxmox/journalctl[/{node}[/{vmid}[/{service}]]]` with the query `node`,
/// `vmid`, repeatable `service` and `limit` (GoDoxy's journalctl.go binds the path and the
/// query both; a path value wins here, and a path `service` comes before the query's).
/// WebSocket only: the last `limit` entries, then new ones, one message per line
/// (`journalctl -f`; in a container without systemd, `/var/log/messages`).
async fn journalctl(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Operator)?;
    let ws = ws::accept(&headers, ws)?;
    let path = path_params(raw)?;
    let query = query_pairs(query.as_deref());
    let q = |name: &str| param(&query, name);
    let node = param(&path, "node")
        .or_else(|| q("node"))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("node is required"))?
        .to_string();
    let vmid = param(&path, "vmid")
        .or_else(|| q("vmid"))
        .map(parse_vmid)
        .transpose()?;
    let services: Vec<String> = param(&path, "service")
        .into_iter()
        .chain(
            query
                .iter()
                .filter(|(k, _)| k == "service")
                .map(|(_, v)| v.as_str()),
        )
        .map(str::to_string)
        .collect();
    if services.len() > MAX_REPEATED {
        return Err(ApiError::invalid(format!(
            "at most {MAX_REPEATED} services"
        )));
    }
    let limit = parse_limit(q("limit"))?;
    // Refuse unsafe unit names with 400 before any session opens.
    pvekit::core::command::journalctl(&services, limit, true)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let target = target(&state, q("cluster"), &node, vmid)?;
    let options = JournalOptions {
        units: services,
        lines: limit,
        follow: true,
    };
    let terminal = state.telemetry.terminal();
    let stream = match &target {
        Target::Node(n) => n.journal(&options).await,
        Target::Container(g) => g.journal(&options).await,
    }
    .map_err(|e| upstream(&e, "failed to get journalctl output"))?;
    Ok(stream_lines(&state, ws, stream, terminal))
}

/// `GET /api/v1/proxmox/tail?node=&vmid=&file=...&limit=` (GoDoxy's tail.go: query only,
/// `file` required and repeatable). WebSocket only: the last `limit` lines of each file,
/// then new ones, one message per line.
async fn tail(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Operator)?;
    let ws = ws::accept(&headers, ws)?;
    let query = query_pairs(query.as_deref());
    let q = |name: &str| param(&query, name);
    let node = q("node")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("node is required"))?
        .to_string();
    let vmid = q("vmid").map(parse_vmid).transpose()?;
    let files: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "file")
        .map(|(_, v)| v.clone())
        .collect();
    if files.is_empty() || files.iter().any(String::is_empty) {
        return Err(ApiError::invalid(
            "file is required (repeat it for several)",
        ));
    }
    if files.len() > MAX_REPEATED {
        return Err(ApiError::invalid(format!("at most {MAX_REPEATED} files")));
    }
    let limit = parse_limit(q("limit"))?;
    pvekit::core::command::tail(&files, limit, true)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let target = target(&state, q("cluster"), &node, vmid)?;
    let options = TailOptions::files(files).last(limit).follow();
    let terminal = state.telemetry.terminal();
    let stream = match &target {
        Target::Node(n) => n.tail(&options).await,
        Target::Container(g) => g.tail(&options).await,
    }
    // GoDoxy's tail.go reuses the journal's texts ("failed to get journalctl output");
    // pvekit names the tail.
    .map_err(|e| upstream(&e, "failed to get tail output"))?;
    Ok(stream_lines(&state, ws, stream, terminal))
}

/// Upgrades and pumps a command's output, one line per message. The command stream and
/// the terminal gauge live inside the source, so closing the socket ends the session.
fn stream_lines(
    state: &S,
    ws: WebSocketUpgrade,
    stream: pvekit::CommandStream,
    terminal: crate::telemetry::Open,
) -> Response {
    let state = state.clone();
    ws.on_upgrade(move |socket| async move {
        let _open = state.telemetry.websocket();
        let source = lines(stream).chain(futures_util::stream::once(async move {
            drop(terminal);
            Outgoing::Close(ws::CLOSE_NORMAL, String::new())
        }));
        ws::pump(socket, source, None, keepalive(&state), &state.shutdown).await;
    })
}

/// Splits a byte stream into lines (each with its `\n`, as GoDoxy's `CopyTextLines` sends
/// them), a line longer than [`MAX_LINE`] in pieces, the bytes read as UTF-8 (invalid
/// sequences replaced). An error ends the stream with a close carrying its text.
pub(crate) fn lines<S, B>(source: S) -> impl Stream<Item = Outgoing>
where
    S: Stream<Item = pvekit::Result<B>>,
    B: AsRef<[u8]>,
{
    struct St<S> {
        source: std::pin::Pin<Box<S>>,
        splitter: LineSplitter,
        ready: VecDeque<Outgoing>,
        done: bool,
    }
    let st = St {
        source: Box::pin(source),
        splitter: LineSplitter::default(),
        ready: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(out) = st.ready.pop_front() {
                return Some((out, st));
            }
            if st.done {
                return None;
            }
            match st.source.next().await {
                Some(Ok(chunk)) => {
                    st.splitter.push(chunk.as_ref(), &mut |l| {
                        st.ready.push_back(Outgoing::Text(l));
                    });
                }
                Some(Err(e)) => {
                    if let Some(l) = st.splitter.finish() {
                        st.ready.push_back(Outgoing::Text(l));
                    }
                    st.ready
                        .push_back(Outgoing::Close(CLOSE_ERROR, close_reason(&e.to_string())));
                    st.done = true;
                }
                None => {
                    if let Some(l) = st.splitter.finish() {
                        st.ready.push_back(Outgoing::Text(l));
                    }
                    st.done = true;
                }
            }
        }
    })
}

/// Cuts bytes into lines of at most [`MAX_LINE`] bytes; holds at most one partial line.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Adds bytes, handing every complete line (or full-size piece) to `out`.
    pub(crate) fn push(&mut self, mut bytes: &[u8], out: &mut impl FnMut(String)) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.buf.len();
            let window = &bytes[..bytes.len().min(room)];
            if let Some(i) = window.iter().position(|b| *b == b'\n') {
                self.buf.extend_from_slice(&window[..=i]);
                bytes = &bytes[i + 1..];
                out(self.take());
            } else {
                self.buf.extend_from_slice(window);
                bytes = &bytes[window.len()..];
                if self.buf.len() >= MAX_LINE {
                    out(self.take());
                }
            }
        }
    }

    /// The partial line left at the end, if any.
    pub(crate) fn finish(&mut self) -> Option<String> {
        (!self.buf.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let bytes = std::mem::take(&mut self.buf);
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// LXC actions

/// `POST /api/v1/proxmox/lxc/{node}/{vmid}/start` (GoDoxy start.go: `LXCStart`).
async fn lxc_start(
    state: State<S>,
    caller: Extension<Caller>,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    query: RawQuery,
) -> ApiResult<Response> {
    lxc_action(
        state,
        caller,
        raw,
        query,
        Action::Start,
        "container started",
        "failed to start container",
    )
    .await
}

/// `POST /api/v1/proxmox/lxc/{node}/{vmid}/stop`: PVE's `shutdown` (GoDoxy stop.go:
/// `LXCShutdown`), not its hard `stop`.
async fn lxc_stop(
    state: State<S>,
    caller: Extension<Caller>,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    query: RawQuery,
) -> ApiResult<Response> {
    lxc_action(
        state,
        caller,
        raw,
        query,
        Action::Shutdown,
        "container stopped",
        "failed to stop container",
    )
    .await
}

/// `POST /api/v1/proxmox/lxc/{node}/{vmid}/restart`: PVE's `reboot` (GoDoxy restart.go:
/// `LXCReboot`).
async fn lxc_restart(
    state: State<S>,
    caller: Extension<Caller>,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    query: RawQuery,
) -> ApiResult<Response> {
    lxc_action(
        state,
        caller,
        raw,
        query,
        Action::Reboot,
        "container restarted",
        "failed to restart container",
    )
    .await
}

/// Runs the action to its end: the task followed until it stopped, then the container
/// polled until it reached the state (GoDoxy's `Node.LXCAction` in
/// `internal/proxmox/lxc.go` does the same), then 200 `{"message": done}`.
async fn lxc_action(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    raw: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    RawQuery(query): RawQuery,
    action: Action,
    done: &'static str,
    failed: &'static str,
) -> ApiResult<Response> {
    caller.require(Role::Operator)?;
    let params = path_params(raw)?;
    let node = param(&params, "node").unwrap_or_default();
    let vmid = parse_vmid(param(&params, "vmid").unwrap_or_default())?;
    let query = query_pairs(query.as_deref());
    let found = state.guest_on_in(param(&query, "cluster"), node, vmid)?;
    if found.resource.kind != GuestKind::Lxc {
        return Err(ApiError::not_found(
            "guest not found",
            format!("node '{node}' has no container {vmid} ({vmid} is a VM)"),
        ));
    }
    let name = action.as_str();
    let task = match found.handle().begin(action).await {
        Ok(t) => t,
        Err(e) => {
            state.telemetry.action(name, "error");
            return Err(upstream(&e, failed));
        }
    };
    match task.wait().await {
        Ok(()) => {
            state.telemetry.action(name, "ok");
            Ok(Json(json!({ "message": done })).into_response())
        }
        Err(e) => {
            let result = if matches!(e, pvekit::Error::TaskFailed { .. }) {
                "failed"
            } else {
                "error"
            };
            state.telemetry.action(name, result);
            Err(upstream(&e, failed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |l| out.push(l));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn lines_split_at_newlines_across_chunks_and_keep_them() {
        assert_eq!(split(&[b"a\nb", b"c\n\nd"]), ["a\n", "bc\n", "\n", "d"]);
        assert!(split(&[]).is_empty());
    }

    #[test]
    fn long_lines_go_out_in_capped_pieces() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let out = split(&[&input[..1000], &input[1000..]]);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|l| l.len() <= MAX_LINE));
        assert_eq!(out[2].len(), 11);
        assert_eq!(out.concat().len(), input.len());
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(split(&[b"\xff\xfeok\n"]), ["\u{fffd}\u{fffd}ok\n"]);
    }

    #[test]
    fn query_values_repeat_and_limits_are_checked() {
        let q = query_pairs(Some("service=a&service=b%20c&limit=5&node=pve1"));
        assert_eq!(
            q.iter()
                .filter(|(k, _)| k == "service")
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>(),
            ["a", "b c"]
        );
        assert_eq!(parse_limit(None).unwrap(), 100);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
        for bad in ["0", "1001", "", "-1", "abc", "99999999999999999999999"] {
            assert_eq!(
                parse_limit(Some(bad)).unwrap_err().status,
                StatusCode::BAD_REQUEST
            );
        }
        assert_eq!(parse_vmid("100").unwrap(), 100);
        for bad in ["0", "+5", "abc", "", "1e3", "-1"] {
            assert!(parse_vmid(bad).is_err(), "{bad}");
        }
    }
}
