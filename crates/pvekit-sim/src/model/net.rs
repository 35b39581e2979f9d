//! Container networking: canonical `netN` strings and the interfaces a running container shows.

use std::collections::BTreeMap;

use super::counters::mix;
use super::{Guest, Iface};

/// Prints a netN property string the way Proxmox VE does: `name=` first, the rest sorted.
pub(crate) fn print_net(mut pairs: Vec<(&str, String)>) -> String {
    pairs.sort_by(|a, b| {
        (a.0 != "name")
            .cmp(&(b.0 != "name"))
            .then_with(|| a.0.cmp(b.0))
    });
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a property string into a key map (bare values are ignored).
pub(crate) fn parse_props(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A Proxmox-style MAC (`BC:24:11:` prefix, upper case) derived from a seed.
pub(crate) fn mac(seed: u64) -> String {
    let r = mix(seed).to_be_bytes();
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", r[0], r[1], r[2])
}

fn mac_bytes(mac: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = mac.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The EUI-64 interface identifier of a MAC, as the last four IPv6 groups.
fn eui64(mac: &str) -> String {
    let m = mac_bytes(mac).unwrap_or([2, 0, 0, 0, 0, 1]);
    format!(
        "{:x}:{:x}:{:x}:{:x}",
        (u16::from(m[0] ^ 0x02) << 8) | u16::from(m[1]),
        (u16::from(m[2]) << 8) | 0xff,
        0xfe00 | u16::from(m[3]),
        (u16::from(m[4]) << 8) | u16::from(m[5])
    )
}

/// The loopback interface every guest has.
fn loopback() -> Iface {
    Iface {
        name: "lo".to_string(),
        hwaddr: "00:00:00:00:00:00".to_string(),
        addrs: vec!["127.0.0.1/8".to_string(), "::1/128".to_string()],
    }
}

/// The guest's `netN` values in numeric order of N.
fn nets_in_order(g: &Guest) -> Vec<(u32, &String)> {
    let mut nets: Vec<(u32, &String)> = g
        .config
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("net")?.parse::<u32>().ok().map(|i| (i, v)))
        .collect();
    nets.sort_by_key(|(i, _)| *i);
    nets
}

/// The interfaces `ip a` shows in a running container: `lo`, one per netN, and for docker
/// hosts `docker0`, a `br-*` bridge and `veth*` peers.
pub(crate) fn interfaces(g: &Guest) -> Vec<Iface> {
    if let Some(over) = &g.interfaces {
        return over.clone();
    }
    let mut out = vec![loopback()];
    for (i, net) in nets_in_order(g) {
        let p = parse_props(net);
        let name = p.get("name").cloned().unwrap_or_else(|| format!("eth{i}"));
        let hw = p
            .get("hwaddr")
            .cloned()
            .unwrap_or_else(|| mac(g.seed ^ u64::from(i)));
        let mut addrs = Vec::new();
        match p.get("ip").map(String::as_str) {
            Some("dhcp") => addrs.push(format!(
                "192.168.{}.{}/24",
                50 + i,
                100 + (mix(g.seed ^ 0xd4c9 ^ u64::from(i)) % 150)
            )),
            Some("manual") | None => {}
            Some(cidr) => addrs.push(cidr.to_string()),
        }
        match p.get("ip6").map(String::as_str) {
            Some("auto") => addrs.push(format!("2001:db8:{:x}::{}/64", 0x100 + i, eui64(&hw))),
            Some("dhcp") => addrs.push(format!(
                "fd00:{:x}::{:x}/128",
                0x50 + i,
                mix(g.seed ^ 0x6dc9 ^ u64::from(i)) % 0xffff
            )),
            Some("manual") | None => {}
            Some(cidr) => addrs.push(cidr.to_string()),
        }
        addrs.push(format!("fe80::{}/64", eui64(&hw)));
        out.push(Iface {
            name,
            hwaddr: hw.to_lowercase(),
            addrs,
        });
    }
    if g.docker {
        let r = mix(g.seed ^ 0xd0c);
        let b = r.to_be_bytes();
        let docker_mac = format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3]);
        out.push(Iface {
            name: "docker0".to_string(),
            addrs: vec![
                "172.17.0.1/16".to_string(),
                format!("fe80::{}/64", eui64(&docker_mac)),
            ],
            hwaddr: docker_mac,
        });
        let br_mac = format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", b[4], b[5], b[6], b[7]);
        out.push(Iface {
            name: format!("br-{:012x}", r >> 16),
            addrs: vec![
                "172.18.0.1/16".to_string(),
                format!("fe80::{}/64", eui64(&br_mac)),
            ],
            hwaddr: br_mac,
        });
        for k in 0..(1 + r % 3) {
            let v = mix(r ^ k).to_be_bytes();
            let vmac = format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                (v[0] & 0xfe) | 0x02,
                v[1],
                v[2],
                v[3],
                v[4],
                v[5]
            );
            out.push(Iface {
                name: format!("veth{:07x}", mix(r ^ (k + 100)) >> 36),
                addrs: vec![format!("fe80::{}/64", eui64(&vmac))],
                hwaddr: vmac,
            });
        }
    }
    out
}

/// The NIC model keys of a QEMU netN string (`virtio=<MAC>,bridge=...`).
const QEMU_NIC_MODELS: &[&str] = &[
    "virtio",
    "e1000",
    "e1000e",
    "rtl8139",
    "vmxnet3",
    "ne2k_pci",
    "pcnet",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
];

/// The interfaces the QEMU guest agent of a running Linux VM reports: `lo` and one `ens18`,
/// `ens19`, ... per netN, with a DHCP (or cloud-init `ipconfigN`) IPv4 address and a
/// link-local IPv6 address; a scenario's `interfaces` replace them.
pub(crate) fn agent_interfaces(g: &Guest) -> Vec<Iface> {
    if let Some(over) = &g.interfaces {
        return over.clone();
    }
    let mut out = vec![loopback()];
    for (i, net) in nets_in_order(g) {
        let p = parse_props(net);
        let hw = QEMU_NIC_MODELS
            .iter()
            .find_map(|m| p.get(*m))
            .cloned()
            .unwrap_or_else(|| mac(g.seed ^ u64::from(i)));
        let mut addrs = Vec::new();
        let cloud = g
            .config
            .get(&format!("ipconfig{i}"))
            .map(|c| parse_props(c))
            .unwrap_or_default();
        match cloud.get("ip").map(String::as_str) {
            Some(cidr) if cidr.contains('/') => addrs.push(cidr.to_string()),
            _ => addrs.push(format!(
                "192.168.{}.{}/24",
                50 + i,
                100 + (mix(g.seed ^ 0xd4c9 ^ u64::from(i)) % 150)
            )),
        }
        if let Some(cidr) = cloud.get("ip6").filter(|c| c.contains('/')) {
            addrs.push(cidr.clone());
        }
        addrs.push(format!("fe80::{}/64", eui64(&hw)));
        out.push(Iface {
            name: format!("ens{}", 18 + i),
            hwaddr: hw.to_lowercase(),
            addrs,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order() {
        let s = print_net(vec![
            ("type", "veth".into()),
            ("ip", "dhcp".into()),
            ("name", "eth0".into()),
            ("bridge", "vmbr0".into()),
        ]);
        assert_eq!(s, "name=eth0,bridge=vmbr0,ip=dhcp,type=veth");
    }

    #[test]
    fn link_local() {
        assert_eq!(eui64("BC:24:11:AA:BB:CC"), "be24:11ff:feaa:bbcc");
    }
}
