//! The node pool: every node of every connected cluster, by name.

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::node::Node;

/// Nodes of all connected clusters, looked up by name.
///
/// A node name that exists in two clusters is not guessed: [`NodePool::get`] reports the
/// ambiguity and lists the clusters; `CLUSTER/NODE` picks one.
#[derive(Debug, Default)]
pub struct NodePool {
    /// cluster URL -> nodes of that cluster (two standalone nodes may share a name, never a URL)
    clusters: RwLock<BTreeMap<String, Vec<Node>>>,
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

    /// Adds (or replaces) the nodes of a client's cluster.
    pub fn add_client(&self, client: &Client) {
        let nodes = client.nodes();
        self.write().insert(client.url().to_string(), nodes);
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
        let clusters = self.read();
        if let Some((cluster, node)) = name.split_once('/')
            && let Some(found) = clusters
                .values()
                .flatten()
                .find(|n| n.cluster() == cluster && n.name() == node)
        {
            return Ok(found.clone());
        }
        let matches: Vec<&Node> = clusters
            .values()
            .flatten()
            .filter(|n| n.name() == name)
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NodeNotFound {
                name: name.to_string(),
                available: available(&clusters),
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
        self.read().values().flatten().cloned().collect()
    }

    /// The distinct node names, sorted.
    pub fn available_node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .read()
            .values()
            .flatten()
            .map(|n| n.name().to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Vec<Node>>> {
        self.clusters.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Vec<Node>>> {
        self.clusters.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn available(clusters: &BTreeMap<String, Vec<Node>>) -> String {
    let mut names: Vec<&str> = clusters.values().flatten().map(|n| n.name()).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}
