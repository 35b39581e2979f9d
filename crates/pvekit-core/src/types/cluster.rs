use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::GuestKind;

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

/// The `type` of a `GET /cluster/resources` item.
///
/// Sources: pve-manager `PVE/API2/Cluster.pm` (`resources`: `node`, `storage`, `pool`,
/// `qemu`, `lxc`, `openvz`, `sdn`, and `network` since PVE 9); any other value is kept as
/// [`ResourceKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    /// A QEMU/KVM virtual machine.
    Qemu,
    /// A Linux container.
    Lxc,
    /// A cluster node.
    Node,
    /// A storage on a node.
    Storage,
    /// A resource pool.
    Pool,
    /// An SDN zone.
    Sdn,
    /// A network (PVE 9).
    Network,
    /// A type this library does not know (kept as sent).
    #[serde(untagged)]
    Other(CompactString),
}

/// An empty [`ResourceKind::Other`], for values built by hand.
impl Default for ResourceKind {
    fn default() -> Self {
        ResourceKind::Other(CompactString::default())
    }
}

impl ResourceKind {
    /// The guest kind, for `qemu` and `lxc` items.
    pub fn guest_kind(&self) -> Option<GuestKind> {
        match self {
            ResourceKind::Qemu => Some(GuestKind::Qemu),
            ResourceKind::Lxc => Some(GuestKind::Lxc),
            _ => None,
        }
    }

    /// The value as the server sends it.
    pub fn as_str(&self) -> &str {
        match self {
            ResourceKind::Qemu => "qemu",
            ResourceKind::Lxc => "lxc",
            ResourceKind::Node => "node",
            ResourceKind::Storage => "storage",
            ResourceKind::Pool => "pool",
            ResourceKind::Sdn => "sdn",
            ResourceKind::Network => "network",
            ResourceKind::Other(s) => s,
        }
    }
}

impl From<&str> for ResourceKind {
    fn from(s: &str) -> Self {
        match s {
            "qemu" => ResourceKind::Qemu,
            "lxc" => ResourceKind::Lxc,
            "node" => ResourceKind::Node,
            "storage" => ResourceKind::Storage,
            "pool" => ResourceKind::Pool,
            "sdn" => ResourceKind::Sdn,
            "network" => ResourceKind::Network,
            other => ResourceKind::Other(other.into()),
        }
    }
}

impl From<GuestKind> for ResourceKind {
    fn from(k: GuestKind) -> Self {
        match k {
            GuestKind::Qemu => ResourceKind::Qemu,
            GuestKind::Lxc => ResourceKind::Lxc,
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `status` of a `GET /cluster/resources` item.
///
/// Sources: pve-manager `PVE/API2/Cluster.pm` (`resources`) and `PVE/API2Tools.pm`
/// (`extract_vm_stats`, `extract_node_stats`, `extract_storage_stats`): guests are `running`
/// or `stopped`, nodes `online` or `offline`, storages `available`, and any item the server
/// has no current data for is `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceStatus {
    /// A running guest.
    Running,
    /// A stopped guest.
    Stopped,
    /// A node that is up.
    Online,
    /// A node that is down.
    Offline,
    /// A usable storage.
    Available,
    /// The server has no current data for the item (its node is down, for one).
    Unknown,
    /// Anything else (kept as sent; SDN zones report `ok`, `error`, ...).
    #[serde(untagged)]
    Other(CompactString),
}

impl ResourceStatus {
    /// The value as the server sends it.
    pub fn as_str(&self) -> &str {
        match self {
            ResourceStatus::Running => "running",
            ResourceStatus::Stopped => "stopped",
            ResourceStatus::Online => "online",
            ResourceStatus::Offline => "offline",
            ResourceStatus::Available => "available",
            ResourceStatus::Unknown => "unknown",
            ResourceStatus::Other(s) => s,
        }
    }
}

impl From<&str> for ResourceStatus {
    fn from(s: &str) -> Self {
        match s {
            "running" => ResourceStatus::Running,
            "stopped" => ResourceStatus::Stopped,
            "online" => ResourceStatus::Online,
            "offline" => ResourceStatus::Offline,
            "available" => ResourceStatus::Available,
            "unknown" => ResourceStatus::Unknown,
            other => ResourceStatus::Other(other.into()),
        }
    }
}

impl fmt::Display for ResourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One item of `GET /cluster/resources`. Only `id` and `type` are always present; the rest
/// depends on the item type and on whether the server has RRD data for it yet. Its strings
/// are [`CompactString`]s (stored inline up to 24 bytes), as an inventory holds one of these
/// per guest.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ClusterResource {
    /// `lxc/101`, `qemu/100`, `node/pve1`, `storage/pve1/local`, ...
    pub id: CompactString,
    /// What the item is: a guest, a node, a storage, ...
    #[serde(rename = "type")]
    pub kind: ResourceKind,
    /// The node the item lives on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<CompactString>,
    /// Guest id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u64>,
    /// Guest name (absent while the server has no RRD data for the guest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<CompactString>,
    /// `running`/`stopped`/`unknown` for guests, `online`/`offline`/`unknown` for nodes,
    /// `available`/`unknown` for storages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResourceStatus>,
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
    pub tags: Option<CompactString>,
    /// Current lock, such as `backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<CompactString>,
    /// Resource pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<CompactString>,
    /// HA state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hastate: Option<CompactString>,
}

impl ClusterResource {
    /// The guest kind, for `qemu` and `lxc` items.
    pub fn guest_kind(&self) -> Option<GuestKind> {
        self.kind.guest_kind()
    }

    /// Whether the item says it is running (a guest) or online (a node).
    pub fn is_up(&self) -> bool {
        matches!(
            self.status,
            Some(ResourceStatus::Running | ResourceStatus::Online)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_read_typed_and_keep_unknown_values() {
        let r: ClusterResource = perl::from_value(serde_json::json!(
            {"id": "lxc/101", "type": "lxc", "vmid": "101", "status": "running"}
        ))
        .unwrap();
        assert_eq!(r.kind, ResourceKind::Lxc);
        assert_eq!(r.guest_kind(), Some(GuestKind::Lxc));
        assert!(r.is_up());
        let r: ClusterResource = perl::from_value(serde_json::json!(
            {"id": "openvz/7", "type": "openvz", "status": "mounted"}
        ))
        .unwrap();
        assert_eq!(r.kind, ResourceKind::Other("openvz".into()));
        assert_eq!(r.status, Some(ResourceStatus::Other("mounted".into())));
        assert_eq!(r.guest_kind(), None);
        assert!(!r.is_up());
        // Written back as the server wrote them.
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["status"].as_str()),
            (Some("openvz"), Some("mounted"))
        );
        for s in [
            "qemu", "lxc", "node", "storage", "pool", "sdn", "network", "x",
        ] {
            let k = ResourceKind::from(s);
            assert_eq!(k.as_str(), s);
            assert_eq!(serde_json::to_value(&k).unwrap(), s);
        }
        for s in [
            "running",
            "stopped",
            "online",
            "offline",
            "available",
            "unknown",
            "ok",
        ] {
            let st = ResourceStatus::from(s);
            assert_eq!(st.to_string(), s);
            assert_eq!(
                perl::from_value::<ResourceStatus>(serde_json::json!(s)).unwrap(),
                st
            );
        }
    }
}
