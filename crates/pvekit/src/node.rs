//! Handles on single nodes.

use pvekit_core::path::api_path;
use pvekit_core::types::{ClusterNode, GuestStatus, NodeStatus};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Result;

/// A node of a cluster: a cheap handle that prefixes API paths with `/nodes/{name}`.
#[derive(Clone)]
pub struct Node {
    client: Client,
    info: ClusterNode,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.info.name)
            .field("cluster", &self.client.name())
            .field("online", &self.info.online)
            .finish()
    }
}

impl Node {
    pub(crate) fn new(client: Client, info: ClusterNode) -> Self {
        Node { client, info }
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The node id, `node/<name>`.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The node's cluster address, when the server reported it.
    pub fn ip(&self) -> Option<&str> {
        self.info.ip.as_deref()
    }

    /// Whether the node was online at discovery.
    pub fn online(&self) -> bool {
        self.info.online
    }

    /// The name of the cluster the node belongs to.
    pub fn cluster(&self) -> &str {
        self.client.name()
    }

    /// The client of the node's cluster.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `GET /nodes/{node}{path}` and decode `data`. `path` starts with `/` (or is empty).
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.client
            .get(&format!("{}{path}", api_path(["nodes", &self.info.name])))
            .await
    }

    /// A handle on container `vmid` of this node.
    pub fn lxc(&self, vmid: u64) -> crate::Guest {
        crate::Guest::new(self.clone(), pvekit_core::types::GuestKind::Lxc, vmid)
    }

    /// A handle on VM `vmid` of this node.
    pub fn qemu(&self, vmid: u64) -> crate::Guest {
        crate::Guest::new(self.clone(), pvekit_core::types::GuestKind::Qemu, vmid)
    }

    /// `GET /nodes/{node}/status`.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn status(&self) -> Result<NodeStatus> {
        self.get("/status").await
    }

    /// The node's containers (`GET /nodes/{node}/lxc`), sorted by VMID.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn lxc_list(&self) -> Result<Vec<GuestStatus>> {
        let mut list: Vec<GuestStatus> = self.get("/lxc").await?;
        list.sort_by_key(|g| g.vmid);
        Ok(list)
    }

    /// The node's VMs (`GET /nodes/{node}/qemu`), sorted by VMID.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn qemu_list(&self) -> Result<Vec<GuestStatus>> {
        let mut list: Vec<GuestStatus> = self.get("/qemu").await?;
        list.sort_by_key(|g| g.vmid);
        Ok(list)
    }
}
