//! What a reverse proxy does with pvekit: keep a live inventory of the cluster's guests and
//! answer "which guest is `HOST`?" from it, without a request per lookup.
//!
//! ```text
//! PVE_URL=https://pve:8006 PVE_TOKEN_ID='root@pam!proxy' PVE_SECRET=... \
//! PVE_FINGERPRINT=AA:BB:... cargo run -p pvekit --example route_by_hostname -- web 10
//! ```
//!
//! Looks `web` up (first DNS label, container name or alias, as GoDoxy matches them), then
//! prints the inventory's change events for 10 seconds.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use pvekit::{Client, InventoryEvent, Store, WatchConfig, WatchEvent, WatchStreamExt, watcher};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args
        .next()
        .ok_or("usage: route_by_hostname HOST [SECONDS]")?;
    let watch_for = Duration::from_secs(args.next().map_or(Ok(10), |s| s.parse())?);

    let client = Client::connect(&common::config_from_env()?).await?;
    // The watcher polls when its reader pulls; the store follows it for lookups.
    let store = Store::new();
    let mut events = Box::pin(watcher(client, WatchConfig::default()).reflect(store.clone()));
    let deadline = tokio::time::sleep(watch_for);
    tokio::pin!(deadline);
    loop {
        let event = tokio::select! {
            () = &mut deadline => break,
            event = events.next() => match event {
                Some(event) => event,
                None => break,
            },
        };
        match event {
            // The first event lists every guest: the store can answer now.
            Ok(WatchEvent::Listed(_)) => match store.reverse_lookup(None, Some(&host), Some(&host))
            {
                Some(guest) => println!(
                    "{host} -> {} {} on {} ({}), IPs {:?}",
                    guest.kind,
                    guest.vmid,
                    guest.node(),
                    guest.status(),
                    guest.ips
                ),
                None => println!(
                    "{host}: {}",
                    pvekit::lookup::describe_lookup(None, Some(&host), Some(&host))
                ),
            },
            Ok(WatchEvent::Changed { changes, .. }) => {
                for change in changes {
                    match change {
                        InventoryEvent::Added(g) => println!("added {} {}", g.kind, g.vmid),
                        InventoryEvent::Removed { kind, vmid } => println!("removed {kind} {vmid}"),
                        InventoryEvent::StatusChanged { guest, from } => {
                            println!(
                                "{} {}: {from} -> {}",
                                guest.kind,
                                guest.vmid,
                                guest.status()
                            );
                        }
                        InventoryEvent::IpsChanged { guest, from } => {
                            println!(
                                "{} {}: IPs {from:?} -> {:?}",
                                guest.kind, guest.vmid, guest.ips
                            );
                        }
                        InventoryEvent::RefreshFailed(why) => println!("refresh failed: {why}"),
                    }
                }
            }
            // A failed poll; the next one goes on from the last good state.
            Err(e) => println!("poll failed: {e}"),
        }
    }
    Ok(())
}
