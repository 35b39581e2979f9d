//! Handles on single nodes.

use pvekit_core::path::api_path;
use pvekit_core::types::{ClusterNode, GuestStatus, NodeStatus};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Result;

/// A node of a cluster: a lazy handle that prefixes API paths with `/nodes/{name}`.
///
/// Making one does no I/O and checks nothing ([`Client::node`]); it holds no discovery
/// state, so a handle on a node that joined after the client connected works like any
/// other. What discovery knew of the node (online, address) is plain data:
/// [`Client::members`].
///
/// ```no_run
/// # async fn demo(client: pvekit::Client) -> Result<(), pvekit::Error> {
/// let node = client.node("pve1");
/// let status = node.status().await?;
/// println!("{} is up for {} s", node.name(), status.uptime);
/// let containers = node.lxc_list().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Node {
    client: Client,
    name: String,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("cluster", &self.client.name())
            .finish()
    }
}

impl Node {
    pub(crate) fn new(client: Client, name: impl Into<String>) -> Self {
        Node {
            client,
            name: name.into(),
        }
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the client's last discovery knew of this node (online, address, id), if it
    /// was a member then.
    pub fn member(&self) -> Option<ClusterNode> {
        self.client
            .members()
            .into_iter()
            .find(|m| m.name == self.name)
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
            .get(&format!("{}{path}", api_path(["nodes", &self.name])))
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
