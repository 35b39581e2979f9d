/*!
`pvekit node-stats NODE`: a node's figures as GoDoxy's NodeStats JSON, once or one line per
interval.
*/

use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;
use pvekit::Client;

use crate::commands::{Context, interrupted, seconds};
use crate::output;

/// Flags of `pvekit node-stats`.
#[derive(clap::Args)]
pub struct Args {
    /// The node: NAME or CLUSTER/NAME.
    pub node: String,
    /// Print a new JSON line every interval until Ctrl-C.
    #[arg(long)]
    pub stream: bool,
    /// Seconds between lines with --stream.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub interval: f64,
}

/// `pvekit node-stats NODE [--stream]`.
///
/// # Errors
/// An interval out of range (a usage error); connection errors, an unknown node, API errors;
/// write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let interval = seconds("--interval", args.interval)?;
    ctx.on_clusters(async |clients| node(clients, &args.node, args.stream, interval).await)
        .await
}

/// One JSON line per figure set of node `name`.
///
/// # Errors
/// Unknown node; API errors; write errors.
async fn node(clients: &[Client], name: &str, stream: bool, interval: Duration) -> Result<()> {
    let node = super::node(clients, name)?;
    let mut out = super::stdout();
    if !stream {
        output::write_json_line(&mut out, &node.stats().await?)?;
        return Ok(());
    }
    let stats = node.stats_stream(interval);
    tokio::pin!(stats);
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            s = &mut stop => return s,
            item = stats.next() => match item {
                Some(s) => output::write_json_line(&mut out, &s?)?,
                None => return Ok(()),
            },
        }
    }
}
