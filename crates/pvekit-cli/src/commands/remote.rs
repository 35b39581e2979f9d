/*!
Commands that run over the node terminal: `exec`, `journal` and `tail`.

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
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use futures_util::StreamExt;
use pvekit::{Client, CommandStream, JournalOptions, TailOptions};

use crate::commands::{Exit, interrupted};
use crate::safe_output::ControlFilter;
use crate::settings::Place;
use crate::target::resolve;

/// Copies the stream to stdout until it ends or Ctrl-C; returns the exit status when it
/// ended by itself. With a filter, control characters are neutralised on the way.
async fn pump(mut stream: CommandStream, mut filter: Option<ControlFilter>) -> Result<Option<i32>> {
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
async fn start(clients: &[Client], place: &Place, build: Builder<'_>) -> Result<CommandStream> {
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

enum Builder<'a> {
    Script(&'a str),
    Journal(JournalOptions),
    Tail(TailOptions),
}

/// Maps a remote exit status to pvekit's: 0..=255 as is, anything else 255 (like ssh).
fn exit_code(status: i32) -> u8 {
    u8::try_from(status).unwrap_or(255)
}

/// `pvekit exec [T | --node NODE] -- CMD...`.
///
/// # Errors
/// [`Exit`] with the remote status when it is not 0; connection and terminal errors.
pub async fn exec(
    clients: &[Client],
    place: &Place,
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<()> {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let script = pvekit::core::command::join(&args);
    let run = async {
        let stream = start(clients, place, Builder::Script(&script)).await?;
        pump(stream, None).await
    };
    let status = match timeout {
        None => run.await?,
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(status) => status?,
            Err(_) => {
                // The stream was dropped with the future, which ended the remote command.
                eprintln!(
                    "pvekit: the command did not finish within {} s and was ended",
                    limit.as_secs_f64()
                );
                return Err(Exit(124).into());
            }
        },
    };
    match status {
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
    raw: bool,
) -> Result<()> {
    let options = TailOptions {
        files: files.to_vec(),
        lines,
        follow,
    };
    let stream = start(clients, place, Builder::Tail(options)).await?;
    finish(pump(stream, safe_filter(raw)).await?, "tail")
}

/// The control-character filter for log output: on unless `--raw` or stdout is not a
/// terminal (a file or pipe gets the bytes as they are).
fn safe_filter(raw: bool) -> Option<ControlFilter> {
    (!raw && std::io::stdout().is_terminal()).then(ControlFilter::new)
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
