/*!
`pvekit journal [T | --node NODE]`: follows the journal of a container or a node until Ctrl-C.

Remote control characters are shown harmlessly when stdout is a terminal (see
[`crate::safe_output`]); `--raw` passes them through.
*/

use std::io::Write;

use anyhow::Result;
use futures_util::StreamExt;
use pvekit::{Client, JournalOptions};

use crate::commands::remote::{Builder, LogArgs, Place, finish, place, pump, safe_filter, start};
use crate::commands::{Context, interrupted};

/// Flags of `pvekit journal`.
#[derive(clap::Args)]
pub struct Args {
    /// The container: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    #[arg(required_unless_present = "node", conflicts_with = "node")]
    pub target: Option<String>,
    /// The journal of this node (NAME or CLUSTER/NAME) instead of a container's.
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Only this unit (repeatable).
    #[arg(short = 'u', long = "unit", value_name = "UNIT")]
    pub units: Vec<String>,
    /// History, following and raw output.
    #[command(flatten)]
    pub log: LogArgs,
}

/// `pvekit journal`.
///
/// # Errors
/// A malformed target (a usage error); connection and terminal errors; a failing
/// `journalctl`.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let place = place(args.target.as_ref(), args.node.as_ref())?;
    ctx.on_clusters(async |clients| {
        journal(
            clients,
            &place,
            &args.units,
            args.log.lines,
            !args.log.no_follow,
            args.log.raw,
        )
        .await
    })
    .await
}

/// Prints the journal of `place`.
///
/// # Errors
/// Connection and terminal errors; a failing `journalctl`.
async fn journal(
    clients: &[Client],
    place: &Place,
    units: &[String],
    lines: usize,
    follow: bool,
    raw: bool,
) -> Result<()> {
    let options = JournalOptions {
        units: units.to_vec(),
        lines,
        follow,
    };
    // A node's journal: the library picks the terminal or the REST journal for this login.
    if let Place::Node(name) = place {
        let node = super::node(clients, name)?;
        return print_lines(node.journal_lines(&options).await?, raw).await;
    }
    let stream = start(clients, place, Builder::Journal(options)).await?;
    finish(pump(stream, safe_filter(raw)).await?, "journalctl")
}

/// Prints lines until they end or Ctrl-C, control characters made safe on a terminal.
async fn print_lines(
    mut lines: impl futures_util::Stream<Item = pvekit::Result<String>> + Unpin,
    raw: bool,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let mut filter = safe_filter(raw);
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            s = &mut stop => return s,
            line = lines.next() => match line {
                Some(line) => {
                    let mut bytes = line?.into_bytes();
                    bytes.push(b'\n');
                    match &mut filter {
                        Some(f) => out.write_all(&f.filter(&bytes))?,
                        None => out.write_all(&bytes)?,
                    }
                    out.flush()?;
                }
                None => return Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::parse;

    #[test]
    fn inputs() {
        let Command::Journal(a) = parse(&["journal", "101", "-u", "nginx", "-u", "ssh"]) else {
            panic!("not journal")
        };
        assert_eq!(
            place(a.target.as_ref(), a.node.as_ref()).unwrap(),
            Place::Guest(crate::target::Target::Vmid(101))
        );
        assert_eq!(a.units, ["nginx", "ssh"]);
        assert_eq!(
            (a.log.lines, a.log.no_follow, a.log.raw),
            (100, false, false)
        );
        // Clap's own check: a container or --node.
        use crate::cli::Cli;
        use clap::Parser;
        assert!(Cli::try_parse_from(["pvekit", "journal"]).is_err());
    }
}
