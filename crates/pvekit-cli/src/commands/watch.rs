/*!
`pvekit watch`: inventory changes of every cluster until Ctrl-C.

It first lists every guest as `added` (so a reader knows it is ready and what it saw),
then prints one line per change as its [`pvekit::watcher`] finds it, until Ctrl-C. Once every
cluster's first listing is in, the guests are remembered for shell completion, as `pvekit ls`
does ([`crate::cache`]).
*/

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;
use pvekit::{Client, GuestResource, InventoryEvent};
use pvekit::{WatchConfig, WatchEvent, watcher};
use serde_json::json;

use crate::cache;
use crate::commands::{Context, distinct_clusters, interrupted, seconds};
use crate::output::{self, Format};

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

/// Flags of `pvekit watch`.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds between inventory refreshes.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub interval: f64,
}

/// `pvekit watch`.
///
/// # Errors
/// An interval out of range (a usage error); connection errors, a cluster's first poll
/// fails; write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let interval = seconds("--interval", args.interval)?;
    let remember = |entries: &[cache::Entry]| {
        if !ctx.cli.demo {
            cache::remember_entries(ctx.env, entries);
        }
    };
    ctx.on_clusters(async |clients| watch(clients, interval, ctx.output(), &remember).await)
        .await
}

/// One [`watcher`] per distinct cluster, merged.
///
/// # Errors
/// A cluster's first poll fails; write errors.
async fn watch(
    clients: &[Client],
    interval: Duration,
    format: Format,
    remember: &dyn Fn(&[cache::Entry]),
) -> Result<()> {
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
    // The first listings' guests, remembered once every cluster's is in, in the order of
    // `pvekit ls` (by VMID, then cluster): built straight from the guests, as a watch over
    // many guests keeps no more than it needs.
    let mut first: Vec<(u64, Arc<str>, cache::Entry)> = Vec::new();
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
                if listed <= clients.len() {
                    let name: Arc<str> = cluster.as_str().into();
                    first.extend(all.guests().iter().map(|g| {
                        let node = Some(g.node()).filter(|n| !n.is_empty());
                        let entry = cache::entry(&cluster, g.vmid, g.name(), node);
                        (g.vmid, name.clone(), entry)
                    }));
                    if listed == clients.len() {
                        first.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
                        let entries: Vec<_> = first
                            .drain(..)
                            .take(cache::MAX_GUESTS)
                            .map(|(_, _, e)| e)
                            .collect();
                        remember(&entries);
                        // Not needed again: a watch runs for days.
                        first = Vec::new();
                    }
                }
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
