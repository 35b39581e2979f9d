use serde::{Deserialize, Serialize};

use crate::perl;

/// One item of `GET /cluster/status`: the cluster itself, or a member node.
///
/// Decoded by its `type` through [`perl::from_value`], so its numbers may come as strings
/// (serde's own internally tagged enums would buffer the fields and lose that leniency).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClusterStatusItem {
    /// The cluster item (only present when the node is part of a cluster).
    Cluster(ClusterInfo),
    /// A member node.
    Node(ClusterNode),
}

impl<'de> Deserialize<'de> for ClusterStatusItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_json::Value::deserialize(d)?;
        match v.get("type").and_then(serde_json::Value::as_str) {
            Some("cluster") => perl::from_value(v).map(ClusterStatusItem::Cluster),
            Some("node") => perl::from_value(v).map(ClusterStatusItem::Node),
            Some(other) => return Err(D::Error::unknown_variant(other, &["cluster", "node"])),
            None => return Err(D::Error::missing_field("type")),
        }
        .map_err(D::Error::custom)
    }
}

/// The `type: "cluster"` item of `GET /cluster/status`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClusterInfo {
    /// Always `cluster`.
    pub id: String,
    /// The cluster name.
    pub name: String,
    /// Number of member nodes, offline ones included.
    #[serde(default)]
    pub nodes: u64,
    /// The corosync config version.
    #[serde(default)]
    pub version: u64,
    /// Whether the cluster has quorum.
    #[serde(default)]
    pub quorate: bool,
}

/// A `type: "node"` item of `GET /cluster/status`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClusterNode {
    /// `node/<name>`.
    pub id: String,
    /// The node name.
    pub name: String,
    /// Corosync node id (0 when not clustered).
    #[serde(default)]
    pub nodeid: u64,
    /// Whether the node is online.
    #[serde(default)]
    pub online: bool,
    /// Whether this is the node that answered the request.
    #[serde(default)]
    pub local: bool,
    /// The node's cluster address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Subscription level (`""` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// The `type` filter of `GET /cluster/resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    /// QEMU and LXC guests.
    Vm,
    /// Storages.
    Storage,
    /// Nodes.
    Node,
    /// SDN zones.
    Sdn,
}

impl ResourceType {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Vm => "vm",
            ResourceType::Storage => "storage",
            ResourceType::Node => "node",
            ResourceType::Sdn => "sdn",
        }
    }
}

/// One item of `GET /cluster/resources`. Only `id` and `type` are always present; the rest
/// depends on the item type and on whether the server has RRD data for it yet.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ClusterResource {
    /// `lxc/101`, `qemu/100`, `node/pve1`, `storage/pve1/local`, ...
    pub id: String,
    /// `lxc`, `qemu`, `node`, `storage`, `pool`, `sdn`, `network`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The node the item lives on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Guest id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u64>,
    /// Guest name (absent while the server has no RRD data for the guest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `running`/`stopped`/`unknown` for guests, `online`/`offline`/`unknown` for nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether the guest is a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<bool>,
    /// CPU usage as a fraction of `maxcpu` (0.05 = 5 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Number of CPUs (may be fractional for LXC with a cpulimit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxcpu: Option<f64>,
    /// Memory in use, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<u64>,
    /// Memory limit, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmem: Option<u64>,
    /// Disk in use, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u64>,
    /// Disk size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxdisk: Option<u64>,
    /// Bytes received since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netin: Option<u64>,
    /// Bytes sent since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netout: Option<u64>,
    /// Bytes read from disk since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diskread: Option<u64>,
    /// Bytes written to disk since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diskwrite: Option<u64>,
    /// Seconds since start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    /// `;`-separated tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Current lock, such as `backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// Resource pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// HA state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hastate: Option<String>,
}
