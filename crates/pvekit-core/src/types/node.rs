use serde::{Deserialize, Serialize};

/// One item of `GET /nodes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct NodeListItem {
    /// The node name.
    pub node: String,
    /// `online`, `offline` or `unknown`.
    pub status: String,
    /// `node/<name>`.
    #[serde(default)]
    pub id: Option<String>,
    /// SHA-256 fingerprint of the node's certificate.
    #[serde(default)]
    pub ssl_fingerprint: Option<String>,
    /// CPU usage fraction.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Number of CPUs.
    #[serde(default)]
    pub maxcpu: Option<f64>,
    /// Memory in use, bytes.
    #[serde(default)]
    pub mem: Option<u64>,
    /// Memory size, bytes.
    #[serde(default)]
    pub maxmem: Option<u64>,
    /// Seconds since boot.
    #[serde(default)]
    pub uptime: Option<u64>,
}

/// `GET /nodes/{node}/status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct NodeStatus {
    /// Seconds since boot.
    #[serde(default)]
    pub uptime: u64,
    /// CPU usage fraction (0..1).
    #[serde(default)]
    pub cpu: f64,
    /// IO wait fraction.
    #[serde(default)]
    pub wait: f64,
    /// 1, 5 and 15 minute load averages (sent as strings by the server).
    #[serde(default, deserialize_with = "loadavg")]
    pub loadavg: [f64; 3],
    /// `"<sysname> <release> <version>"`, such as `Linux 6.14.8-2-pve #1 SMP ...`.
    #[serde(default)]
    pub kversion: String,
    /// `pve-manager/<version>/<repoid>`.
    #[serde(default)]
    pub pveversion: String,
    /// CPU model and counts.
    #[serde(default)]
    pub cpuinfo: CpuInfo,
    /// Memory figures.
    #[serde(default)]
    pub memory: MemoryInfo,
    /// Root filesystem figures.
    #[serde(default)]
    pub rootfs: RootFsInfo,
}

fn loadavg<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[f64; 3], D::Error> {
    // Any length is accepted; numbers as strings are read by `perl::from_value`.
    let v: Vec<f64> = Vec::deserialize(d)?;
    let mut out = [0.0; 3];
    for (o, l) in out.iter_mut().zip(v) {
        *o = l;
    }
    Ok(out)
}

/// `cpuinfo` of the node status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct CpuInfo {
    /// CPU model name.
    #[serde(default)]
    pub model: String,
    /// Logical CPUs.
    #[serde(default)]
    pub cpus: u64,
    /// Sockets.
    #[serde(default)]
    pub sockets: u64,
    /// Physical cores.
    #[serde(default)]
    pub cores: u64,
    /// Clock in MHz (sent as a string).
    #[serde(default)]
    pub mhz: f64,
}

/// `memory` of the node status, bytes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct MemoryInfo {
    /// Total memory.
    #[serde(default)]
    pub total: u64,
    /// Used memory (total minus available).
    #[serde(default)]
    pub used: u64,
    /// Free memory.
    #[serde(default)]
    pub free: u64,
}

/// `rootfs` of the node status, bytes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RootFsInfo {
    /// Filesystem size.
    #[serde(default)]
    pub total: u64,
    /// Space used.
    #[serde(default)]
    pub used: u64,
    /// Space available to unprivileged users.
    #[serde(default)]
    pub avail: u64,
}
