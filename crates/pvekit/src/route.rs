//! Routes: the seed's `NodeConfig`, the binding of a reverse-proxy route to a Proxmox VE
//! node or guest, resolved against a watcher's [`Store`](crate::Store) without a request.
//!
//! `vmid` absent: the guest is found by reverse lookup of the route's IP, hostname (first
//! label) or alias; `vmid: 0`: the node itself; `vmid > 0`: that guest. GoDoxy writes it as
//! (godoxy `internal/proxmox/node.go`, `NodeConfig`):
//!
//! ```yaml
//! node: pve1
//! vmid: 101          # or 0, or absent
//! vmname: web        # filled by resolution
//! services: [nginx]  # `service: nginx` too
//! files: [/var/log/nginx/access.log]
//! ```
//!
//! ```no_run
//! # fn demo(store: &pvekit::Store) -> Result<(), pvekit::Error> {
//! use pvekit::{NodeConfig, RouteHints};
//! let config: NodeConfig = serde_json::from_str(r#"{"node": "pve1", "service": "nginx"}"#).unwrap();
//! let route = config.resolve(&store.snapshot(), &RouteHints::hostname("web.lan"))?;
//! println!("{} on {} ({})", route.vmid, route.node, route.vmname);
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use pvekit_core::command::validate_arg;
use pvekit_core::types::GuestKind;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::inventory::{GuestResource, Snapshot, describe_lookup, first_label};

/// A route's binding to a node or guest, with the services and files whose logs the route
/// shows. Reads from YAML or JSON as GoDoxy writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// The node (required).
    pub node: String,
    /// Absent: find the guest by the route's IP, hostname or alias; 0: the node; above 0:
    /// that guest. A number or a numeric string.
    #[serde(
        default,
        deserialize_with = "vmid",
        skip_serializing_if = "Option::is_none"
    )]
    pub vmid: Option<u64>,
    /// The guest's name; filled by resolution. When set and `vmid` is absent, the guest is
    /// looked up by this name first.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vmname: String,
    /// systemd units whose journal the route shows (`service` is accepted too, and a single
    /// string).
    #[serde(
        default,
        alias = "service",
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub services: Vec<String>,
    /// Files whose tail the route shows (`file` is accepted too, and a single string).
    #[serde(
        default,
        alias = "file",
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub files: Vec<String>,
}

/// A VMID as GoDoxy's `*int`: absent or null is `None`, else a number or numeric string of
/// at least 0.
fn vmid<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    let bad = |v: &dyn fmt::Display| {
        de::Error::custom(format!(
            "vmid {v} is not 0 (the node) or a guest id; leave it out to find the guest by the route's address"
        ))
    };
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => u64::try_from(n).map(Some).map_err(|_| bad(&n)),
        Some(Raw::Text(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad(&s)),
    }
}

/// A list of strings, or one string.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => Vec::new(),
        Some(Raw::One(s)) => vec![s],
        Some(Raw::Many(v)) => v,
    })
}

/// What a route knows of its upstream, for finding a guest when `vmid` is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteHints<'a> {
    /// The upstream's IP.
    pub ip: Option<IpAddr>,
    /// The upstream's host name (its first label is compared with guest names).
    pub hostname: Option<&'a str>,
    /// The route's alias.
    pub alias: Option<&'a str>,
}

impl<'a> RouteHints<'a> {
    /// Hints with an IP only.
    pub fn ip(ip: IpAddr) -> Self {
        RouteHints {
            ip: Some(ip),
            ..Default::default()
        }
    }

    /// Hints with a host name only.
    pub fn hostname(hostname: &'a str) -> Self {
        RouteHints {
            hostname: Some(hostname),
            ..Default::default()
        }
    }

    /// Hints with an alias only.
    pub fn alias(alias: &'a str) -> Self {
        RouteHints {
            alias: Some(alias),
            ..Default::default()
        }
    }
}

/// What a [`NodeConfig`] binds to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRoute {
    /// The node the route reaches: the configured one, or where the guest lives now (a
    /// migrated guest is followed).
    pub node: String,
    /// The guest id, 0 for the node itself.
    pub vmid: u64,
    /// The guest's name, or the node's for a node route.
    pub vmname: String,
    /// The guest, `None` for a node route.
    pub guest: Option<Arc<GuestResource>>,
    /// The services whose journal the route shows (validated).
    pub services: Vec<String>,
    /// The files whose tail the route shows (validated).
    pub files: Vec<String>,
}

impl ResolvedRoute {
    /// LXC or QEMU; `None` for a node route.
    pub fn kind(&self) -> Option<GuestKind> {
        self.guest.as_ref().map(|g| g.kind)
    }

    /// A handle on the guest through `client` (no I/O); `None` for a node route.
    pub fn guest_handle(&self, client: &Client) -> Option<Guest> {
        let g = self.guest.as_ref()?;
        let node = client.node(&self.node);
        Some(match g.kind {
            GuestKind::Lxc => node.lxc(g.vmid),
            GuestKind::Qemu => node.qemu(g.vmid),
        })
    }

    /// The config as resolution filled it (`node`, `vmid` and `vmname` set).
    pub fn config(&self) -> NodeConfig {
        NodeConfig {
            node: self.node.clone(),
            vmid: Some(self.vmid),
            vmname: self.vmname.clone(),
            services: self.services.clone(),
            files: self.files.clone(),
        }
    }
}

impl NodeConfig {
    /// Resolves the binding against a snapshot (a [`crate::Store`]'s or an
    /// [`crate::Inventory`]'s); no request is sent.
    ///
    /// # Errors
    /// [`Error::NodeNotFound`] for a node the cluster does not have;
    /// [`Error::ResourceNotFound`] for a guest that is not there (or that this login may not
    /// audit); [`Error::AmbiguousTarget`] when a name matches several guests, listing them;
    /// [`Error::InvalidInput`] for an empty node, or a service or file name that is unsafe
    /// in a command.
    pub fn resolve(&self, snapshot: &Snapshot, hints: &RouteHints<'_>) -> Result<ResolvedRoute> {
        if self.node.is_empty() {
            return Err(Error::invalid("a NodeConfig needs its node"));
        }
        for s in &self.services {
            validate_arg("service", s)?;
        }
        for f in &self.files {
            validate_arg("file", f)?;
        }
        let nodes = snapshot.nodes();
        if !nodes.iter().any(|n| n.name == self.node) {
            let mut available: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
            available.sort_unstable();
            return Err(Error::NodeNotFound {
                name: self.node.clone(),
                available: if available.is_empty() {
                    "none known yet".into()
                } else {
                    available.join(", ")
                },
            });
        }
        let guest = match self.vmid {
            Some(0) => {
                return Ok(ResolvedRoute {
                    node: self.node.clone(),
                    vmid: 0,
                    vmname: self.node.clone(),
                    guest: None,
                    services: self.services.clone(),
                    files: self.files.clone(),
                });
            }
            Some(vmid) => snapshot.get_vmid(vmid).cloned().ok_or_else(|| {
                Error::ResourceNotFound(format!(
                    "guest {vmid} (configured on node {}) is not in the cluster",
                    self.node
                ))
            })?,
            None => self.find(snapshot, hints)?,
        };
        Ok(ResolvedRoute {
            node: guest.node().to_string(),
            vmid: guest.vmid,
            vmname: guest.name().unwrap_or_default().to_string(),
            guest: Some(guest),
            services: self.services.clone(),
            files: self.files.clone(),
        })
    }

    /// The guest a route without `vmid` means: by IP, else by name (`vmname`, then the
    /// hostname's first label, then the alias). Of several guests with the name, those on
    /// the configured node are preferred.
    fn find(&self, snapshot: &Snapshot, hints: &RouteHints<'_>) -> Result<Arc<GuestResource>> {
        if let Some(g) = hints
            .ip
            .and_then(|ip| snapshot.reverse_lookup(Some(ip), None, None))
        {
            return Ok(g.clone());
        }
        let names = [
            Some(self.vmname.as_str()),
            hints.hostname.map(first_label),
            hints.alias,
        ];
        for name in names.into_iter().flatten().filter(|n| !n.is_empty()) {
            let named = snapshot.guests_named(name);
            let here: Vec<_> = named
                .iter()
                .filter(|g| g.node() == self.node)
                .cloned()
                .collect();
            let pick = if here.is_empty() { named } else { here };
            match pick.as_slice() {
                [] => continue,
                [one] => return Ok((*one).clone()),
                several => {
                    return Err(Error::AmbiguousTarget {
                        target: name.to_string(),
                        choices: several
                            .iter()
                            .map(|g| {
                                format!(
                                    "vmid {} on {} ({} {})",
                                    g.vmid,
                                    g.node(),
                                    g.kind,
                                    g.name().unwrap_or("-")
                                )
                            })
                            .collect(),
                    });
                }
            }
        }
        let vmname = (!self.vmname.is_empty()).then_some(self.vmname.as_str());
        Err(Error::ResourceNotFound(describe_lookup(
            hints.ip,
            vmname.or(hints.hostname),
            hints.alias,
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use pvekit_core::types::{ClusterNode, ClusterResource, ResourceStatus};

    use super::*;

    fn guest(kind: GuestKind, vmid: u64, node: &str, name: &str, ip: &str) -> Arc<GuestResource> {
        Arc::new(
            GuestResource::new(
                ClusterResource {
                    id: format!("{kind}/{vmid}").into(),
                    kind: kind.into(),
                    node: Some(node.into()),
                    vmid: Some(vmid),
                    name: Some(name.into()),
                    status: Some(ResourceStatus::Running),
                    ..Default::default()
                },
                vec![ip.parse().unwrap()],
            )
            .unwrap(),
        )
    }

    fn member(name: &str) -> ClusterNode {
        ClusterNode {
            id: format!("node/{name}"),
            name: name.into(),
            nodeid: 1,
            online: true,
            local: false,
            ip: None,
            level: None,
        }
    }

    fn lab() -> Snapshot {
        Snapshot::build(
            vec![
                guest(GuestKind::Lxc, 101, "pve1", "web", "10.0.0.101"),
                guest(GuestKind::Lxc, 102, "pve2", "db", "10.0.0.102"),
                guest(GuestKind::Qemu, 200, "pve2", "web", "10.0.0.200"),
                guest(GuestKind::Lxc, 103, "pve1", "cache", "10.0.0.103"),
                guest(GuestKind::Lxc, 104, "pve2", "cache", "10.0.0.104"),
            ],
            SystemTime::now(),
        )
        .with_nodes(vec![member("pve1"), member("pve2")])
    }

    fn config(yaml: &str) -> NodeConfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn reads_as_godoxy_writes_it() {
        let c = config("node: pve1\nvmid: 101\nservice: nginx\nfile: /var/log/a.log\n");
        assert_eq!(c.vmid, Some(101));
        assert_eq!(
            (c.services, c.files),
            (
                vec!["nginx".to_string()],
                vec!["/var/log/a.log".to_string()]
            )
        );
        let c = config("node: pve1\nservices: [nginx, php-fpm]\nfiles:\n  - /a\n  - /b\n");
        assert_eq!((c.vmid, c.services.len(), c.files.len()), (None, 2, 2));
        // vmid: 0 is the node, null is absent; JSON and numeric strings read too.
        assert_eq!(config("node: pve1\nvmid: 0\n").vmid, Some(0));
        assert_eq!(config("node: pve1\nvmid: null\n").vmid, None);
        let c: NodeConfig = serde_json::from_str(r#"{"node":"pve1","vmid":"102"}"#).unwrap();
        assert_eq!(c.vmid, Some(102));
        for bad in [
            "node: pve1\nvmid: -1\n",
            "node: pve1\nvmid: web\n",
            "vmid: 1\n",
        ] {
            assert!(serde_saphyr::from_str::<NodeConfig>(bad).is_err(), "{bad}");
        }
        // Written back without the empty fields.
        let c = config("node: pve1\nvmid: 101\n");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"node":"pve1","vmid":101}"#
        );
    }

    #[test]
    fn resolves_the_three_vmid_forms() {
        let snap = lab();
        let r = config("node: pve1\nvmid: 101\n")
            .resolve(&snap, &RouteHints::default())
            .unwrap();
        assert_eq!(
            (r.vmid, r.vmname.as_str(), r.kind()),
            (101, "web", Some(GuestKind::Lxc))
        );
        assert_eq!(r.config().vmname, "web");
        let r = config("node: pve2\nvmid: 0\nservice: pveproxy\n")
            .resolve(&snap, &RouteHints::default())
            .unwrap();
        assert_eq!(
            (r.vmid, r.node.as_str(), r.guest.is_none()),
            (0, "pve2", true)
        );
        assert_eq!(r.services, ["pveproxy"]);
        // Absent: by IP, then hostname's first label, then alias.
        let auto = config("node: pve2\n");
        let ip = auto
            .resolve(&snap, &RouteHints::ip("10.0.0.102".parse().unwrap()))
            .unwrap();
        assert_eq!(ip.vmid, 102);
        let host = auto
            .resolve(&snap, &RouteHints::hostname("DB.lan"))
            .unwrap();
        assert_eq!(host.vmid, 102);
        let alias = auto.resolve(&snap, &RouteHints::alias("db")).unwrap();
        assert_eq!(alias.vmid, 102);
        // Two guests are named web: the one on the configured node wins.
        let web = config("node: pve2\n")
            .resolve(&snap, &RouteHints::hostname("web"))
            .unwrap();
        assert_eq!((web.vmid, web.kind()), (200, Some(GuestKind::Qemu)));
        let web = config("node: pve1\n")
            .resolve(&snap, &RouteHints::hostname("web"))
            .unwrap();
        assert_eq!(web.vmid, 101);
        // A migrated guest is followed.
        let moved = config("node: pve1\nvmid: 102\n")
            .resolve(&snap, &RouteHints::default())
            .unwrap();
        assert_eq!(moved.node, "pve2");
    }

    #[test]
    fn errors_say_what_is_missing() {
        let snap = lab();
        let none = RouteHints::default();
        let e = config("node: pve9\nvmid: 101\n")
            .resolve(&snap, &none)
            .unwrap_err();
        assert!(
            matches!(&e, Error::NodeNotFound { available, .. } if available == "pve1, pve2"),
            "{e}"
        );
        let e = config("node: pve1\nvmid: 999\n")
            .resolve(&snap, &none)
            .unwrap_err();
        assert!(matches!(e, Error::ResourceNotFound(_)), "{e}");
        let e = config("node: pve1\n")
            .resolve(&snap, &RouteHints::hostname("nothing"))
            .unwrap_err();
        assert_eq!(e.to_string(), "resource not found: hostname nothing");
        // Two guests named cache on two nodes, neither on the configured one.
        let three = Snapshot::build(
            vec![
                guest(GuestKind::Lxc, 103, "pve1", "cache", "10.0.0.103"),
                guest(GuestKind::Lxc, 104, "pve2", "cache", "10.0.0.104"),
            ],
            SystemTime::now(),
        )
        .with_nodes(vec![member("pve1"), member("pve2"), member("pve3")]);
        let e = config("node: pve3\n")
            .resolve(&three, &RouteHints::alias("cache"))
            .unwrap_err();
        match &e {
            Error::AmbiguousTarget { choices, .. } => {
                assert_eq!(
                    choices,
                    &[
                        "vmid 103 on pve1 (lxc cache)",
                        "vmid 104 on pve2 (lxc cache)"
                    ]
                );
            }
            other => panic!("{other}"),
        }
        let e = config("node: pve1\nvmid: 101\nservice: 'a;b'\n")
            .resolve(&snap, &none)
            .unwrap_err();
        assert!(matches!(e, Error::Command(_)), "{e}");
        let e = config("node: ''\nvmid: 101\n")
            .resolve(&snap, &none)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    }
}
