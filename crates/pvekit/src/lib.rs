//! pvekit: a Proxmox VE client library.
//!
//! Brief overview of the principal types:
//! - [`Config`]: where a cluster is and how to log in (API token or user/password), how to trust
//!   its certificate (system roots, a pinned SHA-256 fingerprint, or no verification).
//! - [`Client`]: one connection to one cluster: authenticated transport (tickets renewed before
//!   they expire, re-login when the server forgets them), cluster info and node discovery.
//! - [`NodePool`]: the nodes of every connected cluster, looked up by name.
//! - [`Node`]: a cheap handle on one node for node-scoped API calls.
//! - [`Error`]: typed errors that say what went wrong and what to do.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pvekit::Error> {
//! let config = pvekit::Config {
//!     url: "https://pve.example.com:8006".into(),
//!     token_id: Some("root@pam!monitoring".into()),
//!     secret: Some("00000000-0000-0000-0000-000000000000".into()),
//!     ..Default::default()
//! };
//! let client = pvekit::Client::connect(&config).await?;
//! let pool = pvekit::NodePool::new();
//! pool.add_client(&client);
//! for name in pool.available_node_names() {
//!     println!("{name}");
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod auth;
mod client;
mod config;
mod error;
mod exec;
mod guest;
mod inventory;
mod journal;
#[cfg(test)]
mod lenient_decoding;
mod node;
mod pool;
mod stats;
mod task;
mod terminal;
mod tls;
mod watch;

/// The shortest interval any poll, stream or task wait uses: a zero interval given by a
/// caller would make `tokio::time::interval` panic or a loop spin, so intervals are raised to
/// this.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

pub use client::{Client, ClientOptions, Params};
pub use config::{Config, Timeouts};
pub use error::{Error, Result};
pub use exec::{CommandStream, JournalOptions, TailOptions};
pub use guest::{
    Action, ActionOptions, ActionTask, Guest, IpPolicy, ips_of_config, ips_of_interfaces,
    is_ignored_interface, is_private,
};
pub use inventory::{
    GuestResource, Inventory, InventoryEvent, InventoryOptions, PollerHandle,
    RESOURCE_POLL_INTERVAL, Snapshot, describe_lookup, first_label,
};
pub use journal::JournalPage;
pub use node::Node;
pub use pool::NodePool;
pub use pvekit_core as core;
pub use pvekit_core::types::{
    ClusterNode, ClusterResource, ClusterStatusItem, GuestKind, GuestStatus, NodeListItem,
    NodeStatus, ResourceType, RrdCf, RrdPoint, RrdTimeframe, RunState, Version,
};
pub use pvekit_core::{Fingerprint, Upid};
pub use secrecy::{ExposeSecret, SecretString};
pub use stats::{NODE_STATS_POLL_INTERVAL, NodeStats};
pub use task::{TASK_POLL_INTERVAL, TASK_TIMEOUT, Task, TaskProgress, TaskStatus, WaitOptions};
pub use terminal::{KEEPALIVE_INTERVAL, TermInput, Terminal};
pub use watch::{Store, WatchConfig, WatchEvent, WatchStreamExt, watcher};
