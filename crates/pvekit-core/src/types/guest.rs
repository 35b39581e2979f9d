use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The two kinds of guests Proxmox VE runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A Linux container.
    Lxc,
    /// A QEMU/KVM virtual machine.
    Qemu,
}

impl GuestKind {
    /// The path segment and resource type: `lxc` or `qemu`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Lxc => "lxc",
            GuestKind::Qemu => "qemu",
        }
    }
}

impl fmt::Display for GuestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GuestKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lxc" => Ok(GuestKind::Lxc),
            "qemu" => Ok(GuestKind::Qemu),
            other => Err(format!(
                "unknown guest type '{other}' (expected lxc or qemu)"
            )),
        }
    }
}

/// A guest's run state as Proxmox VE reports it: only `running` or `stopped` (a paused or
/// suspended VM still reports `running`, with the detail in `qmpstatus`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Running.
    Running,
    /// Stopped.
    Stopped,
    /// Anything else the server may report, such as `unknown` in cluster resources.
    #[serde(untagged)]
    Other(String),
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::Stopped => "stopped",
            RunState::Other(s) => s,
        })
    }
}

/// `GET /nodes/{node}/{lxc|qemu}` items and `.../status/current`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GuestStatus {
    /// Guest id.
    pub vmid: u64,
    /// `running` or `stopped`.
    pub status: RunState,
    /// Configured name (hostname for LXC), or `CT<vmid>` / `VM <vmid>`.
    #[serde(default)]
    pub name: Option<String>,
    /// QEMU only: `running`, `paused`, `suspended`, `prelaunch`, ...
    #[serde(default)]
    pub qmpstatus: Option<String>,
    /// CPU usage fraction of `cpus`.
    #[serde(default)]
    pub cpu: f64,
    /// CPUs (may be a string such as `"1.5"` for LXC with only a cpulimit).
    #[serde(default)]
    pub cpus: f64,
    /// Memory in use, bytes.
    #[serde(default)]
    pub mem: u64,
    /// Memory limit, bytes.
    #[serde(default)]
    pub maxmem: u64,
    /// Disk in use, bytes (always 0 for QEMU).
    #[serde(default)]
    pub disk: u64,
    /// Disk size, bytes.
    #[serde(default)]
    pub maxdisk: u64,
    /// Bytes received.
    #[serde(default)]
    pub netin: u64,
    /// Bytes sent.
    #[serde(default)]
    pub netout: u64,
    /// Bytes read from disk.
    #[serde(default)]
    pub diskread: u64,
    /// Bytes written to disk.
    #[serde(default)]
    pub diskwrite: u64,
    /// Seconds since start.
    #[serde(default)]
    pub uptime: u64,
    /// Main process id, when running.
    #[serde(default)]
    pub pid: Option<u64>,
    /// Present (as 1) only for templates.
    #[serde(default)]
    pub template: Option<bool>,
    /// Current lock.
    #[serde(default)]
    pub lock: Option<String>,
    /// `;`-separated tags.
    #[serde(default)]
    pub tags: Option<String>,
}

/// One item of `GET /nodes/{node}/lxc/{vmid}/interfaces` (`ip --json a` inside the container).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LxcInterface {
    /// Interface name inside the container (`lo`, `eth0`, ...).
    pub name: String,
    /// MAC address, lower-case.
    #[serde(default)]
    pub hwaddr: Option<String>,
    /// Last IPv4 address in CIDR form (deprecated by the server; use `ip_addresses`).
    #[serde(default)]
    pub inet: Option<String>,
    /// Last IPv6 address in CIDR form (often the link-local one).
    #[serde(default)]
    pub inet6: Option<String>,
    /// Every address of the interface.
    #[serde(default, rename = "ip-addresses")]
    pub ip_addresses: Vec<LxcIpAddress>,
}

/// One address of an [`LxcInterface`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LxcIpAddress {
    /// The address without prefix.
    #[serde(rename = "ip-address")]
    pub ip_address: String,
    /// `inet` or `inet6`.
    #[serde(rename = "ip-address-type")]
    pub ip_address_type: String,
    /// Prefix length.
    pub prefix: u64,
}
