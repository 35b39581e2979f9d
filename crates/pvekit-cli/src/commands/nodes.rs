/*!
`pvekit nodes`: the nodes of every connected cluster, as discovered at connect time.

The rows come from each client's nodes rather than a [`pvekit::NodePool`]: the pool keys
clusters by name, so two standalone nodes that are both called `pve` would replace each other.
*/

use std::io::Write;

use anyhow::Result;
use pvekit::Client;

use crate::commands::distinct_clusters;
use crate::output::{self, Format, NodeRow};

/// Lists the nodes of `clients` on `out`, sorted by cluster then name.
///
/// # Errors
/// Write errors (a closed pipe included).
pub fn run(clients: &[Client], format: Format, out: &mut impl Write) -> Result<()> {
    let mut rows: Vec<NodeRow> = distinct_clusters(clients)
        .into_iter()
        .flat_map(Client::nodes)
        .map(|n| NodeRow {
            name: n.name().to_string(),
            id: n.id().to_string(),
            ip: n.ip().map(str::to_string),
            online: n.online(),
            cluster: n.cluster().to_string(),
        })
        .collect();
    output::sort_nodes(&mut rows);
    output::write_nodes(out, format, &rows)?;
    Ok(())
}
