//! What the server knows of each cluster beyond its guests: its nodes' figures, its storages,
//! `/cluster/status` and the version, from one poll per cluster and interval, whatever the
//! number of readers (the dashboard's overview, `/pve`).

use std::sync::Arc;
use std::time::SystemTime;

use pvekit::Client;
use pvekit::types::{ClusterResource, ClusterStatusItem, ResourceType, Version};

/// One poll's view of a cluster's nodes, storages and status.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    /// `/cluster/resources?type=node`: each node's CPU, memory, disk and uptime.
    pub nodes: Vec<ClusterResource>,
    /// `/cluster/status`: the cluster item (name, quorum) and the member nodes.
    pub status: Vec<ClusterStatusItem>,
    /// `/version`.
    pub version: Option<Version>,
    /// When the poll was taken.
    pub taken_at: Option<SystemTime>,
    /// Set when the latest poll failed: the data is from an earlier one.
    pub error: Option<String>,
}

/// Polls a cluster's facts once. Failures keep the earlier data, marked with the error.
pub async fn poll(client: &Client, before: &ClusterFacts) -> Arc<ClusterFacts> {
    let nodes = client.cluster_resources(Some(ResourceType::Node)).await;
    let status = client.cluster_status().await;
    let mut facts = before.clone();
    facts.version = Some(client.version().clone());
    match (nodes, status) {
        (Ok(nodes), Ok(status)) => {
            facts.nodes = nodes;
            facts.status = status;
            facts.taken_at = Some(SystemTime::now());
            facts.error = None;
        }
        (Err(e), _) | (_, Err(e)) => facts.error = Some(e.to_string()),
    }
    Arc::new(facts)
}
