/*!
What the interactive terminals of `pvekit shell NODE` and `pvekit enter T` share.

Both open the node's terminal ([`Terminal::open`], a root shell for `root@pam`). `enter` then
types `exec pct enter VMID` into it (after printing a marker) and hides the node's banner,
prompt and the typed line up to that marker, until the container's shell takes over; when the container's shell ends, so does the session.

While the session runs, the local terminal is in raw mode (when stdin is a terminal), stdin is
forwarded as typed, output is written raw, and window size changes (SIGWINCH) are forwarded.
[`RawGuard`] restores the terminal on every exit path: normal end, errors, and panics (a panic
hook restores it before the message is printed). pvekit exits when the remote side ends.
*/

use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// Drops output until the line that contains `marker` has passed (the node's banner, prompt
/// and the typed command), then lets everything through. Gives up hiding after a while or a
/// lot of output, so nothing is lost for good.
pub struct Hider {
    marker: Vec<u8>,
    held: Vec<u8>,
    done: bool,
}

impl Hider {
    const LIMIT: usize = 64 * 1024;

    /// Hides output until the line with `marker` has passed.
    pub fn new(marker: &str) -> Hider {
        Hider {
            marker: marker.as_bytes().to_vec(),
            held: Vec::new(),
            done: false,
        }
    }

    /// Hides nothing.
    pub fn off() -> Hider {
        Hider {
            marker: Vec::new(),
            held: Vec::new(),
            done: true,
        }
    }

    /// What to show of `chunk`.
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.done {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        if let Some(at) = find(&self.held, &self.marker)
            && let Some(nl) = self.held[at..].iter().position(|b| *b == b'\n')
        {
            self.done = true;
            return self.held.split_off(at + nl + 1);
        }
        if self.held.len() > Self::LIMIT {
            return self.flush();
        }
        Vec::new()
    }

    /// Gives up hiding: everything held so far.
    fn flush(&mut self) -> Vec<u8> {
        self.done = true;
        std::mem::take(&mut self.held)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs the session until the remote side ends.
pub async fn session(mut term: Terminal, mut hider: Hider) -> Result<()> {
    let _guard = RawGuard::enter()?;
    let mut input = spawn_stdin();
    let mut input_open = true;
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .context("cannot listen for window size changes")?;
    let give_up_hiding = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(give_up_hiding);
    let mut out = io::stdout().lock();
    loop {
        tokio::select! {
            chunk = term.next() => match chunk {
                Some(chunk) => {
                    let shown = hider.push(&chunk?);
                    out.write_all(&shown)?;
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
            () = &mut give_up_hiding, if !hider.done => {
                out.write_all(&hider.flush())?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_until_the_typed_line_has_passed() {
        let mut h = Hider::new("exec pct enter 101");
        assert!(
            h.push(b"Linux pve1 6.8\r\nroot@pve1:~# exec pct ")
                .is_empty()
        );
        assert_eq!(h.push(b"enter 101\r\nroot@web:/# "), b"root@web:/# ");
        assert!(h.done);
        assert_eq!(h.push(b"ls\r\n"), b"ls\r\n");
    }

    #[test]
    fn gives_up_hiding_after_a_lot_of_output() {
        let mut h = Hider::new("never");
        let big = vec![b'x'; Hider::LIMIT + 1];
        assert_eq!(h.push(&big).len(), big.len());
        assert!(h.done);
        let mut h = Hider::new("never");
        assert!(h.push(b"abc").is_empty());
        assert_eq!(h.flush(), b"abc");
        assert_eq!(Hider::off().push(b"x"), b"x");
    }
}
