/*!
`pvekit nodes`: the nodes of every connected cluster, as discovered at connect time.

The rows come from each client's member list ([`Client::members`], plain discovery data).
*/

use std::io::Write;

use anyhow::Result;
use pvekit::Client;

use crate::commands::{Context, distinct_clusters};
use crate::output::{self, Format, NodeRow};

/// `pvekit nodes`.
///
/// # Errors
/// Connection errors; write errors (a closed pipe included).
pub async fn run(ctx: &Context<'_>) -> Result<()> {
    ctx.on_clusters(async |clients| list(clients, ctx.output(), &mut super::stdout()))
        .await
}

/// Lists the nodes of `clients` on `out`, sorted by cluster then name.
///
/// # Errors
/// Write errors (a closed pipe included).
fn list(clients: &[Client], format: Format, out: &mut impl Write) -> Result<()> {
    let mut rows: Vec<NodeRow> = distinct_clusters(clients)
        .into_iter()
        .flat_map(|c| {
            c.members().into_iter().map(|m| NodeRow {
                name: m.name,
                id: m.id,
                ip: m.ip,
                online: m.online,
                cluster: c.name().to_string(),
            })
        })
        .collect();
    output::sort_nodes(&mut rows);
    output::write_nodes(out, format, &rows, output::stdout_colors(format))?;
    Ok(())
}
