/*!
What the interactive terminals of `pvekit shell NODE` and `pvekit enter T` share.

`shell` opens the node's terminal ([`Terminal::open`], a root shell for `root@pam`); `enter`
opens a container's shell through it ([`pvekit::Guest::enter`]).

While the session runs, the local terminal is in raw mode (when stdin is a terminal), stdin is
forwarded as typed, output is written raw, and window size changes (SIGWINCH) are forwarded.
[`RawGuard`] restores the terminal on every exit path: normal end, errors, and panics (a panic
hook restores it before the message is printed). pvekit exits when the remote side ends.
*/

use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};
use futures_util::StreamExt;
use pvekit::Terminal;
use ratatui::crossterm::terminal;
use tokio::sync::mpsc;

/// Whether raw mode is on; the panic hook restores only then.
static RAW: AtomicBool = AtomicBool::new(false);

fn restore() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
    }
}

/// Raw mode for the lifetime of the guard (only when stdin is a terminal).
struct RawGuard;

impl RawGuard {
    fn enter() -> Result<RawGuard> {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        if io::stdin().is_terminal() {
            terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
            RAW.store(true, Ordering::SeqCst);
        }
        Ok(RawGuard)
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// The local window size, or 80×24 when stdout is not a terminal.
pub fn size() -> (u16, u16) {
    terminal::size().unwrap_or((80, 24))
}

/// Reads stdin on a thread of its own (a blocking read must not hold the runtime at exit);
/// `None` marks the end of input.
fn spawn_stdin() -> mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut stdin = io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.blocking_send(None);
                    return;
                }
                Ok(n) => {
                    if tx.blocking_send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Runs the session until the remote side ends.
pub async fn session(mut term: Terminal) -> Result<()> {
    let _guard = RawGuard::enter()?;
    let mut input = spawn_stdin();
    let mut input_open = true;
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .context("cannot listen for window size changes")?;
    let mut out = io::stdout().lock();
    loop {
        tokio::select! {
            chunk = term.next() => match chunk {
                Some(chunk) => {
                    out.write_all(&chunk?)?;
                    out.flush()?;
                }
                None => break,
            },
            data = input.recv(), if input_open => match data.flatten() {
                Some(data) => term.send(&data).await?,
                None => input_open = false,
            },
            _ = winch.recv() => {
                let (cols, rows) = size();
                term.resize(cols, rows).await?;
            }
        }
    }
    Ok(())
}
