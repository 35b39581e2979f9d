//! One terminal session on an upgraded websocket: termproxy's auth line, `OK`, a real shell
//! in a pseudo-terminal, and the byte pump between them.
//!
//! Framing follows pveproxy: frames from the server are binary only, at most 128 KiB; text
//! and binary frames from the client both carry protocol bytes; pings are answered; a close
//! frame or EOF from the client ends the session without a close frame back, and the end of
//! the session is a bare close of the connection (no close frame either).
//!
//! Faults ([`SessionFaults`]): a session ends when the listener it came on stops; a
//! `websocket_drop` fault resets the connection mid-stream, a `termproxy_no_ok` fault never
//! answers `OK`.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::agent::{Scope, ct_info};
use super::protocol::{Event, Parser};
use super::sandbox::{PATH, Sandbox, kill_tree};
use super::{CONNECT_TIMEOUT, Pending, Target};
use crate::faults::FaultKind;
use crate::listeners::{ConnSocket, Front};
use crate::state::AppState;
use pvekit_core::types::GuestKind;

/// The faults of one terminal session (from the vncwebsocket request), and the listener's
/// stop signal.
pub(crate) struct SessionFaults {
    /// termproxy never answers `OK`.
    no_ok: bool,
    /// Drop the connection once this many output bytes went out after `OK`.
    drop_after_bytes: Option<usize>,
    /// Drop the connection this long after `OK`.
    drop_after: Option<Duration>,
    /// The connection's socket, to reset it.
    socket: Option<ConnSocket>,
    /// The listener's stop signal.
    stopped: tokio::sync::watch::Receiver<bool>,
}

impl SessionFaults {
    /// The faults for a session whose request's answer fault is `kind`, on `front`'s listener.
    pub fn new(kind: Option<&FaultKind>, front: &Front, socket: Option<&ConnSocket>) -> Self {
        let mut f = SessionFaults {
            no_ok: false,
            drop_after_bytes: None,
            drop_after: None,
            socket: socket.cloned(),
            stopped: front.stopped.clone(),
        };
        match kind {
            Some(FaultKind::TermproxyNoOk) => f.no_ok = true,
            Some(FaultKind::WebsocketDrop {
                after_bytes,
                after_ms,
            }) => {
                f.drop_after_bytes = *after_bytes;
                f.drop_after = after_ms.map(Duration::from_millis);
                if after_bytes.is_none() && after_ms.is_none() {
                    f.drop_after = Some(Duration::ZERO);
                }
            }
            _ => {}
        }
        f
    }

    /// Resolves when the listener stops.
    async fn stopped(&mut self) {
        let _ = self.stopped.wait_for(|s| *s).await;
    }
}

/// Largest frame pveproxy forwards (and accepts).
pub(crate) const MAX_FRAME: usize = 128 * 1024;
/// The PTY size termproxy starts with.
const INITIAL_COLS: u16 = 80;
const INITIAL_ROWS: u16 = 20;
/// The longest auth line accepted.
const MAX_AUTH_LINE: usize = 4096;

/// Ends the session when dropped, however the session future ends (even when cancelled).
struct Closer {
    st: Arc<AppState>,
    port: u16,
    upid: String,
    result: Result<(), String>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        let result = std::mem::replace(&mut self.result, Ok(()));
        self.st
            .terminals
            .close(&self.st, self.port, &self.upid, result);
    }
}

/// Runs the session waiting on `port` over `ws`; returns when it is over.
pub(crate) async fn run(st: Arc<AppState>, port: u16, ws: WebSocket, mut faults: SessionFaults) {
    let Some(session) = st.terminals.claim(port) else {
        // Nothing listens there (any more): the proxy connection fails, the socket closes.
        return;
    };
    let mut closer = Closer {
        st: st.clone(),
        port,
        upid: session.upid.clone(),
        result: Ok(()),
    };
    let (mut sink, mut stream) = ws.split();
    let mut shutdown = st.terminals.shutdown_signal();
    let mut changes = st.terminals.changes();

    // The auth line, within 10 s.
    let mut pending: Vec<u8> = Vec::new();
    let mut stopped = faults.stopped.clone();
    let line = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let line = pending[..i].to_vec();
                pending.drain(..=i);
                return Some(line);
            }
            if pending.len() > MAX_AUTH_LINE {
                return None;
            }
            let next = tokio::select! {
                m = stream.next() => m,
                _ = stopped.wait_for(|s| *s) => None,
            };
            match next {
                Some(Ok(Message::Binary(b))) => pending.extend_from_slice(&b),
                Some(Ok(Message::Text(t))) => pending.extend_from_slice(t.as_bytes()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    })
    .await;
    let Ok(Some(line)) = line else {
        closer.result = Err("authentication failed - no ticket".into());
        return;
    };
    if !auth_ok(&st, &session, &line) {
        closer.result = Err("authentication failed".into());
        return;
    }
    if !st.terminal_ok_delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(st.terminal_ok_delay) => {}
            _ = shutdown.changed() => return,
            () = faults.stopped() => return,
        }
    }
    if faults.no_ok {
        // A `termproxy_no_ok` fault: the handshake never completes; whatever the client
        // sends is read and dropped until it gives up or the listener or simulator stops.
        closer.result = Err("no OK sent (fault)".into());
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                () = faults.stopped() => return,
                m = stream.next() => match m {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    if sink
        .send(Message::Binary(Bytes::from_static(b"OK")))
        .await
        .is_err()
    {
        return;
    }

    let spec = match build(&st, &session).await {
        Ok(Some(spec)) => spec,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "pvekit-sim: terminal could not start");
            closer.result = Err(e);
            return;
        }
    };
    let (pty, pts) = match pty_process::open() {
        Ok(p) => p,
        Err(e) => {
            closer.result = Err(format!("openpty failed: {e}"));
            return;
        }
    };
    let _ = pty.resize(pty_process::Size::new(INITIAL_ROWS, INITIAL_COLS));
    let bwrap = match st.terminals.state.bwrap() {
        Ok(b) => b.to_path_buf(),
        Err(why) => {
            closer.result = Err(format!("unable to start terminal: {why}"));
            return;
        }
    };
    let mut command = pty_process::Command::new(bwrap)
        .args(spec.args)
        .env_clear()
        .envs(spec.env)
        .current_dir("/")
        .kill_on_drop(true);
    let user = st.terminals.state.user();
    if user.switch {
        command = command.uid(user.uid).gid(user.gid);
    }
    let mut child = match command.spawn(pts) {
        Ok(c) => c,
        Err(e) => {
            closer.result = Err(format!("unable to start terminal: {e}"));
            return;
        }
    };
    let (mut reader, mut writer) = pty.into_split();
    let mut parser = Parser::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut input: Vec<Event> = parser.push(&pending);
    let mut sent: usize = 0;
    let drop_at = faults.drop_after.map(|d| tokio::time::Instant::now() + d);
    let mut dropped = false;

    'pump: loop {
        for ev in input.drain(..) {
            match ev {
                Event::Input(data) => {
                    if writer.write_all(&data).await.is_err() {
                        break 'pump;
                    }
                }
                Event::Resize { cols, rows } => {
                    let _ = writer.resize(pty_process::Size::new(rows, cols));
                }
                Event::Keepalive => st.terminals.count_keepalive(),
            }
        }
        if faults.drop_after_bytes.is_some_and(|n| sent >= n) {
            dropped = true;
            break;
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            () = faults.stopped() => break,
            () = async {
                match drop_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                dropped = true;
                break;
            }
            // A change at run time took the node offline or removed the container.
            r = changes.changed() => if r.is_err() || !still_there(&st, &session) {
                break;
            },
            r = reader.read(&mut buf) => match r {
                // EIO once the child side is gone: the end of the session.
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let n = faults
                        .drop_after_bytes
                        .map_or(n, |limit| n.min(limit.saturating_sub(sent).max(1)));
                    sent += n;
                    let frame = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                    if sink.send(frame).await.is_err() {
                        break;
                    }
                }
            },
            m = stream.next() => match m {
                Some(Ok(Message::Binary(b))) => input = parser.push(&b),
                Some(Ok(Message::Text(t))) => input = parser.push(t.as_bytes()),
                // tungstenite queues the pong; flushing sends it now.
                Some(Ok(Message::Ping(_))) => {
                    if sink.flush().await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
        }
    }
    if dropped {
        // A `websocket_drop` fault: the connection is reset (SO_LINGER 0, then closed below),
        // as when a proxy on the way goes away mid-stream.
        if let Some(s) = &faults.socket {
            s.reset_on_close();
        }
    }
    kill_tree(&mut child);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
    drop(reader);
    drop(writer);
    // Dropping the websocket without a close frame closes the connection bare.
    drop(sink);
    drop(stream);
}

/// Whether the session's node is still online and its container still there.
fn still_there(st: &AppState, s: &Pending) -> bool {
    let model = st.model();
    let online = model.reachable_node(usize::MAX, &s.node).is_ok();
    match s.target {
        Target::Node { .. } => online,
        Target::Ct { vmid } => online && model.guest_on(&s.node, vmid, GuestKind::Lxc).is_ok(),
    }
}

/// termproxy's check of `<user>:<ticket>`: the user it was started for, the ticket it was
/// started with, and that ticket still valid for (user, path, port).
fn auth_ok(st: &AppState, s: &Pending, line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    let Some((user, ticket)) = line.split_once(':') else {
        return false;
    };
    user == s.authid
        && ticket == s.ticket
        && st
            .auth
            .verify_vnc_ticket(ticket, &s.authid, &s.authpath, s.port, st.clock.now())
}

/// What to run: bwrap's arguments and the environment.
struct Spec {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
}

fn env(term_user: bool) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = [
        ("PATH", PATH),
        ("USER", "root"),
        ("HOME", "/root"),
        ("LANG", "C.UTF-8"),
        ("TERM", "xterm-256color"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if term_user {
        e.push(("LOGNAME".into(), "root".into()));
        e.push(("SHELL".into(), "/bin/bash".into()));
    }
    e
}

/// The root shell's start: the banner pam_motd shows, the last-login line, then bash.
fn root_login(last_login: i64, before: &str) -> String {
    format!(
        "cat /run/motd.dynamic /etc/motd 2>/dev/null; \
         printf 'Last login: %s from 10.0.0.2 on pts/0\\n' \"$(date -u -d @{last_login} '+%a %b %e %H:%M:%S %Z %Y')\"; \
         {before}exec /bin/bash --noprofile --rcfile /root/.bashrc -i"
    )
}

/// Prepares the roots (once per node and run) and builds the command of a session; `None`
/// when there is nothing to run (a stopped container: the console ends at once).
async fn build(st: &Arc<AppState>, s: &Pending) -> Result<Option<Spec>, String> {
    let now = st.clock.now();
    let (vmids, node_seed, ct) = {
        let model = st.model();
        let vmids: Vec<u32> = model
            .guests_of(&s.node)
            .filter(|g| g.kind == GuestKind::Lxc)
            .map(|g| g.vmid)
            .collect();
        let seed = model
            .node_index
            .get(&s.node)
            .map(|&i| model.nodes[i].seed)
            .unwrap_or(0);
        let ct = match &s.target {
            Target::Ct { vmid } => match model.guests.get(vmid) {
                Some(g) if g.running => Some((
                    ct_info(g),
                    g.config
                        .get("cmode")
                        .cloned()
                        .unwrap_or_else(|| "tty".into()),
                )),
                _ => return Ok(None),
            },
            Target::Node { .. } => None,
        };
        (vmids, seed, ct)
    };
    st.terminals.setup_node(st, &s.node).await?;

    let state = &st.terminals.state;
    let socket = |scope: Scope| {
        st.terminals
            .agents
            .socket_dir(st, scope)
            .map_err(|e| format!("unable to start terminal: agent socket: {e}"))
    };
    let node_sandbox = |chdir: &str| -> Result<Sandbox, String> {
        Ok(Sandbox {
            root: state.node_root(&s.node),
            hostname: s.node.clone(),
            tools: "node",
            agent: socket(Scope::Node(s.node.clone()))?,
            binds: vmids
                .iter()
                .map(|v| (state.ct_root(*v), format!("/var/lib/lxc/{v}/rootfs")))
                .collect(),
            chdir: chdir.into(),
        })
    };
    let last_login = now - 600 - (node_seed % 86_000) as i64;
    let (sandbox, command, env) = match (&s.target, ct) {
        (
            Target::Node {
                root_shell: true,
                cmd,
            },
            _,
        ) => {
            let before = match cmd.as_str() {
                "upgrade" => {
                    "printf 'Starting system upgrade: apt-get dist-upgrade\\n\
                     Reading package lists... Done\\nBuilding dependency tree... Done\\n\
                     Reading state information... Done\\nCalculating upgrade... Done\\n\
                     0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\\n\\n\
                     Your System is up-to-date\\n\\nstarting shell\\n'; "
                }
                "ceph_install" => {
                    "printf 'pvekit-sim: pveceph install is not simulated\\n'; exit 1; "
                }
                _ => "",
            };
            (
                node_sandbox("/root")?,
                vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    root_login(last_login, before),
                ],
                env(true),
            )
        }
        (Target::Node { .. }, _) => (
            node_sandbox("/")?,
            vec!["/usr/local/sbin/login".to_string()],
            env(false),
        ),
        (Target::Ct { vmid }, Some((ct, cmode))) => {
            let sandbox = |chdir: &str| -> Result<Sandbox, String> {
                Ok(Sandbox {
                    root: state.ct_root(*vmid),
                    hostname: ct.hostname.clone(),
                    tools: ct.tools(),
                    agent: socket(Scope::Ct(*vmid))?,
                    binds: Vec::new(),
                    chdir: chdir.into(),
                })
            };
            if cmode == "shell" {
                let shell = if ct.systemd() { "/bin/bash" } else { "/bin/sh" };
                (
                    sandbox("/root")?,
                    vec![shell.to_string(), "-i".into()],
                    env(true),
                )
            } else {
                (
                    sandbox("/")?,
                    vec!["/usr/local/sbin/login".into(), "--getty".into()],
                    env(false),
                )
            }
        }
        (Target::Ct { .. }, None) => return Ok(None),
    };
    let command: Vec<OsString> = command.into_iter().map(OsString::from).collect();
    Ok(Some(Spec {
        args: state.bwrap_args(&sandbox, &command),
        env,
    }))
}
