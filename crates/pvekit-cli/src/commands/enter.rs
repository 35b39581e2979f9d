/*!
`pvekit enter T`: an interactive shell inside a container (`pct enter`; needs a root@pam
login).

It opens the node's terminal, types `exec pct enter VMID` into it (after printing a marker)
and hides the node's banner, prompt and the typed line up to that marker, until the
container's shell takes over; when the container's shell ends, so does the session.
*/

use anyhow::{Context as _, Result, bail};
use pvekit::types::GuestKind;
use pvekit::{Client, Terminal};

use crate::commands::term::{Hider, session, size};
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
    let term = Terminal::open(r.guest.node(), cols, rows)
        .await
        .with_context(|| format!("cannot open the terminal of node {}", r.guest.node().name()))?;
    // The marker is printed from two pieces, so the terminal's echo of the typed line (which
    // may come at once, before the banner) never contains it: everything up to the printed
    // marker is the node's banner, prompt and echo, and stays hidden.
    let nonce = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    let line = format!(
        " printf '%s%s\\n' PVEKIT {nonce:08x}E; exec pct enter {}\n",
        r.guest.vmid()
    );
    term.send(line.as_bytes()).await?;
    session(term, Hider::new(&format!("PVEKIT{nonce:08x}E"))).await
}
