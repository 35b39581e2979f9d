//! The live inventory as a stream of JSON messages, over server-sent events and WebSocket:
//! `listed` (every guest, first, per cluster), then `update` after each poll that changed a
//! guest (its figures included), a node's figures or the cluster's summary, and `stale`
//! when a poll fails.
//!
//! Each reader follows its clusters' snapshot channels, which always hold the latest
//! snapshot, and compares it with the last one it sent: a slow reader skips intermediate
//! polls but never misses a change and never has to resynchronise. Unchanged guests keep
//! the same shared value from one snapshot to the next, so the comparison is a pointer check
//! per guest.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};
use pvekit::Snapshot;
use serde_json::{Value, json};

use crate::api::{S, cluster_summary, node_rows};
use crate::auth::{Caller, Role};
use crate::error::ApiResult;
use crate::rows::{GuestRow, NodeRow};
use crate::state::Cluster;
use crate::ws::{self, Keepalive, Outgoing};

struct Reading {
    cluster: Arc<Cluster>,
    rx: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    /// The last snapshot sent (none before `listed`).
    sent: Option<Arc<Snapshot>>,
    sent_nodes: Vec<NodeRow>,
    sent_stale: Option<String>,
    first: bool,
}

/// The messages of one cluster.
fn cluster_messages(cluster: Arc<Cluster>) -> impl Stream<Item = Value> + Send {
    let start = Reading {
        rx: cluster.snapshots.subscribe(),
        cluster,
        sent: None,
        sent_nodes: Vec::new(),
        sent_stale: None,
        first: true,
    };
    futures_util::stream::unfold(start, |mut r| async move {
        loop {
            if !r.first && r.rx.changed().await.is_err() {
                return None;
            }
            r.first = false;
            let snap = r.rx.borrow_and_update().clone();
            if let Some(msg) = r.message(snap) {
                return Some((msg, r));
            }
        }
    })
}

impl Reading {
    fn message(&mut self, snap: Arc<Snapshot>) -> Option<Value> {
        let name = &self.cluster.name;
        if let Some(error) = &snap.stale {
            if self.sent_stale.as_ref() == Some(error) {
                return None;
            }
            self.sent_stale = Some(error.clone());
            return Some(json!({
                "type": "stale",
                "cluster": name,
                "error": error,
                "summary": cluster_summary(&self.cluster),
            }));
        }
        let recovered = self.sent_stale.take().is_some();
        let nodes = node_rows(&self.cluster);
        let Some(prev) = &self.sent else {
            // Nothing to list before the first poll.
            snap.taken_at?;
            let guests: Vec<GuestRow> = snap
                .guests()
                .iter()
                .map(|g| GuestRow::new(name, g))
                .collect();
            self.sent = Some(snap);
            self.sent_nodes = nodes.clone();
            return Some(json!({
                "type": "listed",
                "cluster": name,
                "guests": guests,
                "nodes": nodes,
                "summary": cluster_summary(&self.cluster),
            }));
        };
        let (changed, removed) = diff(prev, &snap);
        if changed.is_empty() && removed.is_empty() && nodes == self.sent_nodes && !recovered {
            self.sent = Some(snap);
            return None;
        }
        let guests: Vec<GuestRow> = changed.iter().map(|g| GuestRow::new(name, g)).collect();
        self.sent = Some(snap);
        self.sent_nodes = nodes.clone();
        Some(json!({
            "type": "update",
            "cluster": name,
            "guests": guests,
            "removed": removed,
            "nodes": nodes,
            "summary": cluster_summary(&self.cluster),
        }))
    }
}

/// Guests new or changed in `next`, and those gone, comparing the shared values (both lists
/// are sorted by VMID, then kind).
fn diff<'a>(
    prev: &Snapshot,
    next: &'a Snapshot,
) -> (Vec<&'a Arc<pvekit::GuestResource>>, Vec<Value>) {
    let (a, b) = (prev.guests(), next.guests());
    let key = |g: &pvekit::GuestResource| (g.vmid, g.kind.to_string());
    let (mut i, mut j) = (0, 0);
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if key(x) == key(y) => {
                if !Arc::ptr_eq(x, y) && **x != **y {
                    changed.push(y);
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if key(x) < key(y) => {
                removed.push(json!({"type": x.kind.to_string(), "vmid": x.vmid}));
                i += 1;
            }
            (Some(_), Some(y)) => {
                changed.push(y);
                j += 1;
            }
            (Some(x), None) => {
                removed.push(json!({"type": x.kind.to_string(), "vmid": x.vmid}));
                i += 1;
            }
            (None, Some(y)) => {
                changed.push(y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (changed, removed)
}

/// Every cluster's messages, merged.
fn all_messages(state: &S) -> impl Stream<Item = Value> + Send + use<> {
    futures_util::stream::select_all(
        state
            .clusters
            .iter()
            .map(|c| cluster_messages(c.clone()).boxed()),
    )
}

/// The inventory's changes as server-sent events (each event's data is one JSON message:
/// `listed`, `update` or `stale`).
#[utoipa::path(get, path = "/api/v1/events", tag = "inventory",
    responses((status = 200, description = "text/event-stream of JSON messages")))]
pub(crate) async fn events_sse(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let open = state.telemetry.sse();
    let stream = all_messages(&state)
        .map(move |v| {
            let _ = &open;
            let kind = v["type"].as_str().unwrap_or("message").to_string();
            Ok::<_, Infallible>(Event::default().event(kind).data(v.to_string()))
        })
        .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The inventory's changes over a WebSocket: one JSON message per text frame; GoDoxy's
/// keepalive (send `ping` at least every 5 s, get `pong`).
#[utoipa::path(get, path = "/api/v1/events/ws", tag = "inventory",
    responses((status = 101, description = "WebSocket of JSON messages")))]
pub(crate) async fn events_ws(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    ws::check_origin(&headers)?;
    let upgrade = crate::api::websocket_required(upgrade)?;
    Ok(upgrade
        .max_message_size(ws::MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let _open = state.telemetry.websocket();
            let source = all_messages(&state).map(|v| Outgoing::Text(v.to_string()));
            let keepalive = Keepalive {
                ping_timeout: Some(state.tuning.ping_timeout),
            };
            ws::pump(socket, source, None, keepalive, &state.shutdown).await;
        }))
}
