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
pub const FEED_CAPACITY: usize = 64;

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
                Some(m) if m["type"] == "listed" => {}
                // Nobody reads the events: no JSON to write (the next reader starts with
                // its own listing anyway).
                Some(_) if cluster.feed.receiver_count() == 0 => {}
                Some(m) => {
                    for item in chunks(m) {
                        let _ = cluster.feed.send(item);
                    }
                }
                None => return,
            },
        }
    }
}

/// A message as the feed's items: one, or, when it carries more than [`CHUNK`] guests,
/// several, each with at most [`CHUNK`] of them (the first keeps the message's type, the
/// others are `update`s, which add rows). Every socket's write buffer keeps the size of the
/// largest message it sent, so smaller messages keep many readers light.
fn chunks(mut m: Value) -> Vec<FeedItem> {
    let kind = match m["type"].as_str() {
        Some("listed") => "listed",
        Some("update") => "update",
        Some("stale") => "stale",
        _ => "message",
    };
    let guests = match m.get_mut("guests").map(Value::take) {
        Some(Value::Array(g)) => g,
        _ => return vec![(kind, Utf8Bytes::from(m.to_string()))],
    };
    let mut items = Vec::new();
    let mut parts = guests.chunks(CHUNK).peekable();
    if parts.peek().is_none() {
        m["guests"] = json!([]);
        return vec![(kind, Utf8Bytes::from(m.to_string()))];
    }
    let mut first = true;
    for part in parts {
        m["guests"] = Value::Array(part.to_vec());
        if first {
            items.push((kind, Utf8Bytes::from(m.to_string())));
            first = false;
            m["type"] = json!("update");
            m["removed"] = json!([]);
        } else {
            items.push(("update", Utf8Bytes::from(m.to_string())));
        }
    }
    items
}

/// A snapshot and its `listed` messages.
pub type Listing = (Arc<Snapshot>, Arc<[FeedItem]>);

/// Most guests in one message.
pub const CHUNK: usize = 100;

/// A reader's `listed` messages for a cluster, from its latest snapshot (none before the
/// first poll). Made once per snapshot and shared by every reader that starts or catches up
/// meanwhile.
fn listed(cluster: &Arc<Cluster>) -> Option<Arc<[FeedItem]>> {
    let snap = cluster.snapshots.borrow().clone();
    let mut cache = cluster.listed.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached, items)) = cache.as_ref()
        && Arc::ptr_eq(cached, &snap)
    {
        return Some(items.clone());
    }
    let mut r = Reading {
        rx: cluster.snapshots.subscribe(),
        cluster: cluster.clone(),
        sent: None,
        sent_nodes: Vec::new(),
        sent_stale: None,
        first: true,
    };
    let m = r.message(snap.clone())?;
    if m["type"] != "listed" {
        return None;
    }
    let items: Arc<[FeedItem]> = chunks(m).into();
    *cache = Some((snap, items.clone()));
    Some(items)
}

/// What a reader sends for one cluster: its own `listed` (as soon as the cluster has been
/// polled), then the feed's messages, and a fresh `listed` after falling behind.
fn reader(cluster: Arc<Cluster>) -> impl Stream<Item = FeedItem> + Send {
    struct Relay {
        cluster: Arc<Cluster>,
        feed: broadcast::Receiver<FeedItem>,
        snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
        /// The listing being sent, and how much of it was.
        listing: Option<(Arc<[FeedItem]>, usize)>,
        listed: bool,
    }
    let start = Relay {
        feed: cluster.feed.subscribe(),
        snapshots: cluster.snapshots.subscribe(),
        cluster,
        listing: None,
        listed: false,
    };
    futures_util::stream::unfold(start, |mut r| async move {
        loop {
            if let Some((items, next)) = &mut r.listing {
                if let Some(item) = items.get(*next) {
                    *next += 1;
                    return Some((item.clone(), r));
                }
                r.listing = None;
            }
            if !r.listed {
                // Subscribed to the feed first, so nothing after this listing is missed
                // (a message already reflected in it changes nothing: rows are whole).
                if let Some(items) = listed(&r.cluster) {
                    r.listed = true;
                    r.listing = Some((items, 0));
                    continue;
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
    let upgrade = ws::accept(&headers, upgrade)?;
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _open = state.telemetry.websocket();
        let source = all_messages(&state).map(|(_, text)| Outgoing::Shared(text));
        let keepalive = Keepalive {
            ping_timeout: Some(state.tuning.ping_timeout),
        };
        ws::pump(socket, source, None, keepalive, &state.shutdown).await;
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guests(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"vmid": i, "status": "running"}))
            .collect()
    }

    #[test]
    fn large_messages_are_cut_into_updates_of_at_most_a_chunk_of_guests() {
        let m = json!({"type": "listed", "cluster": "lab", "guests": guests(250), "removed": [{"type": "lxc", "vmid": 9}], "nodes": [], "summary": {}});
        let items = chunks(m);
        let kinds: Vec<&str> = items.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, ["listed", "update", "update"]);
        let parsed: Vec<Value> = items
            .iter()
            .map(|(_, t)| serde_json::from_str(t.as_str()).unwrap())
            .collect();
        let counts: Vec<usize> = parsed
            .iter()
            .map(|v| v["guests"].as_array().unwrap().len())
            .collect();
        assert_eq!(counts, [100, 100, 50]);
        // Every guest once, in order; removals only in the first; each names its cluster.
        let vmids: Vec<u64> = parsed
            .iter()
            .flat_map(|v| {
                v["guests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| g["vmid"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(vmids, (0..250).collect::<Vec<u64>>());
        assert_eq!(parsed[0]["removed"].as_array().unwrap().len(), 1);
        assert!(parsed[1]["removed"].as_array().unwrap().is_empty());
        assert!(
            parsed
                .iter()
                .all(|v| v["cluster"] == "lab" && v["type"] != "message")
        );
        // Small messages and stale ones stay whole.
        assert_eq!(
            chunks(json!({"type": "update", "guests": guests(3)})).len(),
            1
        );
        assert_eq!(chunks(json!({"type": "stale", "error": "x"}))[0].0, "stale");
        assert_eq!(chunks(json!({"type": "update", "guests": []})).len(), 1);
    }
}
