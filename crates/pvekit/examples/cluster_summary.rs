//! Prints a cluster's version, nodes and guests.
//!
//! ```text
//! PVE_URL=https://pve:8006 PVE_TOKEN_ID='root@pam!monitoring' PVE_SECRET=... \
//! PVE_FINGERPRINT=AA:BB:... cargo run -p pvekit --example cluster_summary
//! ```
//!
//! `PVE_NO_TLS_VERIFY=1` skips certificate verification instead of pinning.

mod common;

use pvekit::Client;
use pvekit::types::{ResourceStatus, ResourceType};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = common::config_from_env()?;
    let client = Client::connect(&config).await?;
    println!(
        "{} (Proxmox VE {})",
        client.name(),
        client.version().version
    );

    for member in client.members() {
        let state = if member.online { "online" } else { "offline" };
        println!(
            "  node {} {} {}",
            member.name,
            member.ip.as_deref().unwrap_or("-"),
            state
        );
    }
    for guest in client.cluster_resources(Some(ResourceType::Vm)).await? {
        println!(
            "  {} {} {} on {}",
            guest.id,
            guest.name.as_deref().unwrap_or("-"),
            guest.status.unwrap_or(ResourceStatus::Unknown),
            guest.node.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}
