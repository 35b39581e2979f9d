//! Live-looking figures computed from state and the clock.
//!
//! Counters (traffic, disk I/O) grow monotonically with uptime; gauges (CPU, memory, load)
//! drift smoothly along sine waves with per-guest phases. Everything is a pure function of the
//! guest's seed, its start time and "now", so the same clock gives the same figures. A scenario
//! may pin some figures of a running guest; stopped guests report zeros as real ones do.

use super::{Guest, Node};
use pvekit_core::types::GuestKind;

/// SplitMix64: a tiny deterministic generator for seeds and derived values.
#[derive(Debug, Clone)]
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// The SplitMix64 finaliser.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How often a node's `pvestatd` broadcasts its own and its guests' figures (pve-manager
/// `PVE/Service/pvestatd.pm`: `$updatetime = 10`).
pub(crate) const PVESTATD_INTERVAL: f64 = 10.0;

/// The time of the figures that views built from the RRD broadcasts show at `now`: the last
/// `pvestatd` cycle of the node, each node at its own phase. `/cluster/resources`, `/nodes`
/// and pool members read figures from `rrd_dump` (pve-manager `PVE/API2Tools.pm`,
/// `extract_vm_stats` and `extract_node_stats`), so they stay the same for 10 seconds, while
/// a guest's or node's `status/current` reads them live. (The simulator keeps a guest's
/// `status` in those views live, which a real cluster also takes from the broadcast.)
pub(crate) fn rrd_time(node: &str, now: f64) -> f64 {
    let seed = node.bytes().fold(0u64, |h, b| mix(h ^ u64::from(b)));
    let phase = unit(seed, 11) * PVESTATD_INTERVAL;
    ((now - phase) / PVESTATD_INTERVAL).floor() * PVESTATD_INTERVAL + phase
}

/// A stable value in `[0, 1)` for (seed, salt).
fn unit(seed: u64, salt: u64) -> f64 {
    (mix(seed ^ salt.wrapping_mul(0x2545_F491_4F6C_DD1D)) >> 11) as f64 / (1u64 << 53) as f64
}

/// A smooth wave in `[0, 1]`.
fn wave(seed: u64, salt: u64, t: f64, period: f64) -> f64 {
    let phase = unit(seed, salt) * std::f64::consts::TAU;
    0.5 + 0.5 * (t / period * std::f64::consts::TAU + phase).sin()
}

/// A monotonically growing counter: `rate * (t + wobble)`, whose derivative stays positive.
fn counter(seed: u64, salt: u64, uptime: f64, rate: f64) -> u64 {
    let phase = unit(seed, salt) * std::f64::consts::TAU;
    let wobble = 60.0 * ((uptime / 240.0 + phase).sin() - phase.sin());
    (rate * (uptime + wobble)).max(0.0) as u64
}

/// Parses a PVE size (`8G`, `512M`, `1T`, plain bytes) into bytes.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1u64 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let v: f64 = num.parse().ok()?;
    Some((v * mult as f64) as u64)
}

/// The `size=` of a disk property string.
pub(crate) fn disk_size(prop: &str) -> Option<u64> {
    prop.split(',')
        .find_map(|kv| kv.strip_prefix("size="))
        .and_then(parse_size)
}

/// The names of [`GuestStats::pressure`]'s figures, as status/current and RRD data call them.
pub(crate) const PRESSURE_NAMES: [&str; 6] = [
    "pressurecpusome",
    "pressurecpufull",
    "pressureiosome",
    "pressureiofull",
    "pressurememorysome",
    "pressurememoryfull",
];

/// Figures of a guest at a moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuestStats {
    pub uptime: u64,
    pub cpu: f64,
    pub cpus: f64,
    pub mem: u64,
    pub maxmem: u64,
    pub swap: u64,
    pub maxswap: u64,
    pub disk: u64,
    pub maxdisk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    /// cpu some/full, io some/full, memory some/full.
    pub pressure: [f64; 6],
}

/// Computes a guest's figures at `now` (simulator clock, seconds).
pub(crate) fn guest(g: &Guest, host_cpus: u32, now: f64) -> GuestStats {
    let seed = g.seed;
    let cpus = g
        .cfg_u64("cores")
        .map(|c| (c * g.cfg_u64("sockets").unwrap_or(1)) as f64)
        .or_else(|| g.config.get("cpulimit").and_then(|c| c.parse().ok()))
        .unwrap_or(host_cpus as f64);
    let maxmem = g.cfg_u64("memory").unwrap_or(512) << 20;
    let maxswap = match g.kind {
        GuestKind::Lxc => g.cfg_u64("swap").unwrap_or(512) << 20,
        GuestKind::Qemu => 0,
    };
    let maxdisk = match g.kind {
        GuestKind::Lxc => g
            .config
            .get("rootfs")
            .and_then(|r| disk_size(r))
            .unwrap_or(4 << 30),
        GuestKind::Qemu => ["scsi0", "virtio0", "sata0", "ide0"]
            .iter()
            .find_map(|k| g.config.get(*k).and_then(|d| disk_size(d)))
            .unwrap_or(0),
    };
    let mut st = GuestStats {
        cpus,
        maxmem,
        maxswap,
        maxdisk,
        ..GuestStats::default()
    };
    let Some(started) = g.started_at.filter(|_| g.running) else {
        return st;
    };
    let up = (now - started as f64).max(0.0);
    st.uptime = up as u64;
    let busy = unit(seed, 1) * 0.35;
    st.cpu = (busy * (0.3 + 0.7 * wave(seed, 2, now, 600.0)) + 0.002).min(1.0);
    let base_mem = 0.15 + 0.45 * unit(seed, 3);
    st.mem = (maxmem as f64 * (base_mem + 0.08 * wave(seed, 4, now, 900.0))) as u64;
    if maxswap > 0 && unit(seed, 5) < 0.3 {
        st.swap = (maxswap as f64 * 0.05 * wave(seed, 6, now, 3600.0)) as u64;
    }
    if g.kind == GuestKind::Lxc {
        let fill = 0.1 + 0.5 * unit(seed, 7);
        st.disk = ((maxdisk as f64) * fill) as u64 + (up as u64 * 64).min(maxdisk / 10);
    }
    let rate = 2_000.0 + 200_000.0 * unit(seed, 8);
    st.netin = counter(seed, 9, up, rate);
    st.netout = counter(seed, 10, up, rate * (0.2 + unit(seed, 11)));
    st.diskread = counter(seed, 12, up, 5_000.0 + 80_000.0 * unit(seed, 13)) + 12_000_000;
    st.diskwrite = counter(seed, 14, up, 3_000.0 + 60_000.0 * unit(seed, 15)) + 4_000_000;
    let p = st.cpu * 20.0;
    st.pressure = [
        p * wave(seed, 16, now, 300.0),
        p * 0.5 * wave(seed, 17, now, 300.0),
        2.0 * wave(seed, 18, now, 500.0),
        1.0 * wave(seed, 19, now, 500.0),
        0.0,
        0.0,
    ];
    if g.paused {
        st.cpu = 0.0;
    }
    if let Some(p) = &g.pinned {
        st.cpu = p.cpu.unwrap_or(st.cpu);
        st.mem = p.mem.unwrap_or(st.mem);
        if g.kind == GuestKind::Lxc {
            st.disk = p.disk.unwrap_or(st.disk);
        }
        st.netin = p.netin.unwrap_or(st.netin);
        st.netout = p.netout.unwrap_or(st.netout);
        st.diskread = p.diskread.unwrap_or(st.diskread);
        st.diskwrite = p.diskwrite.unwrap_or(st.diskwrite);
    }
    st
}

/// Figures of a node at a moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeStats {
    pub uptime: u64,
    pub cpu: f64,
    pub wait: f64,
    pub loadavg: [f64; 3],
    pub mem_used: u64,
    pub mem_free: u64,
    pub mem_available: u64,
    pub swap_total: u64,
    pub swap_used: u64,
    pub rootfs_used: u64,
    pub ksm_shared: u64,
}

/// Computes a node's figures at `now` (simulator clock, seconds).
pub(crate) fn node(n: &Node, now: f64) -> NodeStats {
    if !n.online {
        return NodeStats::default();
    }
    let seed = n.seed;
    let cpu = 0.02 + 0.3 * unit(seed, 1) * wave(seed, 2, now, 700.0);
    let load = |salt: u64, period: f64| {
        ((cpu * n.cpus as f64 * (0.8 + 0.4 * wave(seed, salt, now, period))) * 100.0).round()
            / 100.0
    };
    let used_frac = 0.25 + 0.35 * unit(seed, 3) + 0.05 * wave(seed, 4, now, 1200.0);
    let mem_used = (n.mem_total as f64 * used_frac) as u64;
    let mem_available = n.mem_total - mem_used;
    NodeStats {
        uptime: (now as i64 - n.boot_time).max(0) as u64,
        cpu,
        wait: 0.001 + 0.01 * wave(seed, 5, now, 300.0),
        loadavg: [load(6, 60.0), load(7, 300.0), load(8, 900.0)],
        mem_used,
        mem_free: mem_available / 3,
        mem_available,
        swap_total: 8 << 30,
        swap_used: (unit(seed, 9) * (64 << 20) as f64) as u64,
        rootfs_used: (n.rootfs_total as f64 * (0.1 + 0.2 * unit(seed, 10))) as u64
            + ((now as i64 - n.boot_time).max(0) as u64 * 4096).min(n.rootfs_total / 20),
        ksm_shared: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8G"), Some(8 << 30));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(
            disk_size("local-lvm:vm-100-disk-0,size=32G"),
            Some(32 << 30)
        );
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn counters_grow() {
        let mut last = 0;
        for t in 0..5000 {
            let c = counter(42, 1, t as f64 * 7.0, 1000.0);
            assert!(c >= last);
            last = c;
        }
    }
}
