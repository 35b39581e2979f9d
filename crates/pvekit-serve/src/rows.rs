//! The rows pvekit's own API answers with: flat, typed, with the cluster named, and free of
//! Proxmox VE's quirks (the page and other clients need not know Proxmox VE's API).

use pvekit::GuestResource;
use pvekit::types::{ClusterResource, GuestKind, ResourceStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// A guest of the live inventory.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GuestRow {
    /// The cluster's name.
    pub cluster: String,
    /// `lxc` or `qemu`.
    #[serde(rename = "type")]
    #[schema(example = "lxc")]
    pub kind: String,
    /// Guest id.
    pub vmid: u64,
    /// Name (hostname for containers).
    pub name: Option<String>,
    /// The node it runs on.
    pub node: String,
    /// `running`, `stopped` or `unknown`.
    pub status: String,
    /// Whether it is a template (cannot start).
    pub template: bool,
    /// CPU usage, a fraction of `maxcpu`.
    pub cpu: f64,
    /// CPUs it may use.
    pub maxcpu: f64,
    /// Memory in use, bytes.
    pub mem: u64,
    /// Memory limit, bytes.
    pub maxmem: u64,
    /// Root disk in use, bytes (0 for VMs, which Proxmox VE does not measure).
    pub disk: u64,
    /// Root disk size, bytes.
    pub maxdisk: u64,
    /// Received since start, bytes.
    pub netin: u64,
    /// Sent since start, bytes.
    pub netout: u64,
    /// Read from disk since start, bytes.
    pub diskread: u64,
    /// Written to disk since start, bytes.
    pub diskwrite: u64,
    /// Seconds since start.
    pub uptime: u64,
    /// Tags.
    pub tags: Vec<String>,
    /// A lock held on it (`backup`, `migrate`, ...).
    pub lock: Option<String>,
    /// HA state, when HA manages it.
    pub hastate: Option<String>,
    /// Its IPs.
    pub ips: Vec<String>,
}

impl GuestRow {
    /// The row of a guest of `cluster`.
    pub fn new(cluster: &str, g: &GuestResource) -> Self {
        GuestRow {
            cluster: cluster.to_string(),
            kind: g.kind.to_string(),
            vmid: g.vmid,
            name: g.name().map(str::to_owned),
            node: g.node().to_string(),
            status: g.status().to_string(),
            template: g.template(),
            cpu: g.cpu().unwrap_or(0.0),
            maxcpu: g.maxcpu().unwrap_or(0.0),
            mem: g.mem().unwrap_or(0),
            maxmem: g.maxmem().unwrap_or(0),
            disk: g.disk().unwrap_or(0),
            maxdisk: g.maxdisk().unwrap_or(0),
            netin: g.netin().unwrap_or(0),
            netout: g.netout().unwrap_or(0),
            diskread: g.diskread().unwrap_or(0),
            diskwrite: g.diskwrite().unwrap_or(0),
            uptime: g.uptime().unwrap_or(0),
            tags: split_tags(g.tags()),
            lock: g.lock().filter(|l| !l.is_empty()).map(str::to_owned),
            hastate: g.hastate().map(str::to_owned),
            ips: g.ips.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Proxmox VE separates tags with `;` (also accepting `,` and spaces on input).
fn split_tags(tags: Option<&str>) -> Vec<String> {
    tags.unwrap_or_default()
        .split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// A node, with its figures from the latest facts poll.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NodeRow {
    /// The cluster's name.
    pub cluster: String,
    /// The node's name.
    pub name: String,
    /// Whether it is online.
    pub online: bool,
    /// CPU usage, a fraction of `maxcpu`.
    pub cpu: f64,
    /// CPUs.
    pub maxcpu: f64,
    /// Memory in use, bytes.
    pub mem: u64,
    /// Memory size, bytes.
    pub maxmem: u64,
    /// Root filesystem in use, bytes.
    pub disk: u64,
    /// Root filesystem size, bytes.
    pub maxdisk: u64,
    /// Seconds since boot.
    pub uptime: u64,
}

impl NodeRow {
    /// The row of a `type: node` resource.
    pub fn new(cluster: &str, r: &ClusterResource) -> Self {
        NodeRow {
            cluster: cluster.to_string(),
            name: r.node.as_deref().unwrap_or_default().to_owned(),
            online: r.status.as_ref() == Some(&ResourceStatus::Online),
            cpu: r.cpu.unwrap_or(0.0),
            maxcpu: r.maxcpu.unwrap_or(0.0),
            mem: r.mem.unwrap_or(0),
            maxmem: r.maxmem.unwrap_or(0),
            disk: r.disk.unwrap_or(0),
            maxdisk: r.maxdisk.unwrap_or(0),
            uptime: r.uptime.unwrap_or(0),
        }
    }
}

/// The power actions a guest's state allows now.
pub fn allowed_actions(kind: GuestKind, row: &GuestRow) -> Vec<&'static str> {
    if row.template {
        return Vec::new();
    }
    match row.status.as_str() {
        "running" => {
            let mut a = vec!["shutdown", "stop", "reboot", "suspend"];
            if kind == GuestKind::Qemu {
                a.push("resume");
            }
            a
        }
        "stopped" => {
            if kind == GuestKind::Lxc {
                vec!["start", "resume"]
            } else {
                vec!["start"]
            }
        }
        _ => vec!["start", "stop"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_on_every_separator_proxmox_accepts() {
        assert_eq!(split_tags(Some("a;b,c d;;")), vec!["a", "b", "c", "d"]);
        assert!(split_tags(None).is_empty());
    }
}
