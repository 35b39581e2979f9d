//! `docker stats`-like figures for guests and nodes, once or as a stream.
//!
//! Streams yield a value at once, then one per interval, and end when dropped: no task is left
//! running behind them.

use std::time::Duration;

use futures_util::Stream;
use pvekit_core::format::{self, StatsFigures};
use pvekit_core::types::{RrdCf, RrdPoint, RrdTimeframe};
use serde::Serialize;

use crate::error::Result;
use crate::guest::Guest;
use crate::node::Node;

/// How often node stats are streamed (GoDoxy's `NodeStatsPollInterval`).
pub const NODE_STATS_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A node's figures, formatted for people, as GoDoxy's `NodeStats` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    /// Kernel release, such as `6.14.8-2-pve`.
    pub kernel_version: String,
    /// pve-manager version, such as `9.1.2`.
    pub pve_version: String,
    /// CPU usage, `12.34%`.
    pub cpu_usage: String,
    /// CPU model.
    pub cpu_model: String,
    /// Memory in use, IEC.
    pub mem_usage: String,
    /// Memory size, IEC.
    pub mem_total: String,
    /// Memory in use, percent.
    pub mem_pct: String,
    /// Root filesystem in use, IEC.
    pub rootfs_usage: String,
    /// Root filesystem size, IEC.
    pub rootfs_total: String,
    /// Root filesystem in use, percent.
    pub rootfs_pct: String,
    /// Uptime like `3d4h5m`.
    pub uptime: String,
    /// 1-minute load average.
    pub load_avg_1m: String,
    /// 5-minute load average.
    pub load_avg_5m: String,
    /// 15-minute load average.
    pub load_avg_15m: String,
}

impl NodeStats {
    /// Formats a node status.
    pub fn from_status(s: &pvekit_core::types::NodeStatus) -> NodeStats {
        // kversion is "<sysname> <release> <version>": keep the release.
        let kernel_version = s
            .kversion
            .split_whitespace()
            .nth(1)
            .unwrap_or(&s.kversion)
            .to_string();
        // pveversion is "pve-manager/<version>/<repoid>": keep the version.
        let pve_version = s
            .pveversion
            .split('/')
            .nth(1)
            .unwrap_or(&s.pveversion)
            .to_string();
        let load = |i: usize| format!("{:.2}", s.loadavg[i]);
        NodeStats {
            kernel_version,
            pve_version,
            cpu_usage: format::pct(s.cpu, 2),
            cpu_model: s.cpuinfo.model.clone(),
            mem_usage: format::iec(s.memory.used),
            mem_total: format::iec(s.memory.total),
            mem_pct: format::pct(format::ratio(s.memory.used, s.memory.total), 2),
            rootfs_usage: format::iec(s.rootfs.used),
            rootfs_total: format::iec(s.rootfs.total),
            rootfs_pct: format::pct(format::ratio(s.rootfs.used, s.rootfs.total), 2),
            uptime: format::uptime(s.uptime),
            load_avg_1m: load(0),
            load_avg_5m: load(1),
            load_avg_15m: load(2),
        }
    }
}

/// Repeats `fetch` at once and then every `interval`, ending when dropped.
fn every<T, F, Fut>(interval: Duration, fetch: F) -> impl Stream<Item = Result<T>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let interval = interval.max(crate::MIN_INTERVAL);
    futures_util::stream::unfold((fetch, true), move |(fetch, first)| async move {
        if !first {
            tokio::time::sleep(interval).await;
        }
        let item = fetch().await;
        Some((item, (fetch, false)))
    })
}

impl Guest {
    /// The guest's RRD history: one slot per resolution step over the time frame, oldest
    /// first, each averaged (or, with [`RrdCf::Max`], peaked) over its step. Slots without
    /// data (node down, guest not yet created) have only their time.
    ///
    /// Proxmox VE keeps one RRD file per VMID, and its container method reads it for any
    /// VMID, so QEMU guests are read through the same method.
    ///
    /// # Errors
    /// [`Error::Api`](crate::Error::Api) with the server's `RRD error` when the VMID has no
    /// history; as [`Guest::status`].
    pub async fn rrddata(&self, timeframe: RrdTimeframe, cf: RrdCf) -> Result<Vec<RrdPoint>> {
        self.check_vmid()?;
        let path = pvekit_core::path::api_path([
            "nodes",
            self.node().name(),
            "lxc",
            &self.vmid().to_string(),
            "rrddata",
        ]);
        let params = [
            ("timeframe", timeframe.as_str().to_string()),
            ("cf", cf.as_str().to_string()),
        ];
        self.node().client().get_with(&path, &params).await
    }

    /// One stats line: `STATUS|CPU%|MEM USAGE/LIMIT|MEM%|NET I/O|BLOCK I/O`.
    ///
    /// # Errors
    /// As [`Guest::status`].
    pub async fn stats_line(&self) -> Result<String> {
        let s = self.status().await?;
        Ok(StatsFigures::from_status(&s).line())
    }

    /// Stats lines: one at once, then one every `interval`, until the stream is dropped.
    pub fn stats_stream(&self, interval: Duration) -> impl Stream<Item = Result<String>> + use<> {
        let guest = self.clone();
        every(interval, move || {
            let guest = guest.clone();
            async move { guest.stats_line().await }
        })
    }
}

impl Node {
    /// The node's figures, formatted.
    ///
    /// # Errors
    /// As [`Node::status`].
    pub async fn stats(&self) -> Result<NodeStats> {
        Ok(NodeStats::from_status(&self.status().await?))
    }

    /// Node figures: one at once, then one every `interval` (1 s by default in GoDoxy), until
    /// the stream is dropped.
    pub fn stats_stream(
        &self,
        interval: Duration,
    ) -> impl Stream<Item = Result<NodeStats>> + use<> {
        let node = self.clone();
        every(interval, move || {
            let node = node.clone();
            async move { node.stats().await }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvekit_core::types::NodeStatus;

    #[test]
    fn node_stats_format() {
        let s: NodeStatus = pvekit_core::perl::from_value(serde_json::json!({
            "uptime": 3 * 86400 + 4 * 3600 + 5 * 60,
            "cpu": 0.1234,
            "loadavg": ["0.15", "0.25", "0.30"],
            "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z) x86_64",
            "pveversion": "pve-manager/9.1.2/9a2112e1",
            "cpuinfo": {"model": "AMD EPYC 7302P", "cpus": 32, "sockets": 1, "cores": 16, "mhz": "3000.000"},
            "memory": {"total": 68719476736u64, "used": 34359738368u64, "free": 0},
            "rootfs": {"total": 107374182400u64, "used": 10737418240u64, "avail": 0}
        }))
        .unwrap();
        let n = NodeStats::from_status(&s);
        assert_eq!(n.kernel_version, "6.14.8-2-pve");
        assert_eq!(n.pve_version, "9.1.2");
        assert_eq!(n.cpu_usage, "12.34%");
        assert_eq!(n.mem_usage, "32GiB");
        assert_eq!(n.mem_total, "64GiB");
        assert_eq!(n.mem_pct, "50.00%");
        assert_eq!(n.rootfs_pct, "10.00%");
        assert_eq!(n.uptime, "3d4h5m");
        assert_eq!(
            (n.load_avg_1m.as_str(), n.load_avg_15m.as_str()),
            ("0.15", "0.30")
        );
    }
}
