//! Commands and shells over WebSockets, for admins (they are root on the node): binary
//! frames carry the terminal's bytes both ways, a text frame `{"resize":{"cols":N,"rows":M}}`
//! resizes, and the server's last text frame before closing is `{"exit": STATUS}` (`null`
//! when a shell's status is not known) or, for a command, `{"exit_status": N}`. Closing the
//! WebSocket ends the session on the node: nothing is left running.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt as _, Stream, StreamExt as _};
use pvekit::types::GuestKind;
use pvekit::{TermInput, Terminal};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::IntoParams;

use crate::api::{GuestPath, S};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, Path, Query};
use crate::state::AppState;
use crate::ws::{self, Incoming, Keepalive, Outgoing};

/// A terminal's size.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Size {
    /// Columns (default 80, 1 to 1000).
    cols: Option<u16>,
    /// Rows (default 24, 1 to 1000).
    rows: Option<u16>,
}

impl Size {
    fn get(&self) -> (u16, u16) {
        (
            self.cols.unwrap_or(80).clamp(1, 1000),
            self.rows.unwrap_or(24).clamp(1, 1000),
        )
    }
}

/// A node in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct NodePath {
    /// The cluster's name.
    cluster: String,
    /// The node's name.
    node: String,
}

#[derive(Deserialize)]
struct ResizeMessage {
    resize: ResizeTo,
}

#[derive(Deserialize)]
struct ResizeTo {
    cols: u16,
    rows: u16,
}

/// Feeds the client's frames to the terminal until either side ends.
async fn feed(
    mut input: mpsc::Receiver<Incoming>,
    mut sink: futures_util::stream::SplitSink<Terminal, TermInput>,
) {
    while let Some(message) = input.recv().await {
        let item = match message {
            Incoming::Binary(b) => TermInput::Data(b.into()),
            Incoming::Text(t) => match serde_json::from_str::<ResizeMessage>(&t) {
                Ok(r) => TermInput::Resize {
                    cols: r.resize.cols.clamp(1, 1000),
                    rows: r.resize.rows.clamp(1, 1000),
                },
                // Other text is typed, as a terminal's text.
                Err(_) => TermInput::Data(t.into_bytes().into()),
            },
        };
        if sink.send(item).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// Serves an open terminal on a WebSocket.
async fn serve_terminal(
    state: Arc<AppState>,
    socket: axum::extract::ws::WebSocket,
    term: Terminal,
) {
    let _open = state.telemetry.websocket();
    let _session = state.telemetry.terminal();
    let (sink, output) = term.split();
    let (tx, rx) = mpsc::channel(64);
    let feeding = tokio::spawn(feed(rx, sink));
    let source = output
        .map(|chunk| match chunk {
            Ok(bytes) => Outgoing::Binary(bytes.to_vec()),
            Err(e) => Outgoing::Close(ws::CLOSE_ERROR, truncate(&e.to_string())),
        })
        .chain(futures_util::stream::once(async {
            Outgoing::Text(json!({"exit": null}).to_string())
        }));
    // The shell has no keepalive rule: a person may be idle.
    let keepalive = Keepalive { ping_timeout: None };
    ws::pump(socket, source, Some(tx), keepalive, &state.shutdown).await;
    feeding.abort();
    let _ = feeding.await;
}

/// The checks every admin WebSocket passes before anything runs: the role, then
/// [`ws::accept`]'s.
///
/// # Errors
/// 403 (role, origin), 400 `websocket required`.
fn admin_socket(
    caller: &Caller,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<WebSocketUpgrade> {
    caller.require(Role::Admin)?;
    ws::accept(headers, upgrade)
}

/// A close frame's reason is at most 123 bytes.
fn truncate(s: &str) -> String {
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A node's root shell (admin).
#[utoipa::path(get, path = "/api/v1/nodes/{cluster}/{node}/shell", tag = "terminals",
    params(NodePath, Size),
    responses((status = 101, description = "WebSocket: binary terminal bytes both ways; text {\"resize\":{\"cols\":N,\"rows\":M}}; last text {\"exit\": null}"),
              (status = 403, description = "needs the admin role")))]
pub(crate) async fn node_shell(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(p): Path<NodePath>,
    Query(size): Query<Size>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = admin_socket(&caller, &headers, upgrade)?;
    let cluster = state.cluster(&p.cluster)?.clone();
    let node = cluster.client.node(&p.node);
    let (cols, rows) = size.get();
    let term = Terminal::open(&node, cols, rows)
        .await
        .map_err(|e| ApiError::upstream(&e))?;
    tracing::info!(caller = %caller.name, cluster = %cluster.name, node = %p.node, "node shell");
    Ok(upgrade.on_upgrade(move |socket| serve_terminal(state, socket, term)))
}

/// A container's root shell, as `pct enter` (admin).
#[utoipa::path(get, path = "/api/v1/guests/{cluster}/{type}/{vmid}/shell", tag = "terminals",
    params(GuestPath, Size),
    responses((status = 101, description = "WebSocket, as the node shell"),
              (status = 403, description = "needs the admin role")))]
pub(crate) async fn guest_shell(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(p): Path<GuestPath>,
    Query(size): Query<Size>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = admin_socket(&caller, &headers, upgrade)?;
    let kind = p.kind()?;
    if kind != GuestKind::Lxc {
        return Err(ApiError::invalid(
            "a shell is available for containers (lxc) only",
        ));
    }
    let found = state.guest(&p.cluster, kind, p.vmid)?;
    let (cols, rows) = size.get();
    let term = found
        .handle()
        .enter(cols, rows)
        .await
        .map_err(|e| ApiError::upstream(&e))?;
    tracing::info!(caller = %caller.name, cluster = %found.cluster.name, vmid = p.vmid, "container shell");
    Ok(upgrade.on_upgrade(move |socket| serve_terminal(state, socket, term)))
}

/// The command to run.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExecQuery {
    /// A shell command line, run with `sh -c` in the container.
    command: String,
}

/// A command's output, then its exit status.
fn command_output(stream: pvekit::CommandStream) -> impl Stream<Item = Outgoing> + Send {
    futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next().await {
            Some(Ok(bytes)) => Some((Outgoing::Binary(bytes.to_vec()), Some(stream))),
            Some(Err(e)) => Some((
                Outgoing::Close(ws::CLOSE_ERROR, truncate(&e.to_string())),
                None,
            )),
            None => {
                let status = stream.exit_status();
                Some((
                    Outgoing::Text(json!({"exit_status": status}).to_string()),
                    None,
                ))
            }
        }
    })
}

/// Runs a command in a container (admin): binary frames of its output, then a text frame
/// `{"exit_status": N}`.
#[utoipa::path(get, path = "/api/v1/guests/{cluster}/{type}/{vmid}/exec", tag = "terminals",
    params(GuestPath, ExecQuery),
    responses((status = 101, description = "WebSocket: binary output frames, then text {\"exit_status\": N}"),
              (status = 403, description = "needs the admin role")))]
pub(crate) async fn guest_exec(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(p): Path<GuestPath>,
    Query(q): Query<ExecQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = admin_socket(&caller, &headers, upgrade)?;
    let kind = p.kind()?;
    if kind != GuestKind::Lxc {
        return Err(ApiError::invalid("commands run in containers (lxc) only"));
    }
    let found = state.guest(&p.cluster, kind, p.vmid)?;
    let stream = found
        .handle()
        .command(&q.command)
        .await
        .map_err(|e| ApiError::upstream(&e))?;
    tracing::info!(caller = %caller.name, cluster = %found.cluster.name, vmid = p.vmid, "exec");
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _open = state.telemetry.websocket();
        let _session = state.telemetry.terminal();
        let keepalive = Keepalive { ping_timeout: None };
        ws::pump(
            socket,
            command_output(stream),
            None,
            keepalive,
            &state.shutdown,
        )
        .await;
    }))
}
