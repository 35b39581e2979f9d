/*!
`pvekit enter T`: an interactive shell inside a container (`pct enter`; needs a root@pam
login).

The library's [`pvekit::Guest::enter`] opens the node's terminal, types `exec pct enter VMID`
into it and hides the node's banner, prompt and typed line; when the container's shell ends,
so does the session.
*/

use anyhow::{Context as _, Result, bail};
use pvekit::Client;
use pvekit::types::GuestKind;

use crate::commands::term::{session, size};
use crate::commands::{Context, target};
use crate::target::{Target, resolve};

/// Flags of `pvekit enter`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
}

/// `pvekit enter T`.
///
/// # Errors
/// A malformed target (a usage error); connection errors, not a running container, no
/// root@pam login, terminal errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let target = target(&args.target)?;
    ctx.on_clusters(async |clients| enter(clients, &target).await)
        .await
}

/// Opens a shell in container `target`.
///
/// # Errors
/// Not a running container, no root@pam login, terminal errors.
async fn enter(clients: &[Client], target: &Target) -> Result<()> {
    let r = resolve(clients, target).await?;
    if r.guest.kind() != GuestKind::Lxc {
        bail!(
            "{} is a VM: `pvekit enter` opens containers only (for a VM's serial console run `qm terminal {}` in `pvekit shell {}`)",
            r.label(),
            r.guest.vmid(),
            r.guest.node().name()
        );
    }
    if !r.guest.is_running().await? {
        bail!("{} is not running", r.label());
    }
    let (cols, rows) = size();
    let term = r
        .guest
        .enter(cols, rows)
        .await
        .with_context(|| format!("cannot open a shell in {}", r.label()))?;
    session(term).await
}
