//! Property strings: the `key=value,key=value` values of config keys such as `net0`.
//!
//! Parsed the way pve-common does: split at commas, each part `key=value` or, for the default
//! key, a bare value. Keys may not repeat. Values cannot contain commas in the formats pvekit
//! reads, so no quoting is needed.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a property string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// A part has no `=` and there is no default key.
    #[error("'{0}' is not key=value")]
    NotKeyValue(String),
    /// A key appears twice.
    #[error("duplicate key '{0}'")]
    Duplicate(String),
    /// A value does not have the expected form.
    #[error("invalid value for {key}: '{value}'")]
    Invalid {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
}

/// Splits a property string into its keys and values. A bare part is stored under
/// `default_key` when given.
pub fn parse(
    s: &str,
    default_key: Option<&str>,
) -> Result<BTreeMap<String, String>, PropertyError> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match default_key {
                Some(d) => (d, part),
                None => return Err(PropertyError::NotKeyValue(part.to_string())),
            },
        };
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(PropertyError::Duplicate(k.to_string()));
        }
    }
    Ok(out)
}

/// The IPv4 setting of a container NIC (`ip=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Config {
    /// A static address with its prefix length.
    Static(Ipv4Addr, u8),
    /// Assigned by DHCP: unknown from the config.
    Dhcp,
    /// Configured inside the container: unknown from the config.
    Manual,
}

/// The IPv6 setting of a container NIC (`ip6=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Config {
    /// A static address with its prefix length.
    Static(Ipv6Addr, u8),
    /// Assigned by DHCPv6.
    Dhcp,
    /// SLAAC.
    Auto,
    /// Configured inside the container.
    Manual,
}

/// A container NIC, `netN` of an LXC config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxcNet {
    /// Interface name inside the container.
    pub name: String,
    /// Host bridge.
    pub bridge: Option<String>,
    /// MAC address.
    pub hwaddr: Option<String>,
    /// IPv4 setting.
    pub ip: Option<Ipv4Config>,
    /// IPv6 setting.
    pub ip6: Option<Ipv6Config>,
}

impl LxcNet {
    /// Parses a `netN` value such as `name=eth0,bridge=vmbr0,ip=10.0.0.5/24,ip6=auto,type=veth`.
    pub fn parse(s: &str) -> Result<Self, PropertyError> {
        let map = parse(s, None)?;
        let invalid = |k: &str, v: &str| PropertyError::Invalid {
            key: k.into(),
            value: v.into(),
        };
        let name = map
            .get("name")
            .cloned()
            .ok_or_else(|| invalid("name", ""))?;
        let ip = match map.get("ip").map(String::as_str) {
            None => None,
            Some("dhcp") => Some(Ipv4Config::Dhcp),
            Some("manual") => Some(Ipv4Config::Manual),
            Some(v) => {
                let (a, p) = cidr(v).ok_or_else(|| invalid("ip", v))?;
                match a {
                    IpAddr::V4(a) if (8..=32).contains(&p) => Some(Ipv4Config::Static(a, p)),
                    _ => return Err(invalid("ip", v)),
                }
            }
        };
        let ip6 = match map.get("ip6").map(String::as_str) {
            None => None,
            Some("dhcp") => Some(Ipv6Config::Dhcp),
            Some("auto") => Some(Ipv6Config::Auto),
            Some("manual") => Some(Ipv6Config::Manual),
            Some(v) => {
                let (a, p) = cidr(v).ok_or_else(|| invalid("ip6", v))?;
                match a {
                    IpAddr::V6(a) if (8..=128).contains(&p) => Some(Ipv6Config::Static(a, p)),
                    _ => return Err(invalid("ip6", v)),
                }
            }
        };
        Ok(LxcNet {
            name,
            bridge: map.get("bridge").cloned(),
            hwaddr: map.get("hwaddr").cloned(),
            ip,
            ip6,
        })
    }

    /// The static addresses of this NIC, IPv4 first.
    pub fn static_ips(&self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        if let Some(Ipv4Config::Static(a, _)) = self.ip {
            out.push(IpAddr::V4(a));
        }
        if let Some(Ipv6Config::Static(a, _)) = self.ip6 {
            out.push(IpAddr::V6(a));
        }
        out
    }
}

/// Parses `addr/prefix`.
pub fn cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = s.split_once('/')?;
    Some((a.parse().ok()?, p.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_net() {
        let n = LxcNet::parse(
            "name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,hwaddr=BC:24:11:AA:BB:CC,ip=192.168.1.50/24,ip6=auto,type=veth",
        )
        .unwrap();
        assert_eq!(n.name, "eth0");
        assert_eq!(
            n.ip,
            Some(Ipv4Config::Static("192.168.1.50".parse().unwrap(), 24))
        );
        assert_eq!(n.ip6, Some(Ipv6Config::Auto));
        assert_eq!(
            n.static_ips(),
            vec!["192.168.1.50".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn dhcp_and_v6() {
        let n = LxcNet::parse("name=eth1,ip=dhcp,ip6=2001:db8::5/64").unwrap();
        assert_eq!(n.ip, Some(Ipv4Config::Dhcp));
        assert_eq!(
            n.static_ips(),
            vec!["2001:db8::5".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(LxcNet::parse("bridge=vmbr0").is_err());
        assert!(LxcNet::parse("name=eth0,ip=10.0.0.1").is_err());
        assert!(LxcNet::parse("name=eth0,ip=10.0.0.1/64").is_err());
        assert!(LxcNet::parse("name=eth0,ip=::1/64").is_err());
        assert!(LxcNet::parse("name=eth0,name=eth1").is_err());
        // A substring match would find "ip=" inside "gw-ip=..." style keys; a parser does not.
        let n = LxcNet::parse("name=eth0,xip=10.0.0.1/24").unwrap();
        assert!(n.static_ips().is_empty());
    }

    #[test]
    fn default_key() {
        let m = parse("local-lvm:vm-100-disk-0,size=8G", Some("volume")).unwrap();
        assert_eq!(m["volume"], "local-lvm:vm-100-disk-0");
        assert_eq!(m["size"], "8G");
    }
}
