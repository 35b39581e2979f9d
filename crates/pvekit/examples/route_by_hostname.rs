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

use pvekit::{Client, Inventory, InventoryEvent, InventoryOptions, RESOURCE_POLL_INTERVAL};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args
        .next()
        .ok_or("usage: route_by_hostname HOST [SECONDS]")?;
    let watch_for = Duration::from_secs(args.next().map_or(Ok(10), |s| s.parse())?);

    let client = Client::connect(&common::config_from_env()?).await?;
    let inventory = Inventory::new(client, InventoryOptions::default());
    inventory.refresh().await?;
    // Subscribed after the first refresh: only changes from here on, not every guest as
    // `Added`.
    let mut events = inventory.subscribe();

    match inventory.reverse_lookup_resource(None, Some(&host), Some(&host)) {
        Ok(guest) => println!(
            "{host} -> {} {} on {} ({}), IPs {:?}",
            guest.kind,
            guest.vmid,
            guest.node(),
            guest.status(),
            guest.ips
        ),
        Err(e) => println!("{host}: {e}"),
    }

    // Dropping the handle stops the background refresh.
    let _poller = inventory.spawn_poller(RESOURCE_POLL_INTERVAL);
    let deadline = tokio::time::sleep(watch_for);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            event = events.recv() => match event {
                Ok(InventoryEvent::Added(g)) => println!("added {} {}", g.kind, g.vmid),
                Ok(InventoryEvent::Removed { kind, vmid }) => println!("removed {kind} {vmid}"),
                Ok(InventoryEvent::StatusChanged { guest, from }) => {
                    println!("{} {}: {from} -> {}", guest.kind, guest.vmid, guest.status());
                }
                Ok(InventoryEvent::IpsChanged { guest, from }) => {
                    println!("{} {}: IPs {from:?} -> {:?}", guest.kind, guest.vmid, guest.ips);
                }
                Ok(InventoryEvent::RefreshFailed(why)) => println!("refresh failed: {why}"),
                // A slow reader skipped events; the snapshot is still whole.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    println!("missed {n} events");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    Ok(())
}
