//! Commands, journals and log tails on nodes and in containers, over a [`Terminal`].
//!
//! The command is wrapped by [`Framing`] so it reaches the shell exactly at any size (a short
//! typed line, then the script in short base64 lines once the shell is ready), and the
//! stream carries exactly what the command printed (no banner, prompt, echo or terminal
//! translation) and ends with its exit status, which is read strictly.

use std::time::Duration;

use futures_util::Stream;
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

/// The output of a running command, then its exit status. Dropping it ends the command.
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

impl CommandStream {
    /// Runs `script` with `sh` as root on the node, or in a container through `pct exec`.
    async fn start(node: &Node, script: &str, runner: Runner) -> Result<CommandStream> {
        match node.client().login_user() {
            None => return Err(Error::NoSession),
            // Anyone else meets a login prompt on the node terminal, not a root shell.
            Some(u) if u.to_string() != "root@pam" => return Err(Error::NoSession),
            Some(_) => {}
        }
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
                match s.term.read().await {
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

    /// The next output chunk; `None` when the command ended (see [`exit_status`]).
    ///
    /// [`exit_status`]: CommandStream::exit_status
    pub async fn next(&mut self) -> Option<Result<Bytes>> {
        if let Some(e) = self.early.take() {
            return Some(Ok(e));
        }
        while !self.finished {
            if self.status.is_some() {
                self.finished = true;
                break;
            }
            match self.term.read().await {
                Some(Ok(chunk)) => {
                    let d = self.deframer.push(&chunk);
                    match d.status {
                        Some(Ok(st)) => self.status = Some(st),
                        Some(Err(message)) => {
                            self.finished = true;
                            return Some(Err(Error::Terminal { message }));
                        }
                        None => {}
                    }
                    if !d.output.is_empty() {
                        return Some(Ok(Bytes::from(d.output)));
                    }
                }
                Some(Err(e)) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                None => {
                    self.finished = true;
                    if self.status.is_none() {
                        return Some(Err(Error::Terminal {
                            message: "the session ended before the command finished".into(),
                        }));
                    }
                }
            }
        }
        None
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
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        let status = self.status.ok_or_else(|| Error::Terminal {
            message: "the command ended without an exit status".into(),
        })?;
        Ok((out, status))
    }

    /// The output as a `Stream`; dropping it ends the remote command.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> {
        futures_util::stream::unfold(
            self,
            |mut s| async move { s.next().await.map(|item| (item, s)) },
        )
    }
}

impl Node {
    /// Runs a shell command as root on the node (`sh -c`), streaming its output.
    ///
    /// # Errors
    /// [`Error::NoSession`] without a `root@pam` login; terminal errors.
    pub async fn command(&self, script: &str) -> Result<CommandStream> {
        CommandStream::start(self, script, Runner::Node).await
    }

    /// Streams the node's journal (all units when `services` is empty): the last `limit`
    /// lines, then new ones when `follow`.
    ///
    /// # Errors
    /// An invalid service name; as [`Node::command`].
    pub async fn journal(
        &self,
        services: &[String],
        limit: usize,
        follow: bool,
    ) -> Result<CommandStream> {
        self.command(&command::journalctl(services, limit, follow)?)
            .await
    }

    /// Streams the last `limit` lines of files on the node, then new ones when `follow`.
    ///
    /// # Errors
    /// An invalid path; as [`Node::command`].
    pub async fn tail(
        &self,
        files: &[String],
        limit: usize,
        follow: bool,
    ) -> Result<CommandStream> {
        self.command(&command::tail(files, limit, follow)?).await
    }
}

impl Guest {
    fn require_lxc(&self) -> Result<()> {
        if self.kind() == GuestKind::Lxc {
            Ok(())
        } else {
            Err(Error::config(
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

    /// Streams the container's journal, or `/var/log/messages` when it has no systemd
    /// journal.
    ///
    /// # Errors
    /// As [`Guest::command`]; an invalid service name.
    pub async fn journal(
        &self,
        services: &[String],
        limit: usize,
        follow: bool,
    ) -> Result<CommandStream> {
        self.command(&command::journal_with_fallback(services, limit, follow)?)
            .await
    }

    /// Streams the last `limit` lines of files inside the container.
    ///
    /// # Errors
    /// As [`Guest::command`]; an invalid path.
    pub async fn tail(
        &self,
        files: &[String],
        limit: usize,
        follow: bool,
    ) -> Result<CommandStream> {
        self.command(&command::tail(files, limit, follow)?).await
    }
}
