/*!
`pvekit ls`: every guest (LXC and QEMU) of every connected cluster, from
`GET /cluster/resources?type=vm`.
*/

use anyhow::{Result, anyhow};
use pvekit::{Client, ClusterResource, ResourceType};
use tokio::task::JoinSet;

use crate::commands::distinct_clusters;
use crate::output::{self, Format, GuestRow};

/// Fetches the guests of all clusters concurrently and prints them sorted by vmid.
///
/// # Errors
/// When a cluster's resources cannot be fetched, or writing fails.
pub async fn run(clients: &[Client], format: Format) -> Result<()> {
    let clients = distinct_clusters(clients);
    let several = clients.len() > 1;
    let mut set = JoinSet::new();
    for client in clients {
        let client = client.clone();
        set.spawn(async move {
            let resources = client.cluster_resources(Some(ResourceType::Vm)).await;
            (client, resources)
        });
    }
    let mut rows = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (client, resources) = joined.map_err(|e| anyhow!("listing task failed: {e}"))?;
        let resources = resources.map_err(|e| {
            let e = anyhow::Error::new(e);
            if several {
                e.context(format!("cluster {} ({})", client.name(), client.url()))
            } else {
                e
            }
        })?;
        rows.extend(guest_rows(client.name(), resources));
    }
    output::sort_guests(&mut rows);
    output::write_guests(&mut super::stdout(), format, &rows)?;
    Ok(())
}

/// The guests among `resources` (LXC and QEMU with a vmid) as rows of `cluster`.
pub fn guest_rows(cluster: &str, resources: Vec<ClusterResource>) -> Vec<GuestRow> {
    resources
        .into_iter()
        .filter(|r| r.kind == "lxc" || r.kind == "qemu")
        .filter_map(|r| {
            Some(GuestRow {
                vmid: r.vmid?,
                name: r.name,
                node: r.node,
                kind: r.kind,
                status: r.status,
                cpu: r.cpu,
                maxcpu: r.maxcpu,
                mem: r.mem,
                maxmem: r.maxmem,
                template: r.template.unwrap_or(false),
                cluster: cluster.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guests_with_a_vmid() {
        let r = |kind: &str, vmid: Option<u64>| ClusterResource {
            id: format!("{kind}/{}", vmid.unwrap_or(0)),
            kind: kind.into(),
            vmid,
            ..Default::default()
        };
        let rows = guest_rows(
            "c",
            vec![
                r("lxc", Some(101)),
                r("qemu", Some(100)),
                r("node", None),
                r("storage", None),
                r("lxc", None),
            ],
        );
        let ids: Vec<u64> = rows.iter().map(|r| r.vmid).collect();
        assert_eq!(ids, [101, 100]);
        assert!(rows.iter().all(|r| r.cluster == "c" && !r.template));
    }
}
