//! Shared upstream streams: however many subscribers watch a node's stats, one poll runs.
//!
//! Each node with subscribers has one poll task and one [`watch`] channel. The task fetches
//! `/nodes/{node}/status` at once and then every interval, formats it as GoDoxy's
//! `NodeStats` JSON once, and publishes it; every subscriber reads the same text. When the
//! last receiver is dropped the task removes its entry and ends (an in-flight request is
//! dropped with it), and it ends when the server stops.
//!
//! Guest stats need no hub: they come from each cluster's inventory snapshots, which the
//! watcher publishes every poll anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pvekit::{Node, NodeStats};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One node-stats poll result: GoDoxy's `NodeStats` as JSON text, or why the poll failed
/// (the library's error text, which holds no secret).
pub type NodeSample = Arc<Result<Arc<str>, String>>;

/// What a node-stats subscriber holds: `None` until the first poll answered.
pub type NodeStatsReceiver = watch::Receiver<Option<NodeSample>>;

type Key = (String, String);
type Senders = HashMap<Key, Arc<watch::Sender<Option<NodeSample>>>>;

/// The shared streams of a server.
#[derive(Debug, Default)]
pub struct Hub {
    nodes: Arc<Mutex<Senders>>,
}

impl Hub {
    /// Subscribes to the stats of `node` of `cluster`, starting its poll (every `interval`)
    /// when it is the first subscriber. The poll stops when every receiver is gone or
    /// `shutdown` is cancelled (the receivers then see the channel closed).
    pub fn node_stats(
        &self,
        cluster: &str,
        node: &Node,
        interval: Duration,
        shutdown: &CancellationToken,
    ) -> NodeStatsReceiver {
        let key = (cluster.to_string(), node.name().to_string());
        let mut nodes = lock(&self.nodes);
        if let Some(tx) = nodes.get(&key) {
            // Subscribing under the lock: the poll task retires under the same lock only
            // when no receiver is left, so this receiver cannot miss a live poll.
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(None);
        let tx = Arc::new(tx);
        nodes.insert(key.clone(), tx.clone());
        drop(nodes);
        tokio::spawn(poll_node(
            self.nodes.clone(),
            key,
            tx,
            node.clone(),
            interval.max(pvekit::MIN_INTERVAL),
            shutdown.clone(),
        ));
        rx
    }

    /// How many node polls run now (one per node with subscribers).
    pub fn node_polls(&self) -> usize {
        lock(&self.nodes).len()
    }
}

fn lock(m: &Mutex<Senders>) -> std::sync::MutexGuard<'_, Senders> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the entry when no receiver is left; `false` when one subscribed meanwhile.
fn retire(nodes: &Mutex<Senders>, key: &Key, tx: &Arc<watch::Sender<Option<NodeSample>>>) -> bool {
    let mut nodes = lock(nodes);
    if tx.receiver_count() > 0 {
        return false;
    }
    if nodes.get(key).is_some_and(|t| Arc::ptr_eq(t, tx)) {
        nodes.remove(key);
    }
    true
}

async fn poll_node(
    nodes: Arc<Mutex<Senders>>,
    key: Key,
    tx: Arc<watch::Sender<Option<NodeSample>>>,
    node: Node,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let step = async {
            let sample = match node.stats().await {
                Ok(stats) => Ok(to_json(&stats)),
                Err(e) => Err(e.to_string()),
            };
            tx.send_replace(Some(Arc::new(sample)));
            tokio::time::sleep(interval).await;
        };
        tokio::select! {
            () = step => {}
            () = tx.closed() => {
                if retire(&nodes, &key, &tx) {
                    return;
                }
            }
            () = shutdown.cancelled() => {
                let mut map = lock(&nodes);
                if map.get(&key).is_some_and(|t| Arc::ptr_eq(t, &tx)) {
                    map.remove(&key);
                }
                return;
            }
        }
    }
}

fn to_json(stats: &NodeStats) -> Arc<str> {
    // NodeStats is strings only: serializing it cannot fail.
    serde_json::to_string(stats)
        .unwrap_or_else(|_| "{}".to_string())
        .into()
}
