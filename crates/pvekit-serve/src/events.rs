//! The live inventory as a stream of JSON messages, over server-sent events and WebSocket:
//! `listed` (every guest, first, per cluster), then `update` after each poll that changed a
//! guest (its figures included), a node's figures or the cluster's summary, and `stale`
//! when a poll fails.
//!
//! One feed per cluster does the work once per poll, whatever the number of readers: it
//! follows the cluster's snapshot channel, compares each snapshot with the last one it
//! described (unchanged guests keep the same shared value from one snapshot to the next, so
//! that is a pointer check per guest), writes the message's JSON once and broadcasts it.
//! A reader starts with a `listed` message of its own, made from the latest snapshot, then
//! relays the feed's messages; a reader that falls more than [`FEED_CAPACITY`] messages
//! behind gets a fresh `listed` instead of what it missed, so it never shows a wrong state
//! and never needs to resynchronise by hand.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Utf8Bytes, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};
use pvekit::Snapshot;
use serde_json::{Value, json};
use tokio::sync::broadcast;

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

/// A message of the feed: its type (`listed`, `update`, `stale`: the SSE event name) and
/// its JSON text.
pub type FeedItem = (&'static str, Utf8Bytes);

/// Messages a reader may fall behind the feed before it is sent a fresh `listed`.
pub const FEED_CAPACITY: usize = 16;

/// The messages of one cluster's snapshots, each made once (see the module docs).
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

/// Runs a cluster's feed until the server stops: every message once, as JSON text, to
/// every reader.
pub(crate) async fn run_feed(cluster: Arc<Cluster>, shutdown: tokio_util::sync::CancellationToken) {
    let messages = cluster_messages(cluster.clone());
    futures_util::pin_mut!(messages);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            m = messages.next() => match m {
                // `listed` goes to nobody: readers make their own when they start.
                Some(m) => {
                    let kind = match m["type"].as_str() {
                        Some("update") => "update",
                        Some("stale") => "stale",
                        // `listed` goes to nobody: readers make their own when they start.
                        _ => continue,
                    };
                    let _ = cluster.feed.send((kind, Utf8Bytes::from(m.to_string())));
                }
                None => return,
            },
        }
    }
}

/// A reader's `listed` message for a cluster, from its latest snapshot (none before the
/// first poll).
fn listed(cluster: &Arc<Cluster>) -> Option<FeedItem> {
    let mut r = Reading {
        rx: cluster.snapshots.subscribe(),
        cluster: cluster.clone(),
        sent: None,
        sent_nodes: Vec::new(),
        sent_stale: None,
        first: true,
    };
    let snap = r.rx.borrow().clone();
    let m = r.message(snap)?;
    (m["type"] == "listed").then(|| ("listed", Utf8Bytes::from(m.to_string())))
}

/// What a reader sends for one cluster: its own `listed` (as soon as the cluster has been
/// polled), then the feed's messages, and a fresh `listed` after falling behind.
fn reader(cluster: Arc<Cluster>) -> impl Stream<Item = FeedItem> + Send {
    struct Relay {
        cluster: Arc<Cluster>,
        feed: broadcast::Receiver<FeedItem>,
        snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
        listed: bool,
    }
    let start = Relay {
        feed: cluster.feed.subscribe(),
        snapshots: cluster.snapshots.subscribe(),
        cluster,
        listed: false,
    };
    futures_util::stream::unfold(start, |mut r| async move {
        loop {
            if !r.listed {
                // Subscribed to the feed first, so nothing after this listing is missed
                // (a message already reflected in it changes nothing: rows are whole).
                if let Some(m) = listed(&r.cluster) {
                    r.listed = true;
                    return Some((m, r));
                }
                r.snapshots.changed().await.ok()?;
                continue;
            }
            match r.feed.recv().await {
                Ok(m) => return Some((m, r)),
                Err(broadcast::error::RecvError::Lagged(_)) => r.listed = false,
                Err(broadcast::error::RecvError::Closed) => return None,
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
fn all_messages(state: &S) -> impl Stream<Item = FeedItem> + Send + use<> {
    futures_util::stream::select_all(state.clusters.iter().map(|c| reader(c.clone()).boxed()))
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
        .map(move |item| {
            let _ = &open;
            let (kind, text) = item;
            Ok::<_, Infallible>(Event::default().event(kind).data(text.as_str()))
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
    Ok(ws::limits(upgrade).on_upgrade(move |socket| async move {
        let _open = state.telemetry.websocket();
        let source = all_messages(&state).map(|(_, text)| Outgoing::Shared(text));
        let keepalive = Keepalive {
            ping_timeout: Some(state.tuning.ping_timeout),
        };
        ws::pump(socket, source, None, keepalive, &state.shutdown).await;
    }))
}
