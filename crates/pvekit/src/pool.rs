//! The node pool: the clients of many clusters, and their nodes by name.

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::node::Node;

/// The clients of many clusters, and their nodes looked up by name.
///
/// It holds clients, not nodes: a lookup reads each client's current member list
/// ([`Client::members`]), so nodes found by a later [`Client::refresh_members`] are there
/// without adding the client again. A node name that exists in two clusters is not
/// guessed: [`NodePool::get`] reports the ambiguity and lists the clusters; `CLUSTER/NODE`
/// picks one.
///
/// ```no_run
/// # async fn demo(a: pvekit::Client, b: pvekit::Client) -> Result<(), pvekit::Error> {
/// let pool = pvekit::NodePool::new();
/// pool.add_client(&a);
/// pool.add_client(&b);
/// let node = pool.get("pve1")?; // or "lab/pve1" when two clusters have a pve1
/// let client = pool.client("lab");
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct NodePool {
    /// cluster URL -> client (two standalone nodes may share a name, never a URL)
    clusters: RwLock<BTreeMap<String, Client>>,
}

impl NodePool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A process-wide pool, for programs that want one shared registry (like GoDoxy's
    /// `proxmox.Nodes`).
    pub fn global() -> &'static NodePool {
        static POOL: OnceLock<NodePool> = OnceLock::new();
        POOL.get_or_init(NodePool::new)
    }

    /// Adds (or replaces) a cluster's client.
    pub fn add_client(&self, client: &Client) {
        self.write()
            .insert(client.url().to_string(), client.clone());
    }

    /// The client of the cluster with this name (the first by URL when two share it).
    pub fn client(&self, cluster: &str) -> Option<Client> {
        self.read().values().find(|c| c.name() == cluster).cloned()
    }

    /// Every client, ordered by URL.
    pub fn clients(&self) -> Vec<Client> {
        self.read().values().cloned().collect()
    }

    /// Every node of every cluster as last discovered, ordered by cluster URL then name.
    fn all_nodes(&self) -> Vec<Node> {
        self.read().values().flat_map(Client::nodes).collect()
    }

    /// Removes a client's nodes.
    pub fn remove_client(&self, client: &Client) {
        self.write().remove(client.url());
    }

    /// A node by `NAME` or `CLUSTER/NAME`.
    ///
    /// # Errors
    /// [`Error::NodeNotFound`] listing the available names, or [`Error::AmbiguousNode`] listing
    /// the clusters that have the name.
    pub fn get(&self, name: &str) -> Result<Node> {
        let nodes = self.all_nodes();
        if let Some((cluster, node)) = name.split_once('/')
            && let Some(found) = nodes
                .iter()
                .find(|n| n.cluster() == cluster && n.name() == node)
        {
            return Ok(found.clone());
        }
        let matches: Vec<&Node> = nodes.iter().filter(|n| n.name() == name).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NodeNotFound {
                name: name.to_string(),
                available: available(&nodes),
            }),
            many => Err(Error::AmbiguousNode {
                name: name.to_string(),
                clusters: sorted(
                    many.iter()
                        .map(|n| {
                            let same_name =
                                many.iter().filter(|m| m.cluster() == n.cluster()).count();
                            if same_name > 1 {
                                format!("{} ({})", n.cluster(), n.client().url())
                            } else {
                                n.cluster().to_string()
                            }
                        })
                        .collect(),
                ),
            }),
        }
    }

    /// Every node, ordered by cluster URL then name.
    pub fn nodes(&self) -> Vec<Node> {
        self.all_nodes()
    }

    /// The distinct node names, sorted.
    pub fn available_node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .all_nodes()
            .iter()
            .map(|n| n.name().to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Client>> {
        self.clusters.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Client>> {
        self.clusters.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn available(nodes: &[Node]) -> String {
    let mut names: Vec<&str> = nodes.iter().map(|n| n.name()).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}
