//! A deterministic cluster generated from a seed.
//!
//! Nodes `pve1..pveN` (10.10.10.N), the last one offline when N >= 4; containers and VMs spread
//! over the nodes with VMIDs from 100 upward; some running, some stopped, some templates;
//! container configs with the keys real ones carry and netN strings covering static IPv4/IPv6
//! (private and public), DHCP, SLAAC, manual, and several NICs.

use std::collections::BTreeMap;

use super::counters::{Rng, mix};
use super::net::{mac, print_net};
use super::{Guest, Model, Node};
use pvekit_core::types::GuestKind;

const CLUSTER_NAMES: &[&str] = &["homelab", "prod-east", "lab", "pvecluster", "dc1"];
const HOSTNAMES: &[&str] = &[
    "web", "db", "cache", "proxy", "mail", "dns", "git", "ci", "monitor", "backup", "files", "vpn",
    "media", "build", "docker", "api", "auth", "log",
];
const VM_NAMES: &[&str] = &[
    "win-srv", "k8s-node", "router", "desktop", "pbs", "nas", "gw",
];
const OSTYPES: &[&str] = &[
    "debian",
    "debian",
    "ubuntu",
    "ubuntu",
    "alpine",
    "centos",
    "fedora",
    "archlinux",
];
const TAGS: &[&str] = &["prod", "dev", "web", "db", "internal", "public", "critical"];

/// A node with the figures of a typical small server.
pub(crate) fn make_node(
    name: &str,
    ip: &str,
    online: bool,
    nodeid: u32,
    seed: u64,
    now: i64,
) -> Node {
    let mut r = Rng(seed ^ 0x4e0de);
    let cpus = *r.pick(&[8u32, 12, 16, 24, 32]);
    Node {
        name: name.to_string(),
        ip: ip.to_string(),
        online,
        nodeid,
        boot_time: now - r.range(3 * 3600, 90 * 86400) as i64,
        cpus,
        sockets: if cpus >= 24 { 2 } else { 1 },
        mem_total: *r.pick(&[32u64, 64, 128, 256]) << 30,
        rootfs_total: *r.pick(&[64u64, 100, 250]) << 30,
        level: String::new(),
        seed: mix(seed),
        pveproxy: false,
    }
}

/// Fills the LXC config keys a container always has, keeping those already set.
pub(crate) fn lxc_defaults(vmid: u32, config: &mut BTreeMap<String, String>) {
    let defaults = [
        ("arch", "amd64".to_string()),
        ("cores", "1".to_string()),
        ("hostname", format!("CT{vmid}")),
        ("memory", "512".to_string()),
        ("ostype", "debian".to_string()),
        ("rootfs", format!("local-lvm:vm-{vmid}-disk-0,size=8G")),
        ("swap", "512".to_string()),
        ("unprivileged", "1".to_string()),
    ];
    for (k, v) in defaults {
        config.entry(k.to_string()).or_insert(v);
    }
}

/// Fills the QEMU config keys a VM always has, keeping those already set.
pub(crate) fn qemu_defaults(vmid: u32, seed: u64, config: &mut BTreeMap<String, String>) {
    let a = mix(seed);
    let b = mix(a);
    let uuid = |x: u64, y: u64| {
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            x >> 32,
            (x >> 16) & 0xffff,
            x & 0xfff,
            y >> 52,
            y & 0xffff_ffff_ffff
        )
    };
    let defaults = [
        ("boot", "order=scsi0;net0".to_string()),
        ("cores", "2".to_string()),
        ("cpu", "x86-64-v2-AES".to_string()),
        ("memory", "2048".to_string()),
        ("meta", "creation-qemu=9.2.0,ctime=1735689600".to_string()),
        ("name", format!("vm{vmid}")),
        (
            "net0",
            format!("virtio={},bridge=vmbr0,firewall=1", mac(seed ^ 7)),
        ),
        ("numa", "0".to_string()),
        ("ostype", "l26".to_string()),
        (
            "scsi0",
            format!("local-lvm:vm-{vmid}-disk-0,iothread=1,size=32G"),
        ),
        ("scsihw", "virtio-scsi-single".to_string()),
        ("smbios1", format!("uuid={}", uuid(a, b))),
        ("sockets", "1".to_string()),
        ("vmgenid", uuid(b, mix(b))),
    ];
    for (k, v) in defaults {
        config.entry(k.to_string()).or_insert(v);
    }
}

/// One generated container network interface.
fn gen_net(r: &mut Rng, vmid: u32, i: u32, seed: u64) -> String {
    let mut p: Vec<(&str, String)> = vec![
        ("name", format!("eth{i}")),
        (
            "bridge",
            if i == 0 {
                "vmbr0".into()
            } else {
                format!("vmbr{i}")
            },
        ),
        ("hwaddr", mac(seed ^ u64::from(i))),
        ("type", "veth".into()),
    ];
    if r.chance(0.6) {
        p.push(("firewall", "1".into()));
    }
    let host = 10 + (vmid % 240);
    match r.range(0, 9) {
        0..=3 => {
            p.push(("ip", format!("192.168.{}.{host}/24", 10 + i)));
            p.push(("gw", format!("192.168.{}.1", 10 + i)));
        }
        4 => {
            // Public address (documentation range, but globally scoped).
            p.push(("ip", format!("203.0.113.{}/24", host % 250 + 2)));
            p.push(("gw", "203.0.113.1".into()));
        }
        5 => {
            p.push((
                "ip",
                format!("10.{}.{}.{}/16", 20 + i, vmid / 250 % 250, host),
            ));
        }
        6..=8 => p.push(("ip", "dhcp".into())),
        _ => p.push(("ip", "manual".into())),
    }
    match r.range(0, 9) {
        0 | 1 => {
            p.push(("ip6", format!("2001:db8:{:x}::{:x}/64", 0x10 + i, vmid)));
            p.push(("gw6", format!("2001:db8:{:x}::1", 0x10 + i)));
        }
        2 => p.push(("ip6", format!("fd12:3456:789a:{i}::{:x}/64", vmid))),
        3..=5 => p.push(("ip6", "auto".into())),
        6 => p.push(("ip6", "dhcp".into())),
        7 => p.push(("ip6", "manual".into())),
        _ => {}
    }
    if r.chance(0.15) {
        p.push(("tag", r.range(2, 4000).to_string()));
    }
    if r.chance(0.1) {
        p.push(("mtu", "1450".into()));
    }
    if r.chance(0.05) {
        p.push(("rate", "50".into()));
    }
    print_net(p)
}

/// Generates the cluster for a seed.
pub(crate) fn generate(seed: u64, nodes: usize, containers: usize, vms: usize, now: i64) -> Model {
    let mut r = Rng(seed);
    let nodes = nodes.max(1);
    let cluster = r.pick(CLUSTER_NAMES).to_string();
    let node_list: Vec<Node> = (1..=nodes)
        .map(|i| {
            let online = !(nodes >= 4 && i == nodes);
            make_node(
                &format!("pve{i}"),
                &format!("10.10.10.{i}"),
                online,
                i as u32,
                seed.wrapping_add(i as u64 * 7919),
                now,
            )
        })
        .collect();

    let mut kinds: Vec<GuestKind> = std::iter::repeat_n(GuestKind::Lxc, containers)
        .chain(std::iter::repeat_n(GuestKind::Qemu, vms))
        .collect();
    // Fisher-Yates with the seeded generator, so the interleaving is deterministic.
    for i in (1..kinds.len()).rev() {
        let j = r.range(0, i as u64) as usize;
        kinds.swap(i, j);
    }
    let mut guests = Vec::with_capacity(kinds.len());
    let mut vmid: u32 = 100;
    for kind in kinds {
        let gseed = mix(seed ^ (u64::from(vmid) << 20));
        let node = &node_list[r.range(0, nodes as u64 - 1) as usize];
        let template = r.chance(0.08);
        let running = node.online && !template && r.chance(0.65);
        let mut config = BTreeMap::new();
        let mut docker = false;
        match kind {
            GuestKind::Lxc => {
                let host = format!("{}{}", r.pick(HOSTNAMES), vmid % 100);
                config.insert(
                    "hostname".into(),
                    if template {
                        format!("tpl-{host}")
                    } else {
                        host.clone()
                    },
                );
                config.insert(
                    "cores".into(),
                    r.pick(&["1", "1", "2", "2", "4", "8"]).to_string(),
                );
                config.insert(
                    "memory".into(),
                    r.pick(&["512", "1024", "2048", "4096", "8192"]).to_string(),
                );
                config.insert(
                    "swap".into(),
                    r.pick(&["0", "512", "512", "1024"]).to_string(),
                );
                config.insert("ostype".into(), r.pick(OSTYPES).to_string());
                config.insert(
                    "rootfs".into(),
                    format!(
                        "local-lvm:vm-{vmid}-disk-0,size={}G",
                        r.pick(&[4, 8, 8, 16, 32])
                    ),
                );
                config.insert(
                    "onboot".into(),
                    if r.chance(0.5) { "1" } else { "0" }.into(),
                );
                config.insert(
                    "unprivileged".into(),
                    if r.chance(0.85) { "1" } else { "0" }.into(),
                );
                docker = host.starts_with("docker") || r.chance(0.12);
                let features = if docker {
                    "keyctl=1,nesting=1"
                } else if r.chance(0.5) {
                    "nesting=1"
                } else {
                    ""
                };
                if !features.is_empty() {
                    config.insert("features".into(), features.into());
                }
                let nics = *r.pick(&[1u32, 1, 1, 1, 2, 2, 3]);
                for i in 0..nics {
                    config.insert(format!("net{i}"), gen_net(&mut r, vmid, i, gseed));
                }
                if r.chance(0.2) {
                    config.insert("startup".into(), format!("order={},up=30", r.range(1, 9)));
                }
                if r.chance(0.2) {
                    config.insert(
                        "description".into(),
                        format!("Container {vmid}\nManaged by pvekit-sim\n"),
                    );
                }
                if r.chance(0.15) {
                    config.insert("cpulimit".into(), r.pick(&["0.5", "1.5", "2"]).to_string());
                }
                lxc_defaults(vmid, &mut config);
            }
            GuestKind::Qemu => {
                config.insert(
                    "name".into(),
                    format!("{}-{}", r.pick(VM_NAMES), vmid % 100),
                );
                config.insert("cores".into(), r.pick(&["1", "2", "4", "8"]).to_string());
                config.insert(
                    "memory".into(),
                    r.pick(&["1024", "2048", "4096", "8192", "16384"])
                        .to_string(),
                );
                if r.chance(0.6) {
                    config.insert("agent".into(), "1".into());
                }
                if r.chance(0.3) {
                    config.insert("serial0".into(), "socket".into());
                }
                qemu_defaults(vmid, gseed, &mut config);
            }
        }
        if r.chance(0.3) {
            let a = r.pick(TAGS);
            let b = r.pick(TAGS);
            let tags = if a == b {
                a.to_string()
            } else {
                format!("{a};{b}")
            };
            config.insert("tags".into(), tags);
        }
        if template {
            config.insert("template".into(), "1".into());
        }
        let lock = (!template && r.chance(0.03)).then(|| "backup".to_string());
        if let Some(l) = &lock {
            config.insert("lock".into(), l.clone());
        }
        let started_at = running.then(|| now - r.range(60, 40 * 86400) as i64);
        guests.push(Guest {
            vmid,
            kind,
            node: node.name.clone(),
            running,
            template,
            lock,
            started_at,
            started_ms: started_at.map(|s| s * 1000),
            config,
            interfaces: None,
            docker,
            pid: 1000 + (mix(gseed) % 3_000_000) as u32,
            seed: gseed,
            paused: false,
            checkpoint: false,
            start_error: None,
            task_secs: None,
            pinned: None,
            agent_running: true,
            services: Vec::new(),
        });
        vmid += r.range(1, 3) as u32;
    }
    Model::new(Some(cluster), node_list, guests, seed)
}
