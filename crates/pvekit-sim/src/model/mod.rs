//! The simulated cluster: nodes, guests and their configuration.
//!
//! The model holds state only (status, lock, template flag, start time, config). Everything a
//! live system would measure (uptime, CPU, memory, traffic counters) is computed from that state
//! and the simulator clock by [`counters`], so no background task is needed. Lookups go through
//! per-node indexes, so thousands of guests stay cheap.

pub(crate) mod counters;
pub(crate) mod generate;
pub(crate) mod net;
pub mod scenario;

use std::collections::{BTreeMap, HashMap};

use crate::error::ApiError;

/// A node of the simulated cluster.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub ip: String,
    pub online: bool,
    /// Corosync node id (0 when standalone).
    pub nodeid: u32,
    /// Boot time, unix seconds (simulator clock).
    pub boot_time: i64,
    pub cpus: u32,
    pub sockets: u32,
    pub mem_total: u64,
    pub rootfs_total: u64,
    pub level: String,
    pub seed: u64,
}

/// Guest kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Lxc,
    Qemu,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lxc => "lxc",
            Kind::Qemu => "qemu",
        }
    }
}

/// One interface as `ip a` inside a container would show it.
#[derive(Debug, Clone)]
pub(crate) struct Iface {
    pub name: String,
    /// Lower-case MAC.
    pub hwaddr: String,
    /// Addresses in CIDR form, in `ip a` order.
    pub addrs: Vec<String>,
}

/// A container or VM.
#[derive(Debug, Clone)]
pub(crate) struct Guest {
    pub vmid: u32,
    pub kind: Kind,
    pub node: String,
    pub running: bool,
    pub template: bool,
    pub lock: Option<String>,
    /// When the guest was started (simulator clock, unix seconds), while running.
    pub started_at: Option<i64>,
    /// Config keys and values as they would be in the config file (values as text).
    pub config: BTreeMap<String, String>,
    /// Interfaces reported while running, overriding those derived from netN.
    pub interfaces: Option<Vec<Iface>>,
    /// Whether the container runs docker (extra bridges and veths show up).
    pub docker: bool,
    /// Worker PID while running.
    pub pid: u32,
    pub seed: u64,
}

impl Guest {
    /// The display name: LXC hostname or `CT<vmid>`, QEMU name or `VM <vmid>`.
    pub fn name(&self) -> String {
        match self.kind {
            Kind::Lxc => self
                .config
                .get("hostname")
                .map(|h| h.split_whitespace().collect::<String>())
                .unwrap_or_else(|| format!("CT{}", self.vmid)),
            Kind::Qemu => self
                .config
                .get("name")
                .cloned()
                .unwrap_or_else(|| format!("VM {}", self.vmid)),
        }
    }

    /// A config value as an integer.
    pub fn cfg_u64(&self, key: &str) -> Option<u64> {
        self.config.get(key).and_then(|v| v.parse().ok())
    }

    /// The path of the config file, as error messages name it.
    pub fn conf_path(kind: Kind, node: &str, vmid: u32) -> String {
        match kind {
            Kind::Lxc => format!("nodes/{node}/lxc/{vmid}.conf"),
            Kind::Qemu => format!("nodes/{node}/qemu-server/{vmid}.conf"),
        }
    }
}

/// The whole simulated cluster.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// The cluster name; `None` for a standalone node.
    pub cluster_name: Option<String>,
    pub nodes: Vec<Node>,
    pub node_index: HashMap<String, usize>,
    pub guests: BTreeMap<u32, Guest>,
    /// VMIDs per node name.
    pub by_node: HashMap<String, Vec<u32>>,
    /// Index of the node that answers (the one clients talk to).
    pub local: usize,
    /// Corosync config version.
    pub config_version: u32,
}

impl Model {
    /// Builds the indexes; nodes and guests must already be consistent.
    pub fn new(cluster_name: Option<String>, nodes: Vec<Node>, guests: Vec<Guest>) -> Model {
        let node_index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let mut by_node: HashMap<String, Vec<u32>> = HashMap::new();
        let mut map = BTreeMap::new();
        for g in guests {
            by_node.entry(g.node.clone()).or_default().push(g.vmid);
            map.insert(g.vmid, g);
        }
        let local = nodes.iter().position(|n| n.online).unwrap_or(0);
        Model {
            cluster_name,
            nodes,
            node_index,
            guests: map,
            by_node,
            local,
            config_version: 3,
        }
    }

    /// The node a proxied call goes to, or the error the real proxy would answer.
    pub fn reachable_node(&self, name: &str) -> Result<&Node, ApiError> {
        let node = self
            .node_index
            .get(name)
            .map(|&i| &self.nodes[i])
            .ok_or_else(|| {
                ApiError::new(
                    500,
                    format!(
                        "hostname lookup '{name}' failed - failed to get address info for: {name}: Name or service not known\n"
                    ),
                )
            })?;
        if !node.online {
            return Err(ApiError::new(
                595,
                "Errors during connection establishment, proxy handshake: No route to host\n",
            ));
        }
        Ok(node)
    }

    /// A guest of the given kind on the given node, or the "does not exist" error.
    pub fn guest_on(&self, node: &str, vmid: u32, kind: Kind) -> Result<&Guest, ApiError> {
        match self.guests.get(&vmid) {
            Some(g) if g.node == node && g.kind == kind => Ok(g),
            _ => Err(ApiError::new(
                500,
                format!(
                    "Configuration file '{}' does not exist\n",
                    Guest::conf_path(kind, node, vmid)
                ),
            )),
        }
    }

    /// The guests of a node, in VMID order.
    pub fn guests_of<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Guest> + 'a {
        self.by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|id| self.guests.get(id))
    }
}
