//! pvekit: a Proxmox VE client library.
//!
//! # Principal types
//! - [`Config`]: where a cluster is, how to log in (API token and/or user and password), how
//!   to trust its certificate (system roots, a pinned SHA-256 fingerprint, or none).
//! - [`Client`]: one connection to one cluster: authenticated transport (tickets renewed,
//!   re-login when the server forgets them), discovery data ([`Client::members`]), and lazy
//!   handles ([`Client::node`]).
//! - [`Node`] and [`Guest`]: lazy handles (no I/O to make one) for node and guest calls:
//!   status, lists, power actions, IPs, stats, history, commands, journals, tails.
//! - [`ActionTask`] and [`Task`]: a power action or task that runs on the node, with
//!   `wait()` and a progress `Stream`.
//! - [`CommandStream`]: a command's output as a `Stream`, then its exit status;
//!   [`Terminal`]: a terminal session as a `Stream` of output and a `Sink` of [`TermInput`].
//! - [`watcher`], [`WatchEvent`] and [`Store`]: a cluster's guests as a stream of events, and
//!   an indexed view of them for lookups by IP, hostname or alias; [`Inventory`] is the same
//!   machinery with a background poller and a broadcast channel. Each guest is a
//!   [`GuestResource`]: its `/cluster/resources` item, stored compactly and read through
//!   methods, and its IPs.
//! - [`NodeConfig`] and [`ResolvedRoute`]: a reverse-proxy route's binding to a node or
//!   guest, as GoDoxy writes it, resolved against a [`Store`]'s snapshot without a request.
//! - [`Waker`] and [`IdleWatcher`]: wake a guest on demand (start, address, readiness
//!   [`Probe`]; one flight per guest; progress as [`WakeEvent`]s) and put it back to sleep
//!   after an idle timeout.
//! - [`NodePool`]: the clients of many clusters, and their nodes by name.
//! - [`Error`]: typed errors whose `Display` states what happened and whose
//!   [`Error::hint`] says what to do.
//!
//! Response types are in [`types`], address rules in [`ip`]. The library brings its own TLS
//! setup: a program installs no crypto provider.
//!
//! # Three common tasks
//! ```no_run
//! # async fn demo() -> Result<(), pvekit::Error> {
//! use futures_util::StreamExt;
//! use pvekit::{Client, Config, InventoryOptions, WatchConfig, WatchEvent, watcher};
//!
//! let config = Config {
//!     url: "https://pve.example.com:8006".into(),
//!     token_id: Some("root@pam!monitoring".into()),
//!     secret: Some("00000000-0000-0000-0000-000000000000".to_string().into()),
//!     fingerprint: Some("AA:BB:...".into()),
//!     ..Default::default()
//! };
//! let client = Client::connect(&config).await?;
//!
//! // 1. Every guest with its IPs.
//! let inventory = pvekit::Inventory::new(client.clone(), InventoryOptions::default());
//! inventory.refresh().await?;
//! for guest in inventory.snapshot().guests() {
//!     println!("{} {:?} {:?}", guest.vmid, guest.name(), guest.ips);
//! }
//!
//! // 2. A command in a container, with its exit status (needs a root@pam password login).
//! let (output, status) = client.node("pve1").lxc(101).command("df -h /").await?.output().await?;
//! println!("{} (exit {status})", String::from_utf8_lossy(&output));
//!
//! // 3. Follow the inventory's changes.
//! let mut events = Box::pin(watcher(client, WatchConfig::default()));
//! while let Some(event) = events.next().await {
//!     if let WatchEvent::Changed { changes, .. } = event? {
//!         println!("{changes:?}");
//!     }
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

/// The README's Rust examples, compiled as doctests so they follow the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

pub mod access;
mod auth;
mod certificate;
mod client;
mod config;
mod error;
mod exec;
mod guest;
mod guest_resource;
mod inventory;
mod journal;
#[cfg(test)]
mod lenient_decoding;
mod node;
mod pool;
mod route;
mod stats;
pub mod target;
mod task;
mod terminal;
mod tls;
mod wake;
mod watch;

/// The shortest interval any poll, stream or task wait uses: a zero interval given by a
/// caller would make `tokio::time::interval` panic or a loop spin, so intervals are raised to
/// this.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

pub use certificate::{ServerCertificate, inspect_certificate};
pub use client::{Client, ClientOptions, Params};
pub use config::{Config, Endpoint, Timeouts};
pub use error::{Error, Result};
pub use exec::{CommandStream, JournalOptions, TailOptions};
pub use guest::{Action, ActionOptions, ActionTask, Guest, IpPolicy};
pub use inventory::{
    GuestResource, Inventory, InventoryEvent, InventoryOptions, MAX_BACKOFF, PollerHandle,
    RESOURCE_POLL_INTERVAL, Snapshot,
};
pub use journal::JournalPage;
pub use node::Node;
pub use pool::NodePool;
pub use pvekit_core as core;
pub use route::{NodeConfig, ResolvedRoute, RouteHints};
pub use secrecy::{ExposeSecret, SecretString};
pub use stats::{NODE_STATS_POLL_INTERVAL, NodeStats};
pub use task::{TASK_POLL_INTERVAL, TASK_TIMEOUT, Task, TaskProgress, TaskStatus, WaitOptions};
pub use terminal::{KEEPALIVE_INTERVAL, TermInput, Terminal};
pub use wake::{
    ActiveGuard, IdleEvent, IdleOptions, IdleWatcher, PROBE_INTERVAL, Probe, Ready, SleepMethod,
    WAKE_TIMEOUT, WakeEvent, WakeEventKind, WakeHandle, WakeOptions, Waker,
};
pub use watch::{Store, WatchConfig, WatchEvent, WatchStreamExt, watcher};

/// The typed answers of the API that the library returns (from [`pvekit_core::types`]),
/// and the identifiers in them.
pub mod types {
    pub use pvekit_core::types::*;
    pub use pvekit_core::{Fingerprint, Upid};
}

/// Which of a guest's addresses count, and how they are read from interfaces and config.
pub mod ip {
    pub use crate::guest::{ips_of_config, ips_of_interfaces, is_ignored_interface, is_private};
}

/// Helpers for reverse lookups by IP, hostname or alias.
pub mod lookup {
    pub use crate::inventory::{describe_lookup, first_label};
}
