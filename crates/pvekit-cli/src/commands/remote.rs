/*!
Commands that run over the node terminal: `exec`, `journal` and `tail`.

Output is copied to stdout as raw bytes, chunk by chunk, as it arrives. `exec` ends with the
remote command's exit status; `journal` and `tail` follow until Ctrl-C (or SIGTERM), which
drops the [`CommandStream`] and so ends the remote command too.

These need a `root@pam` password login (`--username root@pam --password ...`): an API token
only gets a login prompt on the node terminal.
*/

use std::io::Write;

use anyhow::{Context, Result, anyhow};
use pvekit::{Client, CommandStream};

use crate::commands::{Exit, interrupted};
use crate::settings::Place;
use crate::target::resolve;

/// Copies the stream to stdout until it ends or Ctrl-C; returns the exit status when it
/// ended by itself.
async fn pump(mut stream: CommandStream) -> Result<Option<i32>> {
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
                    out.write_all(&chunk)?;
                    out.flush()?;
                }
                None => return Ok(stream.exit_status()),
            },
        }
    }
}

/// Starts `script` in `place` (a running container, or a node).
async fn start(clients: &[Client], place: &Place, build: Builder<'_>) -> Result<CommandStream> {
    Ok(match place {
        Place::Node(name) => {
            let node = super::node(clients, name)?;
            match build {
                Builder::Script(s) => node.command(s).await?,
                Builder::Journal(u, n, f) => node.journal(u, n, f).await?,
                Builder::Tail(files, n, f) => node.tail(files, n, f).await?,
            }
        }
        Place::Guest(t) => {
            let r = resolve(clients, t).await?;
            let g = &r.guest;
            let started = match build {
                Builder::Script(s) => g.command(s).await,
                Builder::Journal(u, n, f) => g.journal(u, n, f).await,
                Builder::Tail(files, n, f) => g.tail(files, n, f).await,
            };
            started.with_context(|| r.label())?
        }
    })
}

enum Builder<'a> {
    Script(&'a str),
    Journal(&'a [String], usize, bool),
    Tail(&'a [String], usize, bool),
}

/// Maps a remote exit status to pvekit's: 0..=255 as is, anything else 255 (like ssh).
fn exit_code(status: i32) -> u8 {
    u8::try_from(status).unwrap_or(255)
}

/// `pvekit exec [T | --node NODE] -- CMD...`.
///
/// # Errors
/// [`Exit`] with the remote status when it is not 0; connection and terminal errors.
pub async fn exec(clients: &[Client], place: &Place, argv: &[String]) -> Result<()> {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let script = pvekit::core::command::join(&args);
    let stream = start(clients, place, Builder::Script(&script)).await?;
    match pump(stream).await? {
        Some(0) => Ok(()),
        Some(status) => Err(Exit(exit_code(status)).into()),
        // Interrupted: 130, as a shell reports a command ended by Ctrl-C.
        None => Err(Exit(130).into()),
    }
}

/// `pvekit journal [T | --node NODE] [-u UNIT]... [-n N]`.
///
/// # Errors
/// Connection and terminal errors; a failing `journalctl`.
pub async fn journal(
    clients: &[Client],
    place: &Place,
    units: &[String],
    lines: usize,
    follow: bool,
) -> Result<()> {
    // A node's journal without a root@pam login (only root@pam gets a shell): the REST
    // journal, which tokens and other users with Sys.Syslog may read (all units; it has no
    // unit filter).
    if let Place::Node(name) = place {
        let node = super::node(clients, name)?;
        let root = node
            .client()
            .login_user()
            .is_some_and(|u| u.to_string() == "root@pam");
        if !root && units.is_empty() {
            return journal_rest(&node, lines, follow).await;
        }
    }
    let stream = start(clients, place, Builder::Journal(units, lines, follow)).await?;
    finish(pump(stream).await?, "journalctl")
}

/// The node journal over REST, followed by polling until Ctrl-C.
async fn journal_rest(node: &pvekit::Node, lines: usize, follow: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if !follow {
        for line in node.journal_page(lines, None).await?.lines {
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let stream = node.journal_follow_rest(lines, std::time::Duration::from_secs(1));
    tokio::pin!(stream);
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            s = &mut stop => return s,
            line = futures_util::StreamExt::next(&mut stream) => match line {
                Some(line) => {
                    writeln!(out, "{}", line?)?;
                    out.flush()?;
                }
                None => return Ok(()),
            },
        }
    }
}

/// `pvekit tail [T | --node NODE] FILE... [-n N]`.
///
/// # Errors
/// Connection and terminal errors; a failing `tail`.
pub async fn tail(
    clients: &[Client],
    place: &Place,
    files: &[String],
    lines: usize,
    follow: bool,
) -> Result<()> {
    let stream = start(clients, place, Builder::Tail(files, lines, follow)).await?;
    finish(pump(stream).await?, "tail")
}

fn finish(status: Option<i32>, what: &str) -> Result<()> {
    match status {
        None | Some(0) => Ok(()),
        Some(s) => Err(anyhow!("{what} exited with status {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3), 3);
        assert_eq!(exit_code(255), 255);
        assert_eq!(exit_code(-1), 255);
        assert_eq!(exit_code(300), 255);
    }
}
