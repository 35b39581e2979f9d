/*!
Guest targets: how a command names the guest it acts on, and how that name is resolved.

A target is `VMID` (`101`), `NAME` (`web`, compared ignoring ASCII case), `NODE/VMID`
(`pve1/101`) or `CLUSTER/NODE/VMID` (`lab/pve1/101`). It is resolved against the guests that
`GET /cluster/resources?type=vm` reports in every configured cluster: exactly one guest must
match. Several matches (the same name on two guests, or the same VMID in two clusters) are an
error that lists every choice in a form that picks it; no match is an error that says where
pvekit looked.

[`find`] is the pure part (unit-tested below); [`resolve`] fetches the resources and builds a
[`Guest`] handle.

```no_run
# async fn demo(lab: pvekit::Client, home: pvekit::Client) -> Result<(), pvekit::Error> {
use pvekit::target::{Target, resolve};
let target: Target = "web".parse().map_err(|e: String| pvekit::Error::InvalidInput { message: e })?;
let found = resolve(&[lab, home], &target).await?;
println!("{} is on {}", found.label(), found.guest.node().name());
# Ok(()) }
```
*/

use std::fmt;
use std::str::FromStr;

use pvekit_core::types::{ClusterResource, GuestKind, ResourceType};
use tokio::task::JoinSet;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::guest::Guest;

/// A guest as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `101`.
    Vmid(u64),
    /// `web`.
    Name(String),
    /// `pve1/101` or `lab/pve1/101`.
    Placed {
        /// The cluster, when given.
        cluster: Option<String>,
        /// The node.
        node: String,
        /// The guest id.
        vmid: u64,
    },
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let vmid = |v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("'{v}' in '{s}' is not a VMID (NODE/VMID takes a number)"))
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "'{s}' is not a guest: use VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID"
            ));
        }
        match parts.as_slice() {
            [one] if one.bytes().all(|b| b.is_ascii_digit()) => one
                .parse()
                .map(Target::Vmid)
                .map_err(|e| format!("{s}: {e}")),
            [one] => Ok(Target::Name((*one).to_string())),
            [node, id] => Ok(Target::Placed {
                cluster: None,
                node: (*node).to_string(),
                vmid: vmid(id)?,
            }),
            [cluster, node, id] => Ok(Target::Placed {
                cluster: Some((*cluster).to_string()),
                node: (*node).to_string(),
                vmid: vmid(id)?,
            }),
            _ => Err(format!(
                "'{s}' is not a guest: use VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID"
            )),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Vmid(v) => write!(f, "{v}"),
            Target::Name(n) => f.write_str(n),
            Target::Placed {
                cluster: Some(c),
                node,
                vmid,
            } => write!(f, "{c}/{node}/{vmid}"),
            Target::Placed {
                cluster: None,
                node,
                vmid,
            } => write!(f, "{node}/{vmid}"),
        }
    }
}

/// The guests of one cluster, as input to [`find`].
pub struct ClusterGuests<'a> {
    /// The cluster's name.
    pub cluster: &'a str,
    /// The cluster's URL (only shown when two clusters share a name).
    pub url: &'a str,
    /// Its `/cluster/resources?type=vm` answer.
    pub resources: &'a [ClusterResource],
}

/// The one guest a target names.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Index of its cluster in the input.
    pub cluster: usize,
    /// LXC or QEMU.
    pub kind: GuestKind,
    /// The guest id.
    pub vmid: u64,
    /// Its node.
    pub node: String,
    /// The resource as the cluster reported it.
    pub resource: ClusterResource,
}

/// Finds the single guest `target` names among `clusters`.
///
/// # Errors
/// No match (naming the clusters searched), or several (listing each as a target that picks
/// it).
pub fn find(target: &Target, clusters: &[ClusterGuests<'_>]) -> Result<Found> {
    let mut matches = Vec::new();
    for (i, c) in clusters.iter().enumerate() {
        for r in c.resources {
            let (Some(vmid), Some(kind)) = (r.vmid, r.guest_kind()) else {
                continue;
            };
            let node = r.node.as_deref().unwrap_or("");
            let hit = match target {
                Target::Vmid(v) => *v == vmid,
                Target::Name(n) => r.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n)),
                Target::Placed {
                    cluster,
                    node: want,
                    vmid: v,
                } => {
                    *v == vmid
                        && want == node
                        && cluster.as_deref().is_none_or(|cl| cl == c.cluster)
                }
            };
            if hit {
                matches.push(Found {
                    cluster: i,
                    kind,
                    vmid,
                    node: node.to_string(),
                    resource: r.clone(),
                });
            }
        }
    }
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => {
            let mut names: Vec<String> = clusters.iter().map(|c| c.cluster.to_string()).collect();
            names.dedup();
            Err(Error::TargetNotFound {
                target: target.to_string(),
                clusters: names,
            })
        }
        _ => {
            let several_clusters = matches.iter().any(|m| m.cluster != matches[0].cluster);
            let mut choices: Vec<String> = matches
                .iter()
                .map(|m| {
                    let c = &clusters[m.cluster];
                    let place = if several_clusters {
                        let same_name = clusters.iter().filter(|o| o.cluster == c.cluster).count();
                        if same_name > 1 {
                            format!("{}/{}/{} [{}]", c.cluster, m.node, m.vmid, c.url)
                        } else {
                            format!("{}/{}/{}", c.cluster, m.node, m.vmid)
                        }
                    } else {
                        format!("{}/{}", m.node, m.vmid)
                    };
                    let name = m.resource.name.as_deref().unwrap_or("-");
                    format!("{place} ({}, {name})", m.kind)
                })
                .collect();
            choices.sort();
            Err(Error::AmbiguousTarget {
                target: target.to_string(),
                choices,
            })
        }
    }
}

/// A resolved target: the guest handle, its resource, and its cluster's client.
pub struct Resolved {
    /// Handle for API calls.
    pub guest: Guest,
    /// The resource as the cluster reported it.
    pub resource: ClusterResource,
    /// The client of its cluster.
    pub client: Client,
}

impl Resolved {
    /// `CT 101 (web)` / `VM 100 (db)`, for messages.
    pub fn label(&self) -> String {
        let kind = match self.guest.kind() {
            GuestKind::Lxc => "CT",
            GuestKind::Qemu => "VM",
        };
        match &self.resource.name {
            Some(n) => format!("{kind} {} ({n})", self.guest.vmid()),
            None => format!("{kind} {}", self.guest.vmid()),
        }
    }
}

/// Resolves `target` against the guests of every cluster of `clients`, fetched concurrently.
///
/// # Errors
/// A cluster's resources cannot be fetched; the target matches no guest or several; the
/// guest's node is unknown to the client.
pub async fn resolve(clients: &[Client], target: &Target) -> Result<Resolved> {
    let mut set = JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        let client = client.clone();
        set.spawn(async move { (i, client.cluster_resources(Some(ResourceType::Vm)).await) });
    }
    let mut fetched: Vec<(usize, Vec<ClusterResource>)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok((i, r)) = joined else {
            return Err(Error::unsupported("a cluster lookup was cancelled"));
        };
        fetched.push((i, r?));
    }
    fetched.sort_by_key(|(i, _)| *i);
    let input: Vec<ClusterGuests<'_>> = fetched
        .iter()
        .map(|(i, r)| ClusterGuests {
            cluster: clients[*i].name(),
            url: clients[*i].url(),
            resources: r,
        })
        .collect();
    let found = find(target, &input)?;
    let client = clients[fetched[found.cluster].0].clone();
    // The node from /cluster/resources, by a lazy handle: a node that joined after connect
    // works too.
    let node = client.node(&found.node);
    let guest = match found.kind {
        GuestKind::Lxc => node.lxc(found.vmid),
        GuestKind::Qemu => node.qemu(found.vmid),
    };
    Ok(Resolved {
        guest,
        resource: found.resource,
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: &str, vmid: u64, node: &str, name: &str) -> ClusterResource {
        ClusterResource {
            id: format!("{kind}/{vmid}").into(),
            kind: kind.into(),
            vmid: Some(vmid),
            node: Some(node.into()),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn lab() -> Vec<ClusterResource> {
        vec![
            r("lxc", 101, "pve1", "web"),
            r("lxc", 102, "pve2", "db"),
            r("qemu", 200, "pve2", "web"),
            r("qemu", 201, "pve1", "Win11"),
            ClusterResource {
                id: "node/pve1".into(),
                kind: "node".into(),
                node: Some("pve1".into()),
                ..Default::default()
            },
        ]
    }

    fn one<'a>(res: &'a [ClusterResource]) -> Vec<ClusterGuests<'a>> {
        vec![ClusterGuests {
            cluster: "lab",
            url: "https://a:8006",
            resources: res,
        }]
    }

    fn t(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(t("101"), Target::Vmid(101));
        assert_eq!(t("web"), Target::Name("web".into()));
        assert_eq!(t("web-1.lan"), Target::Name("web-1.lan".into()));
        assert_eq!(
            t("pve1/101"),
            Target::Placed {
                cluster: None,
                node: "pve1".into(),
                vmid: 101
            }
        );
        assert_eq!(
            t("lab/pve1/101"),
            Target::Placed {
                cluster: Some("lab".into()),
                node: "pve1".into(),
                vmid: 101
            }
        );
        for bad in ["pve1/web", "/101", "a/b/c/d", "pve1/", ""] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
        for s in ["101", "web", "pve1/101", "lab/pve1/101"] {
            assert_eq!(t(s).to_string(), s);
        }
    }

    #[test]
    fn finds_by_vmid_name_and_place() {
        let res = lab();
        let c = one(&res);
        let f = find(&t("102"), &c).unwrap();
        assert_eq!(
            (f.kind, f.vmid, f.node.as_str()),
            (GuestKind::Lxc, 102, "pve2")
        );
        let f = find(&t("db"), &c).unwrap();
        assert_eq!(f.vmid, 102);
        let f = find(&t("win11"), &c).unwrap();
        assert_eq!((f.kind, f.vmid), (GuestKind::Qemu, 201));
        let f = find(&t("pve2/200"), &c).unwrap();
        assert_eq!(f.vmid, 200);
        let f = find(&t("lab/pve1/101"), &c).unwrap();
        assert_eq!(f.vmid, 101);
    }

    #[test]
    fn ambiguous_name_lists_the_choices() {
        let res = lab();
        let e = find(&t("web"), &one(&res)).unwrap_err().to_string();
        assert!(e.contains("'web' is ambiguous"), "{e}");
        assert!(e.contains("pve1/101 (lxc, web)"), "{e}");
        assert!(e.contains("pve2/200 (qemu, web)"), "{e}");
    }

    #[test]
    fn same_vmid_in_two_clusters_is_ambiguous() {
        let a = vec![r("lxc", 101, "pve", "web")];
        let b = vec![r("lxc", 101, "pve", "web")];
        let c = vec![
            ClusterGuests {
                cluster: "alpha",
                url: "https://a:8006",
                resources: &a,
            },
            ClusterGuests {
                cluster: "beta",
                url: "https://b:8006",
                resources: &b,
            },
        ];
        let e = find(&t("101"), &c).unwrap_err().to_string();
        assert!(
            e.contains("alpha/pve/101") && e.contains("beta/pve/101"),
            "{e}"
        );
        // The listed form picks one.
        assert_eq!(find(&t("beta/pve/101"), &c).unwrap().cluster, 1);
        // Two clusters with the same name: the url tells them apart.
        let c = vec![
            ClusterGuests {
                cluster: "pve",
                url: "https://a:8006",
                resources: &a,
            },
            ClusterGuests {
                cluster: "pve",
                url: "https://b:8006",
                resources: &b,
            },
        ];
        let e = find(&t("web"), &c).unwrap_err().to_string();
        assert!(
            e.contains("[https://a:8006]") && e.contains("[https://b:8006]"),
            "{e}"
        );
    }

    #[test]
    fn unknown_is_a_clear_error() {
        let res = lab();
        let e = find(&t("999"), &one(&res)).unwrap_err();
        assert_eq!(e.to_string(), "no guest '999' in cluster lab");
        assert!(e.hint().unwrap().contains("VM.Audit"));
        let e = find(&t("nope"), &one(&res)).unwrap_err();
        assert!(e.to_string().contains("no guest 'nope'"), "{e}");
        assert!(e.hint().unwrap().contains("ignoring case"));
        // Right vmid, wrong node.
        assert!(find(&t("pve2/101"), &one(&res)).is_err());
        // Nodes and other resources never match.
        let e = find(&t("other/pve1/101"), &one(&res))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no guest"), "{e}");
    }
}
