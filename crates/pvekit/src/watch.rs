//! The watcher and the store: a cluster's guests as a `Stream` of events, and an indexed
//! view of them for lookups (the shapes of kube-runtime's `watcher` and `Store`).
//!
//! [`watcher`] polls `/cluster/resources` (through the same machinery as [`Inventory`]:
//! IPs resolved with bounded concurrency and reused while a guest's status holds) and yields
//! a [`WatchEvent::Listed`] with every guest first, then one [`WatchEvent::Changed`] per poll
//! that found changes. It polls only when its reader asks for the next event, so a slow
//! reader never lags behind and never has to resync: it simply sees the state of its next
//! poll. A failed poll is an `Err` item; the stream goes on, and the next good poll reports
//! what changed since the last good one.
//!
//! A [`Store`] follows a watcher through [`WatchStreamExt::reflect`] and answers lookups by
//! VMID, IP, hostname (first label) or alias from the latest snapshot without blocking.
//!
//! ```no_run
//! # async fn demo(client: pvekit::Client) -> Result<(), pvekit::Error> {
//! use futures_util::StreamExt;
//! use pvekit::{Store, WatchConfig, WatchEvent, WatchStreamExt, watcher};
//! let store = Store::new();
//! let events = watcher(client, WatchConfig::default()).reflect(store.clone());
//! futures_util::pin_mut!(events);
//! while let Some(event) = events.next().await {
//!     match event? {
//!         WatchEvent::Listed(all) => println!("{} guests", all.guests().len()),
//!         WatchEvent::Changed { changes, .. } => println!("{} changes", changes.len()),
//!     }
//!     let web = store.reverse_lookup(None, Some("web"), None);
//! }
//! # Ok(()) }
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::{Stream, StreamExt};
use pvekit_core::types::GuestKind;

use crate::client::Client;
use crate::error::Result;
use crate::inventory::{
    GuestResource, Inventory, InventoryEvent, InventoryOptions, Pace, RESOURCE_POLL_INTERVAL,
    Snapshot,
};

/// How a [`watcher`] polls.
#[derive(Debug, Clone, Copy)]
pub struct WatchConfig {
    /// Time between polls (default [`RESOURCE_POLL_INTERVAL`]; at least
    /// [`crate::MIN_INTERVAL`]).
    pub interval: Duration,
    /// IP resolution: policy, time-to-live, requests in flight.
    pub inventory: InventoryOptions,
    /// Report every good poll, as a [`WatchEvent::Changed`] with no changes when none were
    /// found, so the reader gets each poll's figures (CPU, memory, I/O counters), which are
    /// not changes. Off by default.
    pub every_poll: bool,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            interval: RESOURCE_POLL_INTERVAL,
            inventory: InventoryOptions::default(),
            every_poll: false,
        }
    }
}

/// What a [`watcher`] reports.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// Every guest, from the first successful poll.
    Listed(Arc<Snapshot>),
    /// What one poll found changed, and the snapshot after it. Never empty, except for the
    /// first good poll after failed ones, which is always reported (its snapshot is fresh
    /// again), and with [`WatchConfig::every_poll`].
    Changed {
        /// The guests after the poll.
        snapshot: Arc<Snapshot>,
        /// The changes: guests added, removed, or with a new status or new IPs.
        changes: Vec<InventoryEvent>,
    },
}

impl WatchEvent {
    /// The snapshot after the event.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        match self {
            WatchEvent::Listed(s) | WatchEvent::Changed { snapshot: s, .. } => s,
        }
    }
}

/// The guests of `client`'s cluster as a stream of events (see the module docs). Dropping
/// the stream stops polling; nothing runs in the background.
///
/// A failed poll is an `Err` item; polls then back off (twice the wait after each
/// consecutive failure, up to [`crate::MAX_BACKOFF`]) instead of hammering a cluster that
/// stopped answering. The first good poll after failures is always reported, as a
/// [`WatchEvent::Changed`] with the changes since the last good poll (possibly none): its
/// snapshot is fresh again. The interval is then restored.
pub fn watcher(
    client: Client,
    config: WatchConfig,
) -> impl Stream<Item = Result<WatchEvent>> + Send + use<> {
    let inventory = Inventory::new(client, config.inventory);
    let interval = config.interval.max(crate::MIN_INTERVAL);
    let every_poll = config.every_poll;
    let state = Watching {
        inventory,
        pace: Pace::new(interval),
        wait: None,
        listed: false,
    };
    futures_util::stream::unfold(state, move |mut w| async move {
        loop {
            if let Some(started) = w.wait.take() {
                tokio::time::sleep_until(started).await;
            }
            let started = tokio::time::Instant::now();
            let result = w.inventory.refresh_changes().await;
            let restored = w.pace.failures() > 0;
            w.wait = Some(started + w.pace.after(result.is_ok()));
            match result {
                Ok(changes) => {
                    let snapshot = w.inventory.snapshot();
                    if !w.listed {
                        w.listed = true;
                        return Some((Ok(WatchEvent::Listed(snapshot)), w));
                    }
                    if changes.is_empty() && !restored && !every_poll {
                        continue;
                    }
                    return Some((Ok(WatchEvent::Changed { snapshot, changes }), w));
                }
                Err(e) => return Some((Err(e), w)),
            }
        }
    })
}

/// A watcher's state between polls.
struct Watching {
    inventory: Arc<Inventory>,
    pace: Pace,
    /// When the next poll starts (none before the first).
    wait: Option<tokio::time::Instant>,
    listed: bool,
}

/// The latest snapshot of a watched cluster, for lookups that never block. Cheap to clone;
/// every clone reads the same store.
#[derive(Debug, Clone, Default)]
pub struct Store {
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl Store {
    /// An empty store; fill it with [`WatchStreamExt::reflect`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in what an event says (the snapshot after it).
    pub fn apply(&self, event: &WatchEvent) {
        self.snapshot.store(event.snapshot().clone());
    }

    /// Keeps the last snapshot, marked stale with `error` (see [`Snapshot::stale`] and
    /// [`Snapshot::age`]).
    pub fn apply_error(&self, error: &crate::Error) {
        let stale = self.snapshot.load().marked_stale(error.to_string());
        self.snapshot.store(Arc::new(stale));
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Every guest, sorted by VMID.
    pub fn guests(&self) -> Vec<Arc<GuestResource>> {
        self.snapshot().guests().to_vec()
    }

    /// A guest by kind and VMID.
    pub fn get(&self, kind: GuestKind, vmid: u64) -> Option<Arc<GuestResource>> {
        self.snapshot().get(kind, vmid).cloned()
    }

    /// The guest with this IP, hostname (its first label) or alias, in that order.
    pub fn reverse_lookup(
        &self,
        ip: Option<IpAddr>,
        hostname: Option<&str>,
        alias: Option<&str>,
    ) -> Option<Arc<GuestResource>> {
        self.snapshot().reverse_lookup(ip, hostname, alias).cloned()
    }
}

/// Adapters for watcher streams.
pub trait WatchStreamExt: Stream<Item = Result<WatchEvent>> + Sized {
    /// Keeps `store` up to date with every event that passes; an error marks its snapshot
    /// stale.
    fn reflect(self, store: Store) -> impl Stream<Item = Result<WatchEvent>> {
        self.inspect(move |event| match event {
            Ok(event) => store.apply(event),
            Err(e) => store.apply_error(e),
        })
    }
}

impl<S: Stream<Item = Result<WatchEvent>>> WatchStreamExt for S {}
