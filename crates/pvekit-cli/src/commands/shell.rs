/*!
`pvekit shell NODE`: an interactive root shell on a node (needs a root@pam password login).
*/

use anyhow::{Context as _, Result};
use pvekit::{Client, Terminal};

use crate::commands::Context;
use crate::commands::term::{session, size};

/// Flags of `pvekit shell`.
#[derive(clap::Args)]
pub struct Args {
    /// The node: NAME or CLUSTER/NAME.
    pub node: String,
}

/// `pvekit shell NODE`.
///
/// # Errors
/// Connection errors, unknown node, no root@pam login, terminal errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    ctx.on_clusters(async |clients| shell(clients, &args.node).await)
        .await
}

/// Opens a root shell on node `node`.
///
/// # Errors
/// Unknown node, no root@pam login, terminal errors.
async fn shell(clients: &[Client], node: &str) -> Result<()> {
    let node = super::node(clients, node)?;
    let (cols, rows) = size();
    let term = Terminal::open(&node, cols, rows)
        .await
        .with_context(|| format!("cannot open a shell on node {}", node.name()))?;
    session(term).await
}
