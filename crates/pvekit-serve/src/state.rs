//! The server's shared state: every cluster's client, live store and event channel, the auth
//! tables, the figures of `/metrics`, and the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use pvekit::types::GuestKind;
use pvekit::{Client, GuestResource, Node, Snapshot, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::facts::ClusterFacts;
use crate::hub::Hub;
use crate::telemetry::Telemetry;

/// One watched cluster.
pub struct Cluster {
    /// The cluster's name (the config's name, else the one Proxmox VE reports).
    pub name: String,
    /// Its client.
    pub client: Client,
    /// The latest inventory snapshot.
    pub store: Store,
    /// Each poll's snapshot (every poll, changes or not): subscribers wait on it.
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    /// Nodes' figures, storages, status and version.
    pub facts: ArcSwap<ClusterFacts>,
    /// The inventory's messages (`update`, `stale`) as JSON, made once per poll for every
    /// reader of the event streams.
    pub feed: tokio::sync::broadcast::Sender<crate::events::FeedItem>,
    /// The `listed` messages of the latest snapshot, made once for every reader that starts
    /// (or catches up) while it is the latest.
    pub listed: std::sync::Mutex<Option<crate::events::Listing>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Settings the handlers read.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// GoDoxy's WebSocket keepalive: a client that sends no `ping` for this long is closed.
    pub ping_timeout: Duration,
    /// How often a guest's stats line is sent on a stats WebSocket (GoDoxy: 3 s).
    pub guest_stats_interval: Duration,
    /// How often a node's stats are sent (GoDoxy: 1 s).
    pub node_stats_interval: Duration,
    /// Whether the server runs under TLS (cookies get `Secure`).
    pub tls: bool,
}

/// Everything the handlers share.
pub struct AppState {
    /// The clusters, sorted by name.
    pub clusters: Vec<Arc<Cluster>>,
    /// Tokens, sessions, login links.
    pub auth: Auth,
    /// The figures of `/metrics`.
    pub telemetry: Telemetry,
    /// Shared upstream streams (node stats).
    pub hub: Hub,
    /// Cancelled when the server stops: streams close their WebSockets with a close frame.
    pub shutdown: CancellationToken,
    /// Settings.
    pub tuning: Tuning,
    /// Power actions the server follows.
    pub tasks: crate::actions::Tasks,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("clusters", &self.clusters)
            .finish_non_exhaustive()
    }
}

/// A guest found in the live inventory, with its cluster and its (lazy) handle.
#[derive(Debug, Clone)]
pub struct FoundGuest {
    /// Its cluster.
    pub cluster: Arc<Cluster>,
    /// The guest as the latest poll saw it.
    pub resource: Arc<GuestResource>,
}

impl FoundGuest {
    /// The library handle of the guest, on the node the inventory saw it on.
    pub fn handle(&self) -> pvekit::Guest {
        let node = self.cluster.client.node(self.resource.node());
        match self.resource.kind {
            GuestKind::Lxc => node.lxc(self.resource.vmid),
            GuestKind::Qemu => node.qemu(self.resource.vmid),
        }
    }
}

impl AppState {
    /// The cluster of this name.
    ///
    /// # Errors
    /// 404 `cluster not found`.
    pub fn cluster(&self, name: &str) -> Result<&Arc<Cluster>, ApiError> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                ApiError::not_found(
                    "cluster not found",
                    format!(
                        "no cluster is named '{name}'; known: {}",
                        self.cluster_names()
                    ),
                )
            })
    }

    fn cluster_names(&self) -> String {
        let names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
        names.join(", ")
    }

    /// The node of this name in `cluster` when given, else in whichever cluster has it.
    /// GoDoxy's routes take no cluster; pvekit accepts an optional `cluster` query
    /// parameter on them, so a node name several clusters share can be named.
    ///
    /// # Errors
    /// 404 `cluster not found` or `node not found`; 409 `node name is ambiguous` when no
    /// cluster is given and several have the name.
    pub fn node_in(
        &self,
        cluster: Option<&str>,
        name: &str,
    ) -> Result<(Arc<Cluster>, Node), ApiError> {
        if let Some(c) = cluster {
            self.cluster(c)?;
        }
        let mut found = self.clusters.iter().filter(|c| {
            cluster.is_none_or(|want| c.name == want)
                && (c.client.members().iter().any(|m| m.name == name)
                    || c.store.snapshot().nodes().iter().any(|m| m.name == name)
                    || c.facts
                        .load()
                        .nodes
                        .iter()
                        .any(|n| n.node.as_deref() == Some(name)))
        });
        let Some(first) = found.next() else {
            let place = cluster.map_or("no cluster has".to_string(), |c| {
                format!("cluster '{c}' has no")
            });
            return Err(ApiError::not_found(
                "node not found",
                format!("{place} node named '{name}'"),
            ));
        };
        if let Some(second) = found.next() {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "node name is ambiguous",
                format!(
                    "clusters '{}' and '{}' both have a node named '{name}'; add ?cluster=NAME",
                    first.name, second.name
                ),
            ));
        }
        Ok((first.clone(), first.client.node(name)))
    }

    /// A guest by node and VMID (as GoDoxy's routes name it), in `cluster` when given (see
    /// [`AppState::node_in`]).
    ///
    /// # Errors
    /// As [`AppState::node_in`]; 404 `guest not found` when the node has no such guest.
    pub fn guest_on_in(
        &self,
        cluster: Option<&str>,
        node: &str,
        vmid: u64,
    ) -> Result<FoundGuest, ApiError> {
        let (cluster, _) = self.node_in(cluster, node)?;
        let snapshot = cluster.store.snapshot();
        let resource = snapshot
            .get_vmid(vmid)
            .filter(|g| g.node() == node)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(
                    "guest not found",
                    format!("node '{node}' has no guest {vmid}"),
                )
            })?;
        Ok(FoundGuest {
            cluster: cluster.clone(),
            resource,
        })
    }

    /// A guest by cluster, kind and VMID.
    ///
    /// # Errors
    /// 404 when the cluster or the guest is unknown.
    pub fn guest(&self, cluster: &str, kind: GuestKind, vmid: u64) -> Result<FoundGuest, ApiError> {
        let cluster = self.cluster(cluster)?;
        let resource = cluster.store.get(kind, vmid).ok_or_else(|| {
            ApiError::not_found(
                "guest not found",
                format!("cluster '{}' has no {kind} {vmid}", cluster.name),
            )
        })?;
        Ok(FoundGuest {
            cluster: cluster.clone(),
            resource,
        })
    }
}
