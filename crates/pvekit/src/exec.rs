//! Commands, journals and log tails on nodes and in containers, over a [`Terminal`].
//!
//! The command is wrapped by [`Framing`] so it reaches the shell exactly at any size (a short
//! typed line, then the script in short base64 lines once the shell is ready), and the
//! stream carries exactly what the command printed (no banner, prompt, echo or terminal
//! translation) and ends with its exit status, which is read strictly.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pvekit_core::command::{self, Deframer, Framing, Runner};
use pvekit_core::types::GuestKind;
use tokio_tungstenite::tungstenite::Bytes;

use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::node::Node;
use crate::terminal::Terminal;

/// How long the shell may take to start the command before the session is given up.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Terminal width for commands: wide, so tools that cut lines to the width do not.
const COMMAND_COLS: u16 = 500;

/// The output of a running command, as a `Stream` of chunks; once it has ended,
/// [`CommandStream::exit_status`] holds the command's exit status. Dropping it ends the
/// command.
///
/// ```no_run
/// # async fn demo(node: pvekit::Node) -> Result<(), pvekit::Error> {
/// use futures_util::StreamExt;
/// let mut cmd = node.command("apt-get -s upgrade").await?;
/// while let Some(chunk) = cmd.next().await {
///     print!("{}", String::from_utf8_lossy(&chunk?));
/// }
/// println!("exit status {:?}", cmd.exit_status());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CommandStream {
    term: Terminal,
    deframer: Deframer,
    early: Option<Bytes>,
    status: Option<i32>,
    finished: bool,
}

/// A framing nonce from the operating system's CSPRNG: output that could guess it could
/// forge the end marker and so the exit status.
fn nonce() -> Result<u64> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Terminal {
            message: "the system's random number generator failed".into(),
        })?;
    Ok(u64::from_le_bytes(bytes))
}

/// A root shell on the node's terminal needs the `root@pam` password login: anyone else meets
/// a login prompt there.
fn require_root_login(node: &Node) -> Result<()> {
    match node.client().login_user() {
        None => Err(Error::NoSession),
        Some(u) if u.to_string() != "root@pam" => Err(Error::NotRootPam {
            user: u.to_string(),
        }),
        Some(_) => Ok(()),
    }
}

impl CommandStream {
    /// Runs `script` with `sh` as root on the node, or in a container through `pct exec`.
    async fn start(node: &Node, script: &str, runner: Runner) -> Result<CommandStream> {
        require_root_login(node)?;
        let framing = Framing::new(nonce()?);
        let framed = framing.command(script, runner);
        let term = Terminal::open(node, COMMAND_COLS, 50).await?;
        term.send(framed.line.as_bytes()).await?;
        let mut s = CommandStream {
            term,
            deframer: framing.deframer(),
            early: None,
            status: None,
            finished: false,
        };
        // Wait for the ready marker, send the script, then wait for the start marker: a
        // shell that never comes up is an error, not a hang.
        let waited = tokio::time::timeout(START_TIMEOUT, async {
            let mut early = Vec::new();
            let mut sent = false;
            while !s.deframer.started() {
                match s.term.next().await {
                    Some(Ok(chunk)) => {
                        let d = s.deframer.push(&chunk);
                        early.extend(d.output);
                        if d.ready && !sent {
                            s.term.send(&framed.payload).await?;
                            sent = true;
                        }
                        if let Some(st) = d.status {
                            s.status = Some(st.map_err(|message| Error::Terminal { message })?);
                        }
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(Error::Terminal {
                            message: "the terminal closed before the command started".into(),
                        });
                    }
                }
            }
            Ok(early)
        })
        .await;
        let early = match waited {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Timeout {
                    what: "starting the command on the node terminal".into(),
                    after: START_TIMEOUT,
                });
            }
        };
        s.early = (!early.is_empty()).then(|| Bytes::from(early));
        Ok(s)
    }

    /// The command's exit status, once the stream has ended.
    pub fn exit_status(&self) -> Option<i32> {
        self.status
    }

    /// Reads everything: the whole output and the exit status.
    ///
    /// # Errors
    /// The session broke before the command finished.
    pub async fn output(mut self) -> Result<(Vec<u8>, i32)> {
        let mut out = Vec::new();
        while let Some(chunk) = StreamExt::next(&mut self).await {
            out.extend_from_slice(&chunk?);
        }
        let status = self.status.ok_or_else(|| Error::Terminal {
            message: "the command ended without an exit status".into(),
        })?;
        Ok((out, status))
    }
}

/// What [`Node::journal`] and [`Guest::journal`] show: the last `lines` entries of the
/// given units (every unit when none), then new ones while following.
///
/// ```
/// let options = pvekit::JournalOptions::last(50).unit("nginx").follow();
/// assert_eq!((options.lines, options.follow), (50, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// Only these units (`-u`); every unit when empty.
    pub units: Vec<String>,
    /// How many entries of history first (default 100).
    pub lines: usize,
    /// Keep following new entries until the stream is dropped (default no).
    pub follow: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions::last(100)
    }
}

impl JournalOptions {
    /// The last `lines` entries of every unit, not following.
    pub fn last(lines: usize) -> Self {
        JournalOptions {
            units: Vec::new(),
            lines,
            follow: false,
        }
    }

    /// Adds a unit.
    #[must_use]
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.units.push(unit.into());
        self
    }

    /// Follows new entries.
    #[must_use]
    pub fn follow(mut self) -> Self {
        self.follow = true;
        self
    }
}

/// What [`Node::tail`] and [`Guest::tail`] show: the last `lines` lines of the files, then
/// new ones while following (by name, across rotation: `tail -F`).
///
/// ```
/// let options = pvekit::TailOptions::files(["/var/log/syslog"]).last(20).follow();
/// assert_eq!(options.files, ["/var/log/syslog"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailOptions {
    /// The files (at least one).
    pub files: Vec<String>,
    /// How many lines of each file first (default 100).
    pub lines: usize,
    /// Keep following until the stream is dropped (default no).
    pub follow: bool,
}

impl TailOptions {
    /// The `tail` command line.
    fn script(&self) -> Result<String> {
        Ok(command::tail(&self.files, self.lines, self.follow)?)
    }

    /// The last 100 lines of these files, not following.
    pub fn files<S: Into<String>>(files: impl IntoIterator<Item = S>) -> Self {
        TailOptions {
            files: files.into_iter().map(Into::into).collect(),
            lines: 100,
            follow: false,
        }
    }

    /// Sets how many lines of history come first.
    #[must_use]
    pub fn last(mut self, lines: usize) -> Self {
        self.lines = lines;
        self
    }

    /// Follows new lines.
    #[must_use]
    pub fn follow(mut self) -> Self {
        self.follow = true;
        self
    }
}

impl Stream for CommandStream {
    type Item = Result<Bytes>;

    /// The next output chunk; `None` when the command ended (its status is then in
    /// [`CommandStream::exit_status`]); an error when the session broke first or the
    /// status was unreadable.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(e) = this.early.take() {
            return Poll::Ready(Some(Ok(e)));
        }
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            if this.status.is_some() {
                this.finished = true;
                return Poll::Ready(None);
            }
            match ready!(this.term.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => {
                    let d = this.deframer.push(&chunk);
                    match d.status {
                        Some(Ok(st)) => this.status = Some(st),
                        Some(Err(message)) => {
                            this.finished = true;
                            return Poll::Ready(Some(Err(Error::Terminal { message })));
                        }
                        None => {}
                    }
                    if !d.output.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(d.output))));
                    }
                }
                Some(Err(e)) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.finished = true;
                    if this.status.is_none() {
                        return Poll::Ready(Some(Err(Error::Terminal {
                            message: "the session ended before the command finished".into(),
                        })));
                    }
                }
            }
        }
    }
}

impl Node {
    /// Runs a shell command as root on the node (`sh -c`), streaming its output.
    ///
    /// # Errors
    /// [`Error::NoSession`] without a password login, [`Error::NotRootPam`] for a login
    /// other than `root@pam`; terminal errors.
    pub async fn command(&self, script: &str) -> Result<CommandStream> {
        CommandStream::start(self, script, Runner::Node).await
    }

    /// Streams the node's journal (`journalctl`): see [`JournalOptions`].
    ///
    /// # Errors
    /// An invalid unit name; as [`Node::command`].
    pub async fn journal(&self, options: &JournalOptions) -> Result<CommandStream> {
        self.command(&command::journalctl(
            &options.units,
            options.lines,
            options.follow,
        )?)
        .await
    }

    /// Streams files on the node (`tail`): see [`TailOptions`].
    ///
    /// # Errors
    /// An invalid path; as [`Node::command`].
    pub async fn tail(&self, options: &TailOptions) -> Result<CommandStream> {
        self.command(&options.script()?).await
    }
}

impl Guest {
    fn require_lxc(&self) -> Result<()> {
        if self.kind() == GuestKind::Lxc {
            Ok(())
        } else {
            Err(Error::unsupported(
                "commands run only in containers (pct exec); VMs need their own agent",
            ))
        }
    }

    async fn require_running(&self) -> Result<()> {
        if self.is_running().await? {
            Ok(())
        } else {
            Err(Error::Terminal {
                message: format!("CT {} is not running", self.vmid()),
            })
        }
    }

    /// Runs a shell command inside the container (`pct exec VMID -- sh -c`), streaming its
    /// output.
    ///
    /// # Errors
    /// The container is not running; as [`Node::command`].
    pub async fn command(&self, script: &str) -> Result<CommandStream> {
        self.require_lxc()?;
        self.require_running().await?;
        CommandStream::start(self.node(), script, Runner::Container { vmid: self.vmid() }).await
    }

    /// Opens an interactive root shell inside the running container, as `pct enter` does
    /// on its node: the node's terminal, with `exec pct enter VMID` typed into it after a
    /// printed marker, and the node's banner, prompt and typed line hidden up to that marker
    /// (core's [`Framing`], with a nonce from the OS's CSPRNG). When the container's shell
    /// exits, the session ends.
    ///
    /// # Errors
    /// As [`Guest::command`].
    pub async fn enter(&self, cols: u16, rows: u16) -> Result<Terminal> {
        self.require_lxc()?;
        require_root_login(self.node())?;
        self.require_running().await?;
        let framing = Framing::new(nonce()?);
        let mut term = Terminal::open(self.node(), cols, rows).await?;
        term.send(framing.enter_line(self.vmid()).as_bytes())
            .await?;
        term.hide_until(framing.skipper());
        Ok(term)
    }

    /// Streams the container's journal, or its `/var/log/messages` when it has no systemd
    /// journal (GoDoxy's fallback): see [`JournalOptions`].
    ///
    /// # Errors
    /// As [`Guest::command`]; an invalid unit name.
    pub async fn journal(&self, options: &JournalOptions) -> Result<CommandStream> {
        let script = command::journal_with_fallback(&options.units, options.lines, options.follow)?;
        self.command(&script).await
    }

    /// Streams files inside the container: see [`TailOptions`].
    ///
    /// # Errors
    /// As [`Guest::command`]; an invalid path.
    pub async fn tail(&self, options: &TailOptions) -> Result<CommandStream> {
        self.command(&options.script()?).await
    }
}
