/*!
What the commands that run over the node terminal share: `exec`, `journal` and `tail`.

Output is copied to stdout as raw bytes, chunk by chunk, as it arrives. `exec` ends with the
remote command's exit status; `journal` and `tail` follow until Ctrl-C (or SIGTERM), which
drops the [`CommandStream`] and so ends the remote command too.

These need a `root@pam` password login (`--username root@pam --password ...`): an API token
only gets a login prompt on the node terminal.

`journal` and `tail` show remote control characters harmlessly when stdout is a terminal
(see [`crate::safe_output`]); `--raw` passes them through. `exec` is always raw, like
`docker exec`. `exec --timeout` ends the remote command and exits 124, as `timeout(1)` does.
*/

use std::io::{IsTerminal, Write};

use anyhow::{Context as _, Result, anyhow};
use futures_util::StreamExt;
use pvekit::{Client, CommandStream, JournalOptions, TailOptions};

use crate::commands::{interrupted, target};
use crate::safe_output::ControlFilter;
use crate::settings::usage;
use crate::target::{Target, resolve};

/// Where a command runs: in a container, or on a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// A container.
    Guest(Target),
    /// A node, `NAME` or `CLUSTER/NAME`.
    Node(String),
}

/// The place of `[T | --node NODE]`.
///
/// # Errors
/// A malformed target, or both or neither given (usage errors).
pub fn place(target: Option<&String>, node: Option<&String>) -> Result<Place> {
    match (target, node) {
        (Some(t), None) => Ok(Place::Guest(self::target(t)?)),
        (None, Some(n)) => Ok(Place::Node(n.clone())),
        _ => Err(usage("give either a container or --node NODE")),
    }
}

/// The flags `journal` and `tail` share: how much history, following, raw output.
#[derive(clap::Args)]
pub struct LogArgs {
    /// Show this many lines of history first.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 100)]
    pub lines: usize,
    /// Print the history and exit instead of following.
    #[arg(long)]
    pub no_follow: bool,
    /// Write control characters as they come, even to a terminal (by default they are
    /// shown as `^[` and the like, so log lines cannot drive the terminal).
    #[arg(long)]
    pub raw: bool,
}

/// Copies the stream to stdout until it ends or Ctrl-C; returns the exit status when it
/// ended by itself. With a filter, control characters are neutralised on the way.
pub async fn pump(
    mut stream: CommandStream,
    mut filter: Option<ControlFilter>,
) -> Result<Option<i32>> {
    let mut out = std::io::stdout().lock();
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            s = &mut stop => {
                s?;
                // Dropping the stream closes the terminal, which ends the remote command.
                drop(stream);
                return Ok(None);
            }
            chunk = stream.next() => match chunk {
                Some(chunk) => {
                    let chunk = chunk.context("the remote command's output broke off")?;
                    match &mut filter {
                        Some(f) => out.write_all(&f.filter(&chunk))?,
                        None => out.write_all(&chunk)?,
                    }
                    out.flush()?;
                }
                None => {
                    if let Some(f) = &mut filter {
                        out.write_all(&f.finish())?;
                    }
                    return Ok(stream.exit_status());
                }
            },
        }
    }
}

/// Starts `script` in `place` (a running container, or a node).
pub async fn start(clients: &[Client], place: &Place, build: Builder<'_>) -> Result<CommandStream> {
    Ok(match place {
        Place::Node(name) => {
            let node = super::node(clients, name)?;
            match build {
                Builder::Script(s) => node.command(s).await?,
                Builder::Journal(o) => node.journal(&o).await?,
                Builder::Tail(o) => node.tail(&o).await?,
            }
        }
        Place::Guest(t) => {
            let r = resolve(clients, t).await?;
            let g = &r.guest;
            let started = match build {
                Builder::Script(s) => g.command(s).await,
                Builder::Journal(o) => g.journal(&o).await,
                Builder::Tail(o) => g.tail(&o).await,
            };
            started.with_context(|| r.label())?
        }
    })
}

/// What [`start`] runs.
pub enum Builder<'a> {
    /// A shell command line.
    Script(&'a str),
    /// `journalctl`.
    Journal(JournalOptions),
    /// `tail`.
    Tail(TailOptions),
}

/// The control-character filter for log output: on unless `--raw` or stdout is not a
/// terminal (a file or pipe gets the bytes as they are).
pub fn safe_filter(raw: bool) -> Option<ControlFilter> {
    (!raw && std::io::stdout().is_terminal()).then(ControlFilter::new)
}

/// Ok for a stream ended by Ctrl-C or with status 0; otherwise `what` exited with an error.
///
/// # Errors
/// `what` exited with a status other than 0.
pub fn finish(status: Option<i32>, what: &str) -> Result<()> {
    match status {
        None | Some(0) => Ok(()),
        Some(s) => Err(anyhow!("{what} exited with status {s}")),
    }
}
