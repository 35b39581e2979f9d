/*!
`pvekit lookup` and `pvekit watch`, both on the live [`Inventory`] of each cluster.

`watch` first lists every guest as `added` (so a reader knows it is ready and what it saw),
then prints one line per change as its [`pvekit::watcher`] finds it, until Ctrl-C.
*/

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use pvekit::{Client, GuestResource, Inventory, InventoryEvent, InventoryOptions};
use pvekit::{WatchConfig, WatchEvent, watcher};
use serde_json::json;
use tokio::task::JoinSet;

use crate::commands::{distinct_clusters, interrupted, ls};
use crate::output::{self, Format};

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

/// `pvekit lookup`.
///
/// # Errors
/// Nothing found, or found in several clusters; API and write errors.
pub async fn lookup(
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
        Format::Table => output::write_guests(&mut out, Format::Table, &[row])?,
    }
    Ok(())
}

fn ips(v: &[IpAddr]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn guest_label(g: &GuestResource) -> String {
    format!("{}/{} {}", g.kind, g.vmid, g.name().unwrap_or("-"))
}

/// One event as a text line (`cluster` is set when there are several).
pub fn event_line(cluster: Option<&str>, e: &InventoryEvent) -> String {
    let prefix = cluster.map(|c| format!("{c} ")).unwrap_or_default();
    let body = match e {
        InventoryEvent::Added(g) => format!(
            "added {} on {} {} ips={}",
            guest_label(g),
            g.node(),
            g.status(),
            ips(&g.ips)
        ),
        InventoryEvent::Removed { kind, vmid } => format!("removed {kind}/{vmid}"),
        InventoryEvent::StatusChanged { guest, from } => format!(
            "status {} on {} {from} -> {}",
            guest_label(guest),
            guest.node(),
            guest.status()
        ),
        InventoryEvent::IpsChanged { guest, from } => format!(
            "ips {} {} -> {}",
            guest_label(guest),
            ips(from),
            ips(&guest.ips)
        ),
        InventoryEvent::RefreshFailed(msg) => format!("refresh-failed {msg}"),
    };
    format!("{prefix}{body}")
}

/// One event as a JSON object.
pub fn event_json(cluster: &str, e: &InventoryEvent) -> serde_json::Value {
    let guest = |g: &GuestResource| {
        json!({
            "cluster": cluster,
            "type": g.kind,
            "vmid": g.vmid,
            "name": g.name(),
            "node": g.node(),
            "status": g.status(),
            "ips": g.ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    };
    let mut v = match e {
        InventoryEvent::Added(g) => guest(g),
        InventoryEvent::Removed { kind, vmid } => {
            json!({"cluster": cluster, "type": kind, "vmid": vmid})
        }
        InventoryEvent::StatusChanged { guest: g, from } => {
            let mut v = guest(g);
            v["from"] = json!(from);
            v
        }
        InventoryEvent::IpsChanged { guest: g, from } => {
            let mut v = guest(g);
            v["from"] = json!(from.iter().map(ToString::to_string).collect::<Vec<_>>());
            v
        }
        InventoryEvent::RefreshFailed(msg) => json!({"cluster": cluster, "error": msg}),
    };
    let name = match e {
        InventoryEvent::Added(_) => "added",
        InventoryEvent::Removed { .. } => "removed",
        InventoryEvent::StatusChanged { .. } => "status_changed",
        InventoryEvent::IpsChanged { .. } => "ips_changed",
        InventoryEvent::RefreshFailed(_) => "refresh_failed",
    };
    v["event"] = json!(name);
    v
}

fn print(
    out: &mut impl Write,
    several: bool,
    cluster: &str,
    e: &InventoryEvent,
    format: Format,
) -> Result<()> {
    match format {
        Format::Json => output::write_json_line(out, &event_json(cluster, e))?,
        Format::Table => {
            writeln!(out, "{}", event_line(several.then_some(cluster), e))?;
            out.flush()?;
        }
    }
    Ok(())
}

/// `pvekit watch`: one [`watcher`] per distinct cluster, merged.
///
/// # Errors
/// A cluster's first poll fails; write errors.
pub async fn watch(clients: &[Client], interval: Duration, format: Format) -> Result<()> {
    let clients = distinct_clusters(clients);
    let several = clients.len() > 1;
    let config = WatchConfig {
        interval,
        ..Default::default()
    };
    let mut events = futures_util::stream::select_all(clients.iter().map(|c| {
        let cluster = c.name().to_string();
        Box::pin(watcher((*c).clone(), config).map(move |e| (cluster.clone(), e)))
    }));
    let mut listed = 0;
    let mut out = super::stdout();
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        let (cluster, event) = tokio::select! {
            s = &mut stop => return s,
            e = events.next() => match e {
                Some(e) => e,
                None => return Ok(()),
            },
        };
        // Every guest first, as `added`, so a reader knows what was there; then the changes.
        let changes = match event {
            Ok(WatchEvent::Listed(all)) => {
                listed += 1;
                all.guests()
                    .iter()
                    .cloned()
                    .map(InventoryEvent::Added)
                    .collect()
            }
            Ok(WatchEvent::Changed { changes, .. }) => changes,
            Err(e) if listed < clients.len() => {
                let e = anyhow::Error::new(e);
                return Err(if several {
                    e.context(format!("cluster {cluster}"))
                } else {
                    e
                });
            }
            Err(e) => vec![InventoryEvent::RefreshFailed(e.to_string())],
        };
        for change in &changes {
            print(&mut out, several, &cluster, change, format)?;
        }
    }
}
