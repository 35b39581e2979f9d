//! The local agent: what the sandboxes' tools ask for live cluster state (`pct status/list`),
//! the synthetic journal (`journalctl`, the syslog of containers without systemd) and
//! container commands (`pct exec`, `pct enter`).
//!
//! # Transport
//!
//! One Unix socket per node and per container (`<state>/agent/<n>/agent.sock`), created when
//! the node's roots are prepared; its directory is bound read-only on `/run/pvekit` of that
//! sandbox only. Unix path sockets work across network namespaces, so the sandboxes need no
//! network; and the socket a request arrives on is the only thing that says who asks (its
//! [`Scope`]): nothing a sandbox can write decides which node's containers it may enter or
//! whose journal it reads. A node may ask everything about itself and its own containers; a
//! container only for its own journal and syslog. When the simulator runs as root the
//! sockets belong to the sandbox user with mode 0600.
//!
//! # Protocol
//!
//! The client ([`super::scripts::AGENT_CLIENT`]) sends `VERB ARGC\n`, then each argument as
//! `LEN\n` and its bytes (at most [`MAX_ARGS`] arguments and [`MAX_REQUEST`] bytes, within
//! 5 s). The agent answers with frames `[type u8][length u32 BE][payload]`: 1 stdout, 2 stderr,
//! 3 the exit status (decimal), after which it closes. For `exec` and `enter` the client sends
//! frames too: 0 stdin, 4 end of stdin, 5 `ROWS COLS` (a resize); frames over [`MAX_FRAME`]
//! end the connection. Verbs:
//!
//! - `status VMID` (node) → `running|stopped <systemd 0/1> <hostname>`, or `missing`;
//! - `list` (node) → `pct list`'s table;
//! - `journal ARGS...` → the journal of the asking node or container, followed while the
//!   client reads (with `-f`), or journalctl's message on stderr and status 1;
//! - `syslog` (container) → new syslog lines, every [`journal::PERIOD_MS`], until closed;
//! - `exec VMID MERGED TERM CMD...` (node) → runs CMD in the container's own sandbox, started
//!   here next to the node's (sandboxes cannot nest, see [`super::sandbox`]), with pipes for
//!   stdin, stdout and stderr (one pipe for both when the client's stdout and stderr are the
//!   same file, so their order survives), relayed byte for byte, then its exit status;
//! - `enter VMID ROWS COLS TERM` (node) → `/bin/bash` in the container's sandbox on a PTY of
//!   its own, relayed, resized on request.
//!
//! A client that goes away (its socket closes) takes its container sandbox with it: the
//! sandbox's process group is killed, as when the simulator stops.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};

use super::journal::{self, Query, Source};
use super::sandbox::{CtInfo, PATH, Sandbox, kill_tree};
use crate::state::AppState;
use pvekit_core::types::GuestKind;

/// Most arguments of one request.
pub(crate) const MAX_ARGS: usize = 65_536;
/// Most bytes of one request's arguments (Linux's own `ARG_MAX` is 2 MiB by default).
pub(crate) const MAX_REQUEST: usize = 4 << 20;
/// Largest frame the client may send.
pub(crate) const MAX_FRAME: usize = 1 << 20;
/// Largest frame the agent sends.
const OUT_CHUNK: usize = 64 * 1024;

/// Who is asking: the sandbox a socket is bound into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    Node(String),
    Ct(u32),
}

/// The agent's sockets, one per scope.
#[derive(Debug, Default)]
pub(crate) struct Agents {
    sockets: Mutex<HashMap<Scope, PathBuf>>,
    next: AtomicU32,
}

impl Agents {
    /// The socket directory of `scope`, created (and served until the simulator stops) on
    /// first use.
    pub fn socket_dir(&self, st: &Arc<AppState>, scope: Scope) -> io::Result<PathBuf> {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = sockets.get(&scope) {
            return Ok(d.clone());
        }
        let state = &st.terminals.state;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = state.agent_dir().join(n.to_string());
        std::fs::create_dir(&dir)?;
        let path = dir.join("agent.sock");
        // sun_path holds 108 bytes.
        if path.as_os_str().len() >= 108 {
            return Err(io::Error::other(format!(
                "the state directory's path is too long for the agent's sockets: {}",
                path.display()
            )));
        }
        let listener = UnixListener::bind(&path)?;
        let user = state.user();
        if user.switch {
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))?;
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        }
        tokio::spawn(serve(listener, scope.clone(), st.clone()));
        sockets.insert(scope, dir.clone());
        Ok(dir)
    }
}

/// Serves one scope's socket until the simulator stops.
async fn serve(listener: UnixListener, scope: Scope, st: Arc<AppState>) {
    let mut shutdown = st.terminals.shutdown_signal();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => {
                if let Ok((sock, _)) = r {
                    tokio::spawn(handle(sock, scope.clone(), st.clone()));
                }
            }
        }
    }
}

/// The answer side of a connection.
struct Out {
    w: OwnedWriteHalf,
}

impl Out {
    async fn frame(&mut self, kind: u8, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(OUT_CHUNK) {
            let mut head = [kind, 0, 0, 0, 0];
            head[1..].copy_from_slice(&(chunk.len() as u32).to_be_bytes());
            self.w.write_all(&head).await?;
            self.w.write_all(chunk).await?;
        }
        Ok(())
    }
    async fn exit(&mut self, code: i32) {
        let _ = self.frame(3, code.to_string().as_bytes()).await;
        let _ = self.w.shutdown().await;
    }
    /// Prints `text` on the client's stdout (1) or stderr (2) and ends with `code`.
    async fn reply(&mut self, kind: u8, text: &str, code: i32) {
        if self.frame(kind, text.as_bytes()).await.is_ok() {
            self.exit(code).await;
        }
    }
}

/// Reads one decimal line of at most `max` bytes.
async fn number(r: &mut BufReader<OwnedReadHalf>, max: usize) -> Option<(String, usize)> {
    let mut line = String::new();
    let n = (&mut *r).take(max as u64).read_line(&mut line).await.ok()?;
    if n == 0 || !line.ends_with('\n') {
        return None;
    }
    let line = line.trim_end_matches('\n');
    let (word, num) = match line.rsplit_once(' ') {
        Some((w, n)) => (w.to_string(), n),
        None => (String::new(), line),
    };
    let num = num.parse().ok()?;
    Some((word, num))
}

/// The request: verb and arguments.
async fn read_request(r: &mut BufReader<OwnedReadHalf>) -> Option<(String, Vec<Vec<u8>>)> {
    let (verb, argc) = number(r, 4096).await?;
    if argc > MAX_ARGS {
        return None;
    }
    let mut budget = MAX_REQUEST;
    let mut args = Vec::with_capacity(argc.min(64));
    for _ in 0..argc {
        let (_, len) = number(r, 24).await?;
        budget = budget.checked_sub(len)?;
        let mut a = vec![0u8; len];
        r.read_exact(&mut a).await.ok()?;
        args.push(a);
    }
    Some((verb, args))
}

async fn handle(sock: UnixStream, scope: Scope, st: Arc<AppState>) {
    let (r, w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut out = Out { w };
    let Ok(Some((verb, args))) =
        tokio::time::timeout(Duration::from_secs(5), read_request(&mut r)).await
    else {
        return;
    };
    let text = |a: &Vec<u8>| String::from_utf8_lossy(a).into_owned();
    match (&scope, verb.as_str(), args.as_slice()) {
        (Scope::Node(node), "status", [vmid]) => {
            let reply = status(&st, node, &text(vmid));
            out.reply(1, &reply, 0).await;
        }
        (Scope::Node(node), "list", []) => {
            let reply = list(&st, node);
            out.reply(1, &reply, 0).await;
        }
        (_, "journal", args) => {
            let args: Vec<String> = args.iter().map(text).collect();
            let Some(src) = source(&st, &scope) else {
                out.reply(2, "Failed to open journal: No such file or directory\n", 1)
                    .await;
                return;
            };
            match journal::parse_args(&args) {
                Err(e) => out.reply(2, &format!("{e}\n"), 1).await,
                Ok(q) => {
                    if stream(&st, src, &q, r, &mut out).await && !q.follow {
                        out.exit(0).await;
                    }
                }
            }
        }
        (Scope::Ct(_), "syslog", []) => {
            if let Some(src) = source(&st, &scope) {
                let q = Query {
                    follow: true,
                    lines: journal::Lines::Last(0),
                    format: journal::Format::Syslog,
                    ..Query::default()
                };
                stream(&st, src, &q, r, &mut out).await;
            }
        }
        (Scope::Node(node), "exec", [vmid, merged, term, cmd @ ..]) if !cmd.is_empty() => {
            let Some(ct) = attachable(&st, node, &text(vmid), &mut out).await else {
                return;
            };
            let cmd: Vec<OsString> = cmd.iter().cloned().map(OsString::from_vec).collect();
            let merged = merged.as_slice() == b"1";
            exec(&st, node, &ct, &cmd, merged, &text(term), r, out).await;
        }
        (Scope::Node(node), "enter", [vmid, rows, cols, term]) => {
            let Some(ct) = attachable(&st, node, &text(vmid), &mut out).await else {
                return;
            };
            let size = (
                text(rows).parse().unwrap_or(24),
                text(cols).parse().unwrap_or(80),
            );
            enter(&st, node, &ct, size, &text(term), r, out).await;
        }
        _ => {
            out.reply(2, &format!("pvekit-sim agent: cannot '{verb}' here\n"), 255)
                .await;
        }
    }
}

/// The journal of the asking node or container.
fn source(st: &AppState, scope: &Scope) -> Option<Source> {
    let begin = st.terminals.journal_begin_ms;
    let model = st.model();
    match scope {
        Scope::Node(name) => {
            let &i = model.node_index.get(name)?;
            Some(Source::node(name, model.nodes[i].seed, begin))
        }
        Scope::Ct(vmid) => {
            let g = model.guests.get(vmid)?;
            let ct = ct_info(g);
            Some(Source::container(&ct, ct.seed, begin))
        }
    }
}

/// What a sandbox needs of a container guest.
pub(crate) fn ct_info(g: &crate::model::Guest) -> CtInfo {
    CtInfo {
        vmid: g.vmid,
        hostname: g.name(),
        ostype: g.config.get("ostype").cloned().unwrap_or_default(),
        seed: g.seed,
    }
}

fn status(st: &AppState, node: &str, vmid: &str) -> String {
    st.settle();
    let model = st.model();
    let g = vmid
        .parse::<u32>()
        .ok()
        .and_then(|id| model.guests.get(&id))
        .filter(|g| g.kind == GuestKind::Lxc && g.node == node);
    match g {
        None => "missing\n".to_string(),
        Some(g) => {
            let ct = ct_info(g);
            format!(
                "{} {} {}\n",
                if g.running { "running" } else { "stopped" },
                u8::from(ct.systemd()),
                ct.hostname
            )
        }
    }
}

fn list(st: &AppState, node: &str) -> String {
    st.settle();
    let model = st.model();
    let mut out = format!(
        "{:<10} {:<10} {:<12} {:<20}\n",
        "VMID", "Status", "Lock", "Name"
    );
    for g in model.guests_of(node).filter(|g| g.kind == GuestKind::Lxc) {
        out.push_str(&format!(
            "{:<10} {:<10} {:<12} {:<20}\n",
            g.vmid,
            if g.running { "running" } else { "stopped" },
            g.lock.clone().unwrap_or_default(),
            g.name()
        ));
    }
    out
}

/// The running container `vmid` of `node`, or the answer `pct` would give (the script checks
/// first; this is the agent not trusting it).
async fn attachable(st: &Arc<AppState>, node: &str, vmid: &str, out: &mut Out) -> Option<CtInfo> {
    st.settle();
    // A container added at run time gets its root now, before its first sandbox.
    if let Err(e) = st.terminals.setup_node(st, node).await {
        out.reply(2, &format!("lxc-attach: {vmid}: failed to start: {e}\n"), 1)
            .await;
        return None;
    }
    let found = {
        let model = st.model();
        vmid.parse::<u32>()
            .ok()
            .and_then(|id| model.guests.get(&id))
            .filter(|g| g.kind == GuestKind::Lxc && g.node == node)
            .map(|g| (ct_info(g), g.running))
    };
    match found {
        Some((ct, true)) => Some(ct),
        Some((ct, false)) => {
            let v = ct.vmid;
            let text = format!(
                "lxc-attach: {v}: ../src/lxc/attach.c: get_attach_context: 405 Connection refused - Failed to get init pid\n\
                 lxc-attach: {v}: ../src/lxc/tools/lxc_attach.c: lxc_attach_main: 400 Connection refused - Failed to attach to container\n"
            );
            out.reply(2, &text, 1).await;
            None
        }
        None => {
            let text =
                format!("Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist\n");
            out.reply(2, &text, 255).await;
            None
        }
    }
}

/// The environment of a container command.
fn ct_env(term: &str, shell: bool) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = [
        ("PATH", PATH),
        ("HOME", "/root"),
        ("USER", "root"),
        ("LOGNAME", "root"),
        ("LANG", "C.UTF-8"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if !term.is_empty()
        && term.len() <= 64
        && term
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
    {
        e.push(("TERM".into(), term.into()));
    }
    if shell {
        e.push(("SHELL".into(), "/bin/bash".into()));
    }
    e
}

/// The container's sandbox, and its command with the syslog wrapper where it has no journal.
fn ct_sandbox(st: &Arc<AppState>, ct: &CtInfo, chdir: &str) -> io::Result<Sandbox> {
    let state = &st.terminals.state;
    Ok(Sandbox {
        root: state.ct_root(ct.vmid),
        hostname: ct.hostname.clone(),
        tools: ct.tools(),
        agent: st.terminals.agents.socket_dir(st, Scope::Ct(ct.vmid))?,
        binds: Vec::new(),
        chdir: chdir.into(),
    })
}

fn with_syslog(ct: &CtInfo, cmd: &[OsString]) -> Vec<OsString> {
    let mut c = Vec::with_capacity(cmd.len() + 1);
    if !ct.systemd() {
        c.push("/usr/local/sbin/pvekit-syslogd".into());
    }
    c.extend(cmd.iter().cloned());
    c
}

/// Exit status as a shell reports it.
fn code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code()
        .or_else(|| s.signal().map(|n| 128 + n))
        .unwrap_or(255)
}

/// One client frame.
enum Input {
    Data(Vec<u8>),
    Eof,
    Resize(u16, u16),
}

/// Reads the client's next frame; `None` when it is gone (or broke the protocol).
async fn input(r: &mut BufReader<OwnedReadHalf>) -> Option<Input> {
    loop {
        let mut head = [0u8; 5];
        r.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return None;
        }
        let mut data = vec![0u8; len];
        r.read_exact(&mut data).await.ok()?;
        match head[0] {
            0 => return Some(Input::Data(data)),
            4 => return Some(Input::Eof),
            5 => {
                let text = String::from_utf8_lossy(&data).into_owned();
                let mut it = text.split(' ').map(|v| v.parse::<u16>().ok());
                if let (Some(Some(rows)), Some(Some(cols))) = (it.next(), it.next())
                    && rows > 0
                    && cols > 0
                {
                    return Some(Input::Resize(rows, cols));
                }
            }
            _ => {}
        }
    }
}

/// Copies `src` to the client as frames of `kind` until EOF.
async fn pump(mut src: impl AsyncRead + Unpin, kind: u8, out: &tokio::sync::Mutex<Out>) {
    let mut buf = vec![0u8; OUT_CHUNK];
    loop {
        match src.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if out.lock().await.frame(kind, &buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn exec(
    st: &Arc<AppState>,
    node: &str,
    ct: &CtInfo,
    cmd: &[OsString],
    merged: bool,
    term: &str,
    mut r: BufReader<OwnedReadHalf>,
    out: Out,
) {
    let out = tokio::sync::Mutex::new(out);
    let started = (|| -> io::Result<_> {
        let state = &st.terminals.state;
        let bwrap = state.bwrap().map_err(io::Error::other)?.to_path_buf();
        let setsid = state.setsid().map_err(io::Error::other)?.to_path_buf();
        let sandbox = ct_sandbox(st, ct, "/")?;
        let (out_r, out_w) = std::io::pipe()?;
        let (err_r, err_w) = if merged {
            (None, out_w.try_clone()?)
        } else {
            let (r, w) = std::io::pipe()?;
            (Some(r), w)
        };
        // util-linux setsid makes bwrap the leader of a session (and process group) of its
        // own, without a terminal: no process of the sandbox shares the simulator's session,
        // and killing the group takes bwrap and its init (see `super::sandbox`). The child is
        // not a group leader, so setsid execs bwrap without forking: its pid is bwrap's.
        let mut c = tokio::process::Command::new(setsid);
        c.arg(bwrap)
            .args(state.bwrap_args(&sandbox, &with_syslog(ct, cmd)))
            .env_clear()
            .envs(ct_env(term, false))
            .current_dir("/")
            .stdin(std::process::Stdio::piped())
            .stdout(out_w)
            .stderr(err_w)
            .kill_on_drop(true);
        let user = state.user();
        if user.switch {
            c.uid(user.uid).gid(user.gid);
        }
        let child = c.spawn()?;
        // The command holds the pipes' write ends until dropped.
        drop(c);
        let out_rx = tokio::net::unix::pipe::Receiver::from_owned_fd(out_r.into())?;
        let err_rx = match err_r {
            Some(r) => Some(tokio::net::unix::pipe::Receiver::from_owned_fd(r.into())?),
            None => None,
        };
        Ok((child, out_rx, err_rx))
    })();
    let (mut child, out_rx, err_rx) = match started {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, node, vmid = ct.vmid, "pvekit-sim: pct exec could not start");
            let text = format!("lxc-attach: {}: failed to start: {e}\n", ct.vmid);
            out.lock().await.reply(2, &text, 1).await;
            return;
        }
    };
    let mut stdin = child.stdin.take();
    let mut shutdown = st.terminals.shutdown_signal();
    let output = async {
        match err_rx {
            Some(e) => {
                tokio::join!(pump(out_rx, 1, &out), pump(e, 2, &out));
            }
            None => pump(out_rx, 1, &out).await,
        }
    };
    let feed = async {
        while let Some(ev) = input(&mut r).await {
            match ev {
                Input::Data(d) => {
                    if let Some(s) = stdin.as_mut()
                        && s.write_all(&d).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Input::Eof => stdin = None,
                Input::Resize(..) => {}
            }
        }
    };
    let finished = tokio::select! {
        () = output => true,
        () = feed => false,
        _ = shutdown.changed() => false,
    };
    end(child, finished, &out).await;
}

async fn enter(
    st: &Arc<AppState>,
    node: &str,
    ct: &CtInfo,
    (rows, cols): (u16, u16),
    term: &str,
    mut r: BufReader<OwnedReadHalf>,
    out: Out,
) {
    let out = tokio::sync::Mutex::new(out);
    let started = (|| -> io::Result<_> {
        let state = &st.terminals.state;
        let bwrap = state.bwrap().map_err(io::Error::other)?.to_path_buf();
        let sandbox = ct_sandbox(st, ct, "/root")?;
        let (pty, pts) = pty_process::open().map_err(io::Error::other)?;
        let _ = pty.resize(pty_process::Size::new(rows.max(1), cols.max(1)));
        let mut c = pty_process::Command::new(bwrap)
            .args(state.bwrap_args(&sandbox, &with_syslog(ct, &["/bin/bash".into()])))
            .env_clear()
            .envs(ct_env(term, true))
            .current_dir("/")
            .kill_on_drop(true);
        let user = state.user();
        if user.switch {
            c = c.uid(user.uid).gid(user.gid);
        }
        let child = c.spawn(pts).map_err(io::Error::other)?;
        Ok((child, pty))
    })();
    let (child, pty) = match started {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, node, vmid = ct.vmid, "pvekit-sim: pct enter could not start");
            let text = format!("lxc-attach: {}: failed to start: {e}\n", ct.vmid);
            out.lock().await.reply(2, &text, 1).await;
            return;
        }
    };
    let (reader, mut writer) = pty.into_split();
    let mut shutdown = st.terminals.shutdown_signal();
    let feed = async {
        while let Some(ev) = input(&mut r).await {
            match ev {
                Input::Data(d) => {
                    if writer.write_all(&d).await.is_err() {
                        break;
                    }
                }
                Input::Eof => {}
                Input::Resize(rows, cols) => {
                    let _ = writer.resize(pty_process::Size::new(rows, cols));
                }
            }
        }
    };
    // EIO once the shell side is gone: the end.
    let finished = tokio::select! {
        () = pump(reader, 1, &out) => true,
        () = feed => false,
        _ = shutdown.changed() => false,
    };
    end(child, finished, &out).await;
}

/// Reports the exit status of a sandbox whose output has ended (`finished`), or kills it (the
/// client went away, the simulator stops); either way it is reaped.
async fn end(mut child: tokio::process::Child, finished: bool, out: &tokio::sync::Mutex<Out>) {
    if finished && let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(5), child.wait()).await
    {
        out.lock().await.exit(code(s)).await;
        return;
    }
    kill_tree(&mut child);
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}

/// Writes the history, then (with `-f`) new entries every period, or flood lines as fast as
/// the reader takes them, until the reader closes or the simulator stops. Returns whether the
/// history went out.
async fn stream(
    st: &AppState,
    src: Source,
    q: &Query,
    mut r: BufReader<OwnedReadHalf>,
    out: &mut Out,
) -> bool {
    let (text, mut last_k) = src.history(q, st.clock.now_ms());
    if out.frame(1, text.as_bytes()).await.is_err() {
        return false;
    }
    if !q.follow {
        return true;
    }
    let mut shutdown = st.terminals.shutdown_signal();
    let flood = q.units.iter().any(|u| u == journal::FLOOD_UNIT);
    let mut next_flood: i64 = match q.lines {
        journal::Lines::Last(n) | journal::Lines::First(n) => {
            i64::try_from(n.min(journal::MAX_HISTORY)).unwrap_or(0)
        }
        journal::Lines::All => 10,
    };
    let mut probe = [0u8; 1];
    loop {
        if flood {
            let text = src.flood(q, next_flood, 512, st.clock.now_ms());
            next_flood = next_flood.saturating_add(512);
            tokio::select! {
                _ = shutdown.changed() => return true,
                _ = r.read(&mut probe) => return true,
                res = out.frame(1, text.as_bytes()) => if res.is_err() { return true },
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => return true,
            // The tools never write after their request: readable means closed.
            _ = r.read(&mut probe) => return true,
            _ = tokio::time::sleep(Duration::from_millis(journal::PERIOD_MS as u64)) => {}
        }
        let (text, k) = src.since(q, last_k, st.clock.now_ms());
        last_k = k;
        if !text.is_empty() && out.frame(1, text.as_bytes()).await.is_err() {
            return true;
        }
    }
}
