/*!
`pvekit set-shutdown-timeout T SECONDS`: how long a container may take to shut down before it
is stopped (`startup: down=N`).
*/

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, anyhow};
use pvekit::Client;

use crate::commands::{Context, target};
use crate::target::{Target, resolve};

/// Flags of `pvekit set-shutdown-timeout`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
    /// Seconds a shutdown may take.
    #[arg(value_name = "SECONDS")]
    pub seconds: u64,
}

/// `pvekit set-shutdown-timeout T SECONDS`.
///
/// # Errors
/// A malformed target (a usage error), connection, resolution or API errors; write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let target = target(&args.target)?;
    let timeout = Duration::from_secs(args.seconds);
    ctx.on_clusters(async |clients| set_shutdown_timeout(clients, &target, timeout).await)
        .await
}

/// Sets the shutdown timeout of `target`, then prints the `startup` value the server now
/// reports.
///
/// # Errors
/// Resolution or API errors; write errors.
async fn set_shutdown_timeout(
    clients: &[Client],
    target: &Target,
    timeout: Duration,
) -> Result<()> {
    let r = resolve(clients, target).await?;
    r.guest.set_shutdown_timeout(timeout).await?;
    let config = r.guest.config().await?;
    let startup = config
        .get("startup")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            anyhow!(
                "{}: the config has no startup value after the change",
                r.label()
            )
        })?;
    let mut out = super::stdout();
    writeln!(out, "startup: {startup}")?;
    out.flush()?;
    Ok(())
}
