/*!
`pvekit ls`: every guest (LXC and QEMU) of every connected cluster, from one refresh of each
cluster's [`pvekit::Inventory`]: `GET /cluster/resources?type=vm` plus each guest's IPs
(private addresses, from its interfaces when it runs, else from its config).

The guests' names and VMIDs are remembered for shell completion ([`crate::cache`]), except
with `--demo`, whose made-up guests would hide a real cluster's.
*/

use anyhow::{Result, anyhow};
use pvekit::types::ClusterResource;
use pvekit::{Client, GuestResource, Inventory, InventoryOptions};
use tokio::task::JoinSet;

use crate::cache;
use crate::commands::{Context, distinct_clusters};
use crate::output::{self, GuestRow};

/// `pvekit ls`.
///
/// # Errors
/// Connection errors; a cluster's resources cannot be fetched; write errors.
pub async fn run(ctx: &Context<'_>) -> Result<()> {
    ctx.on_clusters(async |clients| list(clients, ctx).await)
        .await
}

/// Fetches the guests of all clusters concurrently and prints them sorted by vmid.
///
/// # Errors
/// When a cluster's resources cannot be fetched, or writing fails.
async fn list(clients: &[Client], ctx: &Context<'_>) -> Result<()> {
    let rows = fetch_rows(clients).await?;
    if !ctx.cli.demo {
        cache::remember(ctx.env, &rows);
    }
    let format = ctx.output();
    output::write_guests(
        &mut super::stdout(),
        format,
        &rows,
        output::stdout_colors(format),
    )?;
    Ok(())
}

/// The guests of every cluster with their IPs, sorted by vmid.
///
/// # Errors
/// When a cluster's resources cannot be fetched.
pub async fn fetch_rows(clients: &[Client]) -> Result<Vec<GuestRow>> {
    let clients = distinct_clusters(clients);
    let several = clients.len() > 1;
    let mut set = JoinSet::new();
    for client in clients {
        let client = client.clone();
        set.spawn(async move {
            let inventory = Inventory::new(client.clone(), InventoryOptions::default());
            let refreshed = inventory.refresh().await;
            (client, refreshed.map(|()| inventory.snapshot()))
        });
    }
    let mut rows = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (client, snapshot) = joined.map_err(|e| anyhow!("listing task failed: {e}"))?;
        let snapshot = snapshot.map_err(|e| {
            let e = anyhow::Error::new(e);
            if several {
                e.context(format!("cluster {} ({})", client.name(), client.url()))
            } else {
                e
            }
        })?;
        rows.extend(
            snapshot
                .guests()
                .iter()
                .map(|g| inventory_row(client.name(), g)),
        );
    }
    output::sort_guests(&mut rows);
    Ok(rows)
}

/// A row from an inventory entry.
pub fn inventory_row(cluster: &str, g: &GuestResource) -> GuestRow {
    let mut row = resource_row(cluster, g.to_resource()).unwrap_or_else(|| GuestRow {
        vmid: g.vmid,
        name: None,
        node: None,
        kind: g.kind,
        status: None,
        cpu: None,
        maxcpu: None,
        mem: None,
        maxmem: None,
        template: false,
        cluster: cluster.to_string(),
        ips: Vec::new(),
    });
    row.ips = g.ips.iter().map(ToString::to_string).collect();
    row
}

/// A row from a cluster resource, when it is a guest (LXC or QEMU with a vmid); no IPs.
pub fn resource_row(cluster: &str, r: ClusterResource) -> Option<GuestRow> {
    let kind = r.guest_kind()?;
    Some(GuestRow {
        vmid: r.vmid?,
        name: r.name.map(String::from),
        node: r.node.map(String::from),
        kind,
        status: r.status,
        cpu: r.cpu,
        maxcpu: r.maxcpu,
        mem: r.mem,
        maxmem: r.maxmem,
        template: r.template.unwrap_or(false),
        cluster: cluster.to_string(),
        ips: Vec::new(),
    })
}

/// The guests among `resources` (LXC and QEMU with a vmid) as rows of `cluster`.
#[cfg(test)]
pub fn guest_rows(cluster: &str, resources: Vec<ClusterResource>) -> Vec<GuestRow> {
    resources
        .into_iter()
        .filter_map(|r| resource_row(cluster, r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guests_with_a_vmid() {
        let r = |kind: &str, vmid: Option<u64>| ClusterResource {
            id: format!("{kind}/{}", vmid.unwrap_or(0)).into(),
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
