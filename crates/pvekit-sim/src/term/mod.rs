//! Terminal sessions: the node shell and the LXC console behind termproxy and vncwebsocket.
//!
//! `POST .../termproxy` opens a [`Pending`] session: it takes a free port of 5900–5999, mints
//! a VNC ticket bound to (user, auth path, port) and starts a `vncshell`/`vncproxy` task. The
//! websocket (`GET .../vncwebsocket`) must claim it within 10 s; then [`session::run`]
//! speaks termproxy's protocol and runs a real shell in a pseudo-terminal, inside a
//! [`sandbox`] whose `/` is the node's (or container's) own root in the state directory. The
//! session's end (shell exit, websocket closed, client gone, simulator stopped, or a change
//! at run time that took its node offline or removed its container) kills the whole process
//! tree, ends the task and frees the port. No TCP port is really opened: the
//! websocket is served in-process.

pub(crate) mod agent;
pub(crate) mod journal;
pub(crate) mod protocol;
pub(crate) mod rootfs;
pub(crate) mod sandbox;
pub(crate) mod scripts;
pub(crate) mod session;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// The termproxy port range.
pub(crate) const PORTS: std::ops::RangeInclusive<u16> = 5900..=5999;
/// How long termproxy waits for the client to connect, and for the auth line.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a session runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The node shell: `login -f root` for root@pam with a ticket (`root_shell`), `/bin/login`
    /// for everybody else. `cmd` is `login`, `upgrade` or `ceph_install`.
    Node { root_shell: bool, cmd: String },
    /// The console of a container.
    Ct { vmid: u32 },
}

/// A session waiting for its websocket, or connected.
#[derive(Clone)]
pub(crate) struct Pending {
    pub port: u16,
    pub node: String,
    pub target: Target,
    /// The authenticated id owning the ticket (user or token id).
    pub authid: String,
    /// `/nodes/<node>` or `/vms/<vmid>`.
    pub authpath: String,
    pub ticket: String,
    pub upid: String,
    /// Real time of the POST (the connect timeout runs on real time, like termproxy's).
    pub created: Instant,
    pub connected: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("port", &self.port)
            .field("node", &self.node)
            .field("target", &self.target)
            .field("authid", &self.authid)
            .field("authpath", &self.authpath)
            .field("ticket", &"<redacted>")
            .field("upid", &self.upid)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

/// The roots prepared in this run: nodes, and containers with the node they were prepared
/// for (a container's mount point lives in its node's root).
#[derive(Debug, Default)]
struct Prepared {
    nodes: HashSet<String>,
    cts: HashSet<(String, u32)>,
}

/// The terminal side of a simulator: state directory, live sessions, shutdown signal.
#[derive(Debug)]
pub(crate) struct Terminals {
    pub state: sandbox::StateDir,
    /// The agent's sockets.
    pub agents: agent::Agents,
    /// Held while roots are being prepared (one preparation at a time).
    preparing: tokio::sync::Mutex<()>,
    /// The roots this run has prepared.
    prepared: Mutex<Prepared>,
    sessions: Mutex<HashMap<u16, Pending>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Counts changes of the cluster made at run time (sessions then check their target).
    changes: tokio::sync::watch::Sender<u64>,
    /// Where the synthetic journals begin (simulator clock, ms).
    pub journal_begin_ms: i64,
    /// Keepalive messages received over every session.
    keepalives: std::sync::atomic::AtomicU64,
}

impl Terminals {
    /// A registry over `state`.
    pub fn new(state: sandbox::StateDir, now_ms: i64) -> Terminals {
        Terminals {
            state,
            agents: agent::Agents::default(),
            preparing: tokio::sync::Mutex::new(()),
            prepared: Mutex::new(Prepared::default()),
            sessions: Mutex::new(HashMap::new()),
            shutdown: tokio::sync::watch::channel(false).0,
            changes: tokio::sync::watch::channel(0).0,
            journal_begin_ms: now_ms - 3_600_000,
            keepalives: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Prepares the roots of `node` and of its containers, each once per run, before the
    /// first sandbox that needs them (see [`sandbox`]): the node's root at its first session,
    /// a container's root then too, or at the first session after it was added at run time.
    /// Returns at once when everything is prepared.
    pub async fn setup_node(&self, st: &Arc<AppState>, node: &str) -> Result<(), String> {
        let _one_at_a_time = self.preparing.lock().await;
        let cts: Vec<sandbox::CtInfo> = st
            .model()
            .guests_of(node)
            .filter(|g| g.kind == pvekit_core::types::GuestKind::Lxc)
            .map(agent::ct_info)
            .collect();
        let (node_done, cts): (bool, Vec<sandbox::CtInfo>) = {
            let p = self.prepared();
            let key = |vmid| (node.to_string(), vmid);
            (
                p.nodes.contains(node),
                cts.into_iter()
                    .filter(|c| !p.cts.contains(&key(c.vmid)))
                    .collect(),
            )
        };
        if node_done && cts.is_empty() {
            return Ok(());
        }
        let now = st.clock.now();
        let st2 = st.clone();
        let node2 = node.to_string();
        let cts2 = cts.clone();
        tokio::task::spawn_blocking(move || {
            let state = &st2.terminals.state;
            let begin = st2.terminals.journal_begin_ms;
            if !node_done {
                state.prepare_node(&node2)?;
            }
            state.prepare_cts(&node2, &cts2, now, begin)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("preparing the root of node {node}: {e}"))?;
        let mut p = self.prepared();
        p.nodes.insert(node.to_string());
        p.cts.extend(cts.iter().map(|c| (node.to_string(), c.vmid)));
        Ok(())
    }

    fn prepared(&self) -> std::sync::MutexGuard<'_, Prepared> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets that container `vmid`'s root was prepared (it was removed at run time; one
    /// added again under that VMID is prepared again).
    pub fn forget_ct(&self, vmid: u32) {
        self.prepared().cts.retain(|(_, v)| *v != vmid);
    }

    /// Tells the sessions that the cluster changed at run time.
    pub fn cluster_changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every change of the cluster made at run time.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Pending>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver that turns true when the simulator stops.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops every session (their loops see the signal and kill their process trees).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Number of live sessions (waiting or connected).
    pub fn live(&self) -> usize {
        self.sessions().len()
    }

    /// Counts one keepalive message.
    pub fn count_keepalive(&self) {
        self.keepalives
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Keepalive messages received so far, over every session.
    pub fn keepalives(&self) -> u64 {
        self.keepalives.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of sessions with a connected websocket.
    pub fn connected(&self) -> usize {
        self.sessions().values().filter(|s| s.connected).count()
    }

    /// Opens a session: port, VNC ticket and task; returns termproxy's answer.
    pub fn open(
        &self,
        st: &AppState,
        node: &str,
        target: Target,
        authid: &str,
        authpath: String,
    ) -> Result<Value, ApiError> {
        if let Err(why) = self.state.bwrap() {
            return Err(ApiError::new(
                500,
                format!("unable to start terminal: {why}\n"),
            ));
        }
        self.expire(st);
        let mut sessions = self.sessions();
        let port = PORTS
            .clone()
            .find(|p| !sessions.contains_key(p))
            .ok_or_else(|| ApiError::new(500, "unable to find free port (5900-5999)\n"))?;
        let now_ms = st.clock.now_ms();
        let ticket = st
            .auth
            .issue_vnc_ticket(authid, &authpath, port, now_ms.div_euclid(1000));
        let (kind, id) = match &target {
            Target::Node { .. } => ("vncshell", String::new()),
            Target::Ct { vmid } => ("vncproxy", vmid.to_string()),
        };
        let upid = st
            .model_mut()
            .start_session_task(node, kind, &id, authid, now_ms);
        sessions.insert(
            port,
            Pending {
                port,
                node: node.to_string(),
                target,
                authid: authid.to_string(),
                authpath,
                ticket: ticket.clone(),
                upid: upid.clone(),
                created: Instant::now(),
                connected: false,
            },
        );
        // `port` is a string: pve-manager's termproxy handler answers the port it got from
        // PVE::Tools::next_vnc_port as a Perl scalar last used as a string, and Perl's JSON
        // encoder writes those as strings (a real PVE 9 answers `"port":"5900"`; go-proxmox,
        // luthermonson/go-proxmox `types.go`, types it StringOrInt for that reason).
        Ok(json!({"user": authid, "ticket": ticket, "port": port.to_string(), "upid": upid}))
    }

    /// Ends the sessions nobody connected to within [`CONNECT_TIMEOUT`] (termproxy's accept
    /// timeout): their tasks fail and their ports are free again.
    pub fn expire(&self, st: &AppState) {
        let stale: Vec<Pending> = {
            let mut sessions = self.sessions();
            let ports: Vec<u16> = sessions
                .values()
                .filter(|s| !s.connected && s.created.elapsed() > CONNECT_TIMEOUT)
                .map(|s| s.port)
                .collect();
            ports.iter().filter_map(|p| sessions.remove(p)).collect()
        };
        if stale.is_empty() {
            return;
        }
        let now_ms = st.clock.now_ms();
        let mut model = st.model_mut();
        for s in stale {
            model
                .tasks
                .end_open(&s.upid, now_ms, Err("connection timed out".to_string()));
        }
    }

    /// The websocket claims the session on `port` (once); `None` when nothing waits there.
    pub fn claim(&self, port: u16) -> Option<Pending> {
        let mut sessions = self.sessions();
        let s = sessions.get_mut(&port)?;
        if s.connected || s.created.elapsed() > CONNECT_TIMEOUT {
            return None;
        }
        s.connected = true;
        Some(s.clone())
    }

    /// Ends a session: frees the port and ends the task with `result`.
    pub fn close(&self, st: &AppState, port: u16, upid: &str, result: Result<(), String>) {
        let removed = {
            let mut sessions = self.sessions();
            match sessions.get(&port) {
                Some(s) if s.upid == upid => sessions.remove(&port),
                _ => None,
            }
        };
        if removed.is_some() {
            let now_ms = st.clock.now_ms();
            st.model_mut().tasks.end_open(upid, now_ms, result);
        }
    }
}
