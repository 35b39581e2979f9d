//! What the server knows of each cluster beyond its guests: its nodes' figures, its storages,
//! `/cluster/status` and the version, from one poll per cluster and interval, whatever the
//! number of readers (the dashboard's overview, `/pve`).
//!
//! A poll is three requests: `/cluster/resources?type=node`, `/cluster/resources?type=storage`
//! and `/cluster/status`, plus `/cluster/backup-info/not-backed-up` once every
//! [`BACKUP_INFO_EVERY`] (backup jobs change seldom). The guests come from the inventory's
//! own poll, the version from the client's connection: a scrape of `/pve` sends nothing
//! upstream.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pvekit::Client;
use pvekit::types::{ClusterResource, ClusterStatusItem, ResourceType, StorageResource, Version};
use serde::Deserialize;

/// How often the guests no backup job covers are read again.
pub const BACKUP_INFO_EVERY: Duration = Duration::from_secs(300);

/// An item of `GET /cluster/backup-info/not-backed-up`: a guest no backup job covers.
/// Source: pve-manager `PVE/API2/BackupInfo.pm` (`get_guests_not_in_backup`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotBackedUp {
    /// The guest's VMID.
    pub vmid: u64,
    /// `qemu` or `lxc`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One poll's view of a cluster's nodes, storages and status.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    /// `/cluster/resources?type=node`: each node's CPU, memory, disk and uptime.
    pub nodes: Vec<ClusterResource>,
    /// `/cluster/resources?type=storage`: each node's storages, their size and use (those
    /// the login may audit: Datastore.Audit).
    pub storages: Vec<StorageResource>,
    /// `/cluster/status`: the cluster item (name, quorum) and the member nodes.
    pub status: Vec<ClusterStatusItem>,
    /// `/cluster/backup-info/not-backed-up`, when the login may read it (Sys.Audit on `/`),
    /// read once every [`BACKUP_INFO_EVERY`].
    pub not_backed_up: Option<Vec<NotBackedUp>>,
    /// When `not_backed_up` was last read (or tried).
    pub backup_info_at: Option<Instant>,
    /// `/version`.
    pub version: Option<Version>,
    /// When the poll was taken.
    pub taken_at: Option<SystemTime>,
    /// How long the latest poll took (its requests, one after the other).
    pub took: Option<Duration>,
    /// Polls that succeeded so far.
    pub polls_ok: u64,
    /// Polls that failed so far.
    pub polls_failed: u64,
    /// Set when the latest poll failed: the data is from an earlier one.
    pub error: Option<String>,
}

/// Polls a cluster's facts once. Failures keep the earlier data, marked with the error.
pub async fn poll(client: &Client, before: &ClusterFacts) -> Arc<ClusterFacts> {
    let started = Instant::now();
    let nodes = client.cluster_resources(Some(ResourceType::Node)).await;
    let storages = storages(client).await;
    let status = client.cluster_status().await;
    let mut facts = before.clone();
    facts.version = Some(client.version().clone());
    facts.took = Some(started.elapsed());
    match (nodes, storages, status) {
        (Ok(nodes), Ok(storages), Ok(status)) => {
            facts.nodes = nodes;
            facts.storages = storages;
            facts.status = status;
            facts.taken_at = Some(SystemTime::now());
            facts.polls_ok += 1;
            facts.error = None;
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            facts.polls_failed += 1;
            facts.error = Some(e.to_string());
        }
    }
    if facts
        .backup_info_at
        .is_none_or(|t| t.elapsed() >= BACKUP_INFO_EVERY)
    {
        facts.backup_info_at = Some(Instant::now());
        // Optional: without the right (or on an older server) the metrics built on it are
        // left out, and the rest stays.
        match client
            .get::<Vec<NotBackedUp>>("/cluster/backup-info/not-backed-up")
            .await
        {
            Ok(list) => facts.not_backed_up = Some(list),
            Err(e) => {
                tracing::debug!(error = %e, "backup-info not read");
                facts.not_backed_up = None;
            }
        }
    }
    Arc::new(facts)
}

/// `GET /cluster/resources?type=storage`, in its own type (a storage item has fields no
/// guest has).
async fn storages(client: &Client) -> pvekit::Result<Vec<StorageResource>> {
    client
        .get_with(
            "/cluster/resources",
            &[("type", ResourceType::Storage.as_str().to_string())],
        )
        .await
}

impl ClusterFacts {
    /// How old the data is; `None` before the first good poll.
    pub fn age(&self) -> Option<Duration> {
        self.taken_at
            .and_then(|t| SystemTime::now().duration_since(t).ok())
    }
}
