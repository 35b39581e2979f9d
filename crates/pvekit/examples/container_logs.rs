//! Follows a container's journal (or its `/var/log/messages` when it has no systemd) until
//! Ctrl-C, the way `pvekit journal CT` does.
//!
//! ```text
//! PVE_URL=https://pve:8006 PVE_USERNAME=root PVE_PASSWORD=... PVE_FINGERPRINT=AA:BB:... \
//! cargo run -p pvekit --example container_logs -- pve1 101 nginx
//! ```
//!
//! Terminal sessions need a `root@pam` password login: Proxmox VE gives API tokens only a
//! login prompt there, and pvekit says so with `Error::NoSession`.

mod common;

use std::io::Write;

use futures_util::StreamExt;
use pvekit::{Client, NodePool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(node), Some(vmid)) = (args.next(), args.next()) else {
        return Err("usage: container_logs NODE VMID [UNIT]...".into());
    };
    let units: Vec<String> = args.collect();

    let client = Client::connect(&common::config_from_env()?).await?;
    let pool = NodePool::new();
    pool.add_client(&client);
    let ct = pool.get(&node)?.lxc(vmid.parse()?);

    // The last 20 lines, then new ones as they come. Unit names are validated and quoted,
    // so they cannot inject shell syntax.
    let options = pvekit::JournalOptions {
        units,
        ..pvekit::JournalOptions::last(20).follow()
    };
    let mut journal = ct.journal(&options).await?;
    let mut out = std::io::stdout().lock();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            chunk = journal.next() => match chunk {
                Some(chunk) => {
                    out.write_all(&chunk?)?;
                    out.flush()?;
                }
                None => break,
            },
        }
    }
    // Dropping the stream closes the terminal, which ends `journalctl -f` on the node.
    drop(journal);
    Ok(())
}
