/*!
`pvekit lookup`: the guest (or with `--node`, the node) with an IP, hostname or alias, on the
live [`Inventory`] of each cluster.
*/

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use pvekit::{Client, Inventory, InventoryOptions};
use serde_json::json;
use tokio::task::JoinSet;

use crate::commands::{Context, distinct_clusters, ls};
use crate::output::{self, Format};

/// Flags of `pvekit lookup`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("query").required(true).multiple(true).args(["ip", "hostname", "alias"])))]
pub struct Args {
    /// An IP address of the guest (or node).
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// A host name; its first label is compared with guest (or node) names.
    #[arg(long)]
    pub hostname: Option<String>,
    /// A name compared with guest (or node) names.
    #[arg(long)]
    pub alias: Option<String>,
    /// Look up a node instead of a guest.
    #[arg(long)]
    pub node: bool,
}

/// `pvekit lookup`.
///
/// # Errors
/// Connection errors; nothing found, or found in several clusters; API and write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    ctx.on_clusters(async |clients| {
        lookup(
            clients,
            args.ip,
            args.hostname.clone(),
            args.alias.clone(),
            args.node,
            ctx.output(),
        )
        .await
    })
    .await
}

/// One inventory per distinct cluster, refreshed once.
async fn inventories(clients: &[Client]) -> Result<Vec<Arc<Inventory>>> {
    let clients = distinct_clusters(clients);
    let several = clients.len() > 1;
    let mut set = JoinSet::new();
    for (i, c) in clients.iter().enumerate() {
        let inv = Inventory::new((*c).clone(), InventoryOptions::default());
        set.spawn(async move {
            let r = inv.refresh().await;
            (i, inv, r)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, inv, r) = joined.map_err(|e| anyhow!("inventory task failed: {e}"))?;
        r.map_err(|e| {
            let e = anyhow::Error::new(e);
            if several {
                e.context(format!(
                    "cluster {} ({})",
                    inv.client().name(),
                    inv.client().url()
                ))
            } else {
                e
            }
        })?;
        out.push((i, inv));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, inv)| inv).collect())
}

/// Finds the guest (or with `node`, the node) and prints it.
///
/// # Errors
/// Nothing found, or found in several clusters; API and write errors.
async fn lookup(
    clients: &[Client],
    ip: Option<IpAddr>,
    hostname: Option<String>,
    alias: Option<String>,
    node: bool,
    format: Format,
) -> Result<()> {
    let query = pvekit::lookup::describe_lookup(ip, hostname.as_deref(), alias.as_deref());
    let mut out = super::stdout();
    if node {
        let mut found = Vec::new();
        for c in distinct_clusters(clients) {
            let inv = Inventory::new(c.clone(), InventoryOptions::default());
            if let Some(n) = inv.reverse_lookup_node(hostname.as_deref(), ip, alias.as_deref()) {
                found.push((c.name().to_string(), n));
            }
        }
        let (cluster, name) = match found.len() {
            1 => found.remove(0),
            0 => bail!("no node matches {query}"),
            _ => {
                let each: Vec<String> = found.iter().map(|(c, n)| format!("{c}/{n}")).collect();
                bail!(
                    "{query} matches nodes in several clusters: {}",
                    each.join(", ")
                )
            }
        };
        match format {
            Format::Json => {
                output::write_json_value(&mut out, &json!({"node": name, "cluster": cluster}))?;
            }
            Format::Table => {
                writeln!(out, "{name}")?;
                out.flush()?;
            }
        }
        return Ok(());
    }
    let invs = inventories(clients).await?;
    let mut found = Vec::new();
    for inv in &invs {
        if let Ok(g) = inv.reverse_lookup_resource(ip, hostname.as_deref(), alias.as_deref()) {
            found.push(ls::inventory_row(inv.client().name(), &g));
        }
    }
    let row = match found.len() {
        1 => found.remove(0),
        0 => bail!("no guest matches {query}"),
        _ => {
            let each: Vec<String> = found
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}/{}",
                        r.cluster,
                        r.node.as_deref().unwrap_or("-"),
                        r.vmid
                    )
                })
                .collect();
            bail!(
                "{query} matches guests in several clusters: {}",
                each.join(", ")
            )
        }
    };
    match format {
        Format::Json => output::write_json_value(&mut out, &row)?,
        Format::Table => output::write_guests(
            &mut out,
            Format::Table,
            &[row],
            output::stdout_colors(Format::Table),
        )?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn needs_a_query() {
        assert!(Cli::try_parse_from(["pvekit", "lookup"]).is_err());
        assert!(Cli::try_parse_from(["pvekit", "lookup", "--alias", "web", "--node"]).is_ok());
    }
}
