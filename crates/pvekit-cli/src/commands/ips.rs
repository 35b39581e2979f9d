/*!
`pvekit ips T`: a guest's IP addresses, one per line (private ones unless `--all`).
*/

use std::io::Write;

use anyhow::Result;
use pvekit::{Client, IpPolicy};

use crate::commands::{Context, target};
use crate::output::{self, Format};
use crate::target::{Target, resolve};

/// Flags of `pvekit ips`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
    /// Include public and other non-private addresses.
    #[arg(long)]
    pub all: bool,
}

/// `pvekit ips T`.
///
/// # Errors
/// A malformed target (a usage error), connection, resolution or API errors; write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let target = target(&args.target)?;
    ctx.on_clusters(async |clients| ips(clients, &target, args.all, ctx.output()).await)
        .await
}

/// Prints the IPs of `target`.
///
/// # Errors
/// Resolution or API errors; write errors.
async fn ips(clients: &[Client], target: &Target, all: bool, format: Format) -> Result<()> {
    let r = resolve(clients, target).await?;
    let ips = r.guest.ips(IpPolicy { private_only: !all }).await?;
    let mut out = super::stdout();
    match format {
        Format::Json => {
            let v: Vec<String> = ips.iter().map(ToString::to_string).collect();
            output::write_json(&mut out, &v)?;
        }
        Format::Table => {
            for ip in &ips {
                writeln!(out, "{ip}")?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
