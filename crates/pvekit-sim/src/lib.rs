//! A faithful Proxmox VE API simulator over real HTTPS.
//!
//! `pvekit-sim` serves the subset of the Proxmox VE API that pvekit uses, with the real
//! server's authentication (tickets, CSRF tokens, API tokens), parameter validation, error
//! statuses and bodies, and response shapes. It generates a deterministic cluster from a seed
//! (or loads one from a YAML [`Scenario`]), signs its own certificate at start like a fresh
//! node (a CA plus a node certificate), and keeps resource counters moving like a live system.
//!
//! It is the embedded default behind `pvekit --demo` and the server every pvekit test talks to.
//!
//! # Brief overview
//!
//! - [`Simulator::start`] takes [`SimOptions`] and returns a [`RunningSim`]: its [`SimInfo`]
//!   (URL, fingerprint, credentials), the CA PEM, the request log, the rejection log and
//!   [`RunningSim::advance_clock`].
//! - [`RunningSim::control`] gives a [`SimControl`] that changes the cluster while it runs:
//!   nodes and guests added (stated like a scenario's, [`ScenarioNode`], [`ScenarioGuest`]),
//!   guests removed, nodes taken offline and back; every endpoint and terminal sees the change.
//! - Every node has its own HTTPS listener with its own certificate signed by the cluster CA
//!   ([`SimInfo::nodes`]); each serves the whole API, calls about other nodes are "proxied".
//!   [`SimControl::stop_listener`] and [`SimControl::start_listener`] stop and restart one.
//! - Faults ([`Fault`], the `faults` module): latency with jitter and spikes, stalled answers,
//!   connection resets before and during the body, truncated bodies, malformed JSON, 502,
//!   503, 595 and 596 answers, nodes going offline, tickets invalidated, terminal websockets
//!   dropped and termproxy never answering `OK`; from a scenario's `faults:`,
//!   [`SimOptions::faults`] or [`SimControl::faults`], by endpoint glob, node listener,
//!   request counts or a seeded probability.
//! - [`Scenario`] states an exact cluster, from YAML or built in code, including per-guest task
//!   behaviour (`start_error`, `task_secs`), pinned `counters` and a silent guest agent.
//! - Guest power actions answer real-format UPIDs; `GET /nodes/{node}/tasks/{upid}/status` and
//!   `/log` report them like pve-manager.
//! - Terminals: `POST .../termproxy` and `GET .../vncwebsocket` (node shell and LXC console)
//!   speak termproxy's protocol over a real websocket to a real bash in a pseudo-terminal,
//!   sandboxed with bubblewrap in per-node and per-container roots below
//!   [`RunningSim::state_dir`]; `pct exec/enter/status/list`, `journalctl` (synthetic journals,
//!   `-f` follows, unit `pvekit-flood` floods) and `GET /nodes/{node}/journal` work inside.
//!   Terminals need `bwrap` on the host (Debian package `bubblewrap`), unprivileged user
//!   namespaces and `/usr/bin/perl` (Debian's perl-base); without bwrap the API is served as
//!   usual and termproxy answers 500 "unable to start terminal: ...".
//! - Containment of the sandboxes: their own user namespace without capabilities (when the
//!   simulator runs as root, bwrap runs as `nobody`), no host network (an empty network
//!   namespace), their own session, PID, IPC and UTS namespaces, limits on processes, file
//!   size and CPU time, and no host files but `/usr` (read-only) and the state directory. The
//!   simulator writes into the roots once per run and never through a symlink. Details in the
//!   `term::sandbox` and `term::agent` module docs.
//! - Guest services, a test fixture rather than Proxmox VE behaviour: a scenario guest's
//!   `services` ([`ScenarioService`], [`ScenarioGuest::with_service`]) are real TCP or HTTP
//!   listeners on its loopback address (the static `ip=` of its net0, or of ipconfig0 for a
//!   VM) while it runs, from `ready_after_ms` after it started; they close when it stops,
//!   suspends, pauses or is removed, and with the simulator. [`RunningSim::service_listeners`]
//!   lists them. Addresses outside 127.0.0.0/8 are refused ([`ServiceError`]).
//! - Access control as pve-access-control does it: API tokens of a user (list, create
//!   with privilege separation by default and the secret shown once, update, delete;
//!   usable and revoked at once), roles (built-in and custom), ACLs (`PUT /access/acl`
//!   with its `perm-modify` check and the "superset of privileges" rule), effective
//!   permissions (`GET /access/permissions`: path to privilege to propagate flag) and the
//!   pool list; a privilege-separated token holds the intersection of its ACL's and its
//!   user's privileges. The state lives in the `usercfg` module.
//! - [`rules`] holds the parameter-rule types and the validator; [`endpoint_rules`] gives the
//!   rules of the simulator's hand-written route table (one entry per method: its rule and its
//!   handler); [`conformance::SchemaSet`] reads the official schema file and checks requests
//!   and responses against it.
//!
//! # Where it differs from a real node
//!
//! - Tickets are signed with HMAC-SHA256 instead of RSA (tickets are opaque to clients).
//! - One user (`root@pam` by default) and one API token exist, both with every privilege,
//!   plus the users and tokens a scenario states with ACL entries of built-in roles. Tokens,
//!   custom roles and ACL entries can be added at run time through the API; users cannot
//!   (no `/access/users` create), groups do not exist (a `groups` parameter names a group
//!   that does not exist), pools come only from [`SimControl::add_pool`] and hold guests
//!   only. Container config changes check the privileges of each option, without the
//!   storage and bridge checks of disks and NICs, and without the tag privileges.
//! - A 401 is answered at once unless [`SimOptions::auth_failure_delay`] is set (real: ~3 s).
//! - Proxied calls to an offline node fail at once with status 595 and reason "No route to
//!   host" (a real connect waits for the ARP timeout first), to a node whose listener is
//!   stopped with 595 "Connection refused", both without a body as pveproxy relays
//!   AnyEvent::HTTP's errors; guests on an offline node show `status: "unknown"` without stats
//!   in cluster/resources. An offline node's own listener keeps answering with the cluster's
//!   view (stop its listener too for a node that is down); the first node cannot go offline.
//! - Methods listed in [`endpoint_rules`] whose behaviour is not simulated yet (task log
//!   `download=1`) validate their parameters and then answer 501.
//! - RRD history is computed from the live counter functions (as if the guest had always been
//!   in its current state since its current start); MAX consolidates four samples a slot.
//! - Terminals: no TCP port 59xx is really opened (the websocket is served in-process; the
//!   port only keys the session); the POST does not wait for a listener. The node shell runs
//!   bash from the host's `/usr` (read-only) in the node's own root, not `login -f root`; the
//!   login prompt (tokens, other users, container gettys) never accepts a password and waits
//!   0.3 s instead of 3 s before `Login incorrect`. A remote cluster node's shell runs locally
//!   too (no `ssh -t`). The LXC console is not a shared `dtach` session: each websocket gets
//!   its own console, ended with the websocket. Client frames are reassembled by tungstenite
//!   (pveproxy refuses fragmented frames). Journals are synthetic and UTC.
//! - Inside the sandboxes "root" is uid 0 of a user namespace without capabilities: it owns
//!   its root's files but cannot override permissions, `chown`, or mount; host files outside
//!   the roots (`/usr`) show as owned by `nobody`. `pct exec` gives the command pipes, not a
//!   terminal (output stays byte-exact); container processes do not show in the node's `ps`
//!   (each container is a sandbox of its own, next to the node's). A container's
//!   `/etc/hostname` is written when its node's first session of a run starts, so a hostname
//!   changed through the API shows there in the next run (the sandbox's hostname follows at
//!   once).
//! - Guest tasks follow the real handlers' checks (immediate 500s before the worker, `TASK
//!   ERROR`s inside it) but run for [`SimOptions::task_duration`] (or a scenario guest's
//!   `task_secs`) on the simulator clock; their logs hold only the lines the real workers print
//!   in the simulated situations (usually just `TASK OK`). HA-managed guests (`hastart`/`hastop`)
//!   do not exist.
//! - LXC suspend is `lxc-checkpoint` as in pve-container: the container is stopped afterwards and
//!   resume restores it; QEMU suspend pauses (`qmpstatus: paused`) or, with `todisk`, stops the
//!   VM with a `suspended` lock.
//! - Guests' `services` listen on the host's loopback interface (a real node never listens
//!   on its guests' addresses): a client test probing a guest reaches the simulator.
//! - Config PUT applies every change at once, also on a running container (no pending section,
//!   no hotplug errors); GET `current=1` reads the same values.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pvekit_sim::SimError> {
//! let sim = pvekit_sim::Simulator::start(pvekit_sim::SimOptions::default()).await?;
//! println!("{}", serde_json::to_string(sim.info()).unwrap());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod acl;
mod api;
mod auth;
mod cert;
mod clock;
pub mod conformance;
mod control;
mod error;
mod faults;
mod formats;
mod latency;
mod listeners;
mod model;
mod record;
pub mod rules;
mod services;
mod start;
mod state;
mod term;
mod usercfg;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;

pub use acl::AclEntry;
pub use control::{ControlError, FaultControl, SimControl};
pub use faults::{Fault, FaultKind};
pub use listeners::NodeEndpoint;
pub use model::scenario::{
    GuestStatus, Scenario, ScenarioCounters, ScenarioGuest, ScenarioInterface, ScenarioNode,
    ScenarioService, ScenarioToken, ScenarioUser,
};
pub use services::ServiceError;

/// The rules of the simulator's hand-written route table (every method it knows), for
/// conformance checks against the official schema.
pub fn endpoint_rules() -> Vec<rules::EndpointRule> {
    api::routes::table()
        .iter()
        .map(|r| r.rule.clone())
        .collect()
}

/// How to start a simulator. Its `Debug` output leaves out the password and the secret.
#[derive(Clone)]
pub struct SimOptions {
    /// Address to listen on; port 0 picks a free port. Defaults to `127.0.0.1:8006`.
    pub listen: SocketAddr,
    /// Number of nodes to generate (ignored with a scenario).
    pub nodes: usize,
    /// Number of LXC containers to generate (ignored with a scenario).
    pub containers: usize,
    /// Number of QEMU VMs to generate (ignored with a scenario).
    pub vms: usize,
    /// Seed of the generated cluster; the same seed gives the same cluster.
    pub seed: u64,
    /// Delay added before every answer, accurate to a few tens of microseconds (not rounded
    /// up to tokio's 1 ms timer ticks).
    pub latency: Duration,
    /// A YAML scenario file stating the exact cluster (see [`Scenario`]).
    pub scenario: Option<PathBuf>,
    /// A scenario built in code; takes precedence over `scenario`.
    pub scenario_inline: Option<Scenario>,
    /// Login user (default `root@pam`).
    pub username: Option<String>,
    /// Login password (default: random per start).
    pub password: Option<String>,
    /// API token id (default `root@pam!pvekit`).
    pub token_id: Option<String>,
    /// API token secret (default: a random UUID per start).
    pub secret: Option<String>,
    /// Strict mode: every rejected request is logged at error level and recorded, so tests can
    /// assert that a client sent only what real Proxmox VE accepts.
    pub strict: bool,
    /// Delay before every 401 answer. Real Proxmox VE waits about 3 s; the default is zero so
    /// tests stay fast.
    pub auth_failure_delay: Duration,
    /// Delay before termproxy answers `OK` to a terminal's auth line: a slow or stuck
    /// terminal proxy, for tests of client timeouts. Default zero.
    pub terminal_ok_delay: Duration,
    /// How long a guest task (start, stop, shutdown, suspend, resume, reboot) runs before the
    /// guest changes state, measured on the simulator clock (so
    /// [`RunningSim::advance_clock`] finishes tasks too). Default 1 s, close to a small
    /// container's start; a scenario guest's `task_secs` overrides it. Tests usually pick a few
    /// milliseconds, or a long time plus `advance_clock`.
    pub task_duration: Duration,
    /// Where node and container roots of the terminal sandboxes live. Default: a fresh
    /// temporary directory per simulator, removed when it is dropped; a directory given here
    /// is kept.
    pub state_dir: Option<PathBuf>,
    /// A YAML file with a `faults:` list (see [`Fault`]), scheduled after a scenario's.
    pub faults: Option<PathBuf>,
    /// Faults built in code, scheduled after those of `faults`.
    pub faults_inline: Vec<Fault>,
}

/// `<redacted>` for a secret that is set.
fn redacted(v: &Option<String>) -> Option<&'static str> {
    v.as_ref().map(|_| "<redacted>")
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("listen", &self.listen)
            .field("nodes", &self.nodes)
            .field("containers", &self.containers)
            .field("vms", &self.vms)
            .field("seed", &self.seed)
            .field("latency", &self.latency)
            .field("scenario", &self.scenario)
            .field("scenario_inline", &self.scenario_inline)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("token_id", &self.token_id)
            .field("secret", &redacted(&self.secret))
            .field("strict", &self.strict)
            .field("auth_failure_delay", &self.auth_failure_delay)
            .field("terminal_ok_delay", &self.terminal_ok_delay)
            .field("task_duration", &self.task_duration)
            .field("state_dir", &self.state_dir)
            .field("faults", &self.faults)
            .field("faults_inline", &self.faults_inline)
            .finish()
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8006)),
            nodes: 3,
            containers: 12,
            vms: 2,
            seed: 1,
            latency: Duration::ZERO,
            scenario: None,
            scenario_inline: None,
            username: None,
            password: None,
            token_id: None,
            secret: None,
            strict: false,
            auth_failure_delay: Duration::ZERO,
            terminal_ok_delay: Duration::ZERO,
            task_duration: Duration::from_secs(1),
            state_dir: None,
            faults: None,
            faults_inline: Vec::new(),
        }
    }
}

/// What a started simulator tells its user: printed as one JSON line by `pvekit sim`. Its
/// `Debug` output redacts the password and the secret.
#[derive(Clone, Serialize)]
pub struct SimInfo {
    /// Base URL with the address the simulator really listens on, `https://127.0.0.1:PORT`
    /// (`https://0.0.0.0:PORT` when it listens on every address, `https://[::1]:PORT` for
    /// IPv6): the first node's listener.
    pub url: String,
    /// SHA-256 fingerprint of the first node's certificate, `AA:BB:...`.
    pub fingerprint: String,
    /// Login user id.
    pub username: String,
    /// Login password.
    pub password: String,
    /// API token id.
    pub token_id: String,
    /// API token secret.
    pub secret: String,
    /// Every node's own listener (the first one is `url`), in node order, as at start
    /// ([`SimControl::endpoints`] lists nodes added later too).
    pub nodes: Vec<NodeEndpoint>,
}

impl std::fmt::Debug for SimInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimInfo")
            .field("url", &self.url)
            .field("fingerprint", &self.fingerprint)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("token_id", &self.token_id)
            .field("secret", &"<redacted>")
            .field("nodes", &self.nodes)
            .finish()
    }
}

/// A request the simulator rejected (recorded in strict mode).
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// HTTP method.
    pub method: String,
    /// Path below `/api2/json`.
    pub path: String,
    /// Status code answered.
    pub status: u16,
    /// The error message answered.
    pub message: String,
}

/// A request the simulator received, with its decoded parameters (secrets removed).
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path below `/api2/json`, as sent (percent-decoded).
    pub path: String,
    /// Query and body parameters as name/value pairs, as received.
    pub params: Vec<(String, String)>,
    /// Status code answered.
    pub status: u16,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The faults file could not be read, or a fault is invalid.
    #[error("faults {path}: {message}")]
    Faults {
        /// The file (`<inline>` for [`SimOptions::faults_inline`]).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The scenario file could not be read or is invalid.
    #[error("scenario {path}: {message}")]
    Scenario {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A scenario guest's services cannot be served (a test fixture, see
    /// [`ScenarioService`]): an address outside 127.0.0.0/8, none, a port declared twice...
    #[error("scenario {path}: {source}")]
    Service {
        /// The file (`<inline>` for [`SimOptions::scenario_inline`]).
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ServiceError,
    },
    /// Anything else that prevented start-up.
    #[error("simulator start-up failed: {0}")]
    Startup(String),
}

/// Entry point: starts simulators.
pub struct Simulator;

/// A running simulator. Dropping it stops the server.
pub struct RunningSim {
    info: SimInfo,
    addr: SocketAddr,
    state: Arc<state::AppState>,
    /// Whether the listeners still run (not shut down yet).
    serving: bool,
}

impl std::fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSim")
            .field("info", &self.info)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Generates (or loads) the cluster, sets up the credentials, creates the certificate and
    /// the terminals' state directory, binds and starts serving (the steps of the `start`
    /// module). Returns once the server accepts connections.
    ///
    /// # Errors
    /// [`SimError::Scenario`] for an unreadable or invalid scenario, [`SimError::Bind`] when the
    /// address cannot be bound, [`SimError::Startup`] for bad credentials options or TLS set-up.
    pub async fn start(opts: SimOptions) -> Result<RunningSim, SimError> {
        let clock = Arc::new(clock::Clock::default());
        let (model, users, scenario_faults) = start::model(&opts, clock.now_ms())?;
        let faults = start::faults(&opts, &model, scenario_faults)?;
        let creds = start::credentials(&opts)?;
        let auth = start::auth(&creds, users);
        let ca = cert::Ca::generate(&auth::random_uuid())?;
        let names: Vec<String> = model.nodes.iter().map(|n| n.name.clone()).collect();
        let listeners = listeners::Listeners::bind(ca, &names, model.local, opts.listen)?;
        let endpoints = listeners.endpoints();
        let first = &endpoints[model.local];
        let (url, fingerprint) = (first.url.clone(), first.fingerprint.clone());
        let addr = listeners.addr(model.local).unwrap_or(opts.listen);
        // After the bind: a simulator that cannot listen writes nothing into a state directory.
        let terminals = start::terminals(&opts, clock.now_ms())?;

        let state = Arc::new(state::AppState {
            model: RwLock::new(model),
            auth,
            clock,
            recorder: record::Recorder::default(),
            latency: latency::Latency::new(opts.latency),
            auth_failure_delay: opts.auth_failure_delay,
            terminal_ok_delay: opts.terminal_ok_delay,
            strict: opts.strict,
            task_duration: opts.task_duration,
            terminals,
            login_outage: Default::default(),
            services: services::Services::new(),
            listeners,
            faults,
        });
        state.listeners.serve_all(&state)?;
        // Guests that run from the start listen before this returns.
        state.services.start_timer(Arc::downgrade(&state));
        state.settle_tasks();
        let info = SimInfo {
            url,
            fingerprint,
            username: creds.username,
            password: creds.password,
            token_id: creds.token_id,
            secret: creds.secret,
            nodes: endpoints,
        };
        tracing::info!(url = %info.url, "pvekit-sim listening");
        Ok(RunningSim {
            info,
            addr,
            state,
            serving: true,
        })
    }
}

impl RunningSim {
    /// URL, fingerprint and credentials.
    pub fn info(&self) -> &SimInfo {
        &self.info
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// PEM of the CA that signed the server certificate (for "trust this CA" setups).
    pub fn ca_pem(&self) -> &str {
        self.state.listeners.ca_pem()
    }
    /// Every request received so far (secret values replaced by `<redacted>`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.requests()
    }
    /// Every request rejected so far (parameter, path, or auth errors: 400/401/403/501).
    pub fn rejections(&self) -> Vec<Rejection> {
        self.state.recorder.rejections()
    }
    /// Moves the simulator's clock forward, so tickets age (tests of renewal and expiry),
    /// uptimes and counters grow, and tasks whose duration has passed finish (their guests
    /// change state by the next request).
    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
        self.state.services.poke();
    }
    /// Stops the simulator's clock: uptimes, counters, CPU and memory figures hold still
    /// (and tasks do not finish unless [`RunningSim::advance_clock`] moves it), so clients
    /// that read the same resource at different moments get the same values. A test aid,
    /// not Proxmox VE behaviour.
    pub fn freeze_clock(&self) {
        self.state.clock.freeze();
    }
    /// Lets a clock stopped by [`RunningSim::freeze_clock`] run again from where it stood.
    pub fn resume_clock(&self) {
        self.state.clock.resume();
        self.state.services.poke();
    }
    /// Makes `POST /access/ticket` (logins and ticket renewals) answer `status` with an
    /// empty body until called with `None`; tickets already issued stay valid.
    pub fn set_login_outage(&self, status: Option<u16>) {
        self.state
            .login_outage
            .store(status.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }
    /// A handle that changes the cluster while the simulator runs: adds nodes and guests,
    /// removes guests, takes nodes offline and back (see [`SimControl`]).
    pub fn control(&self) -> SimControl {
        SimControl {
            state: self.state.clone(),
        }
    }
    /// The simulator clock, Unix seconds (real time plus every [`RunningSim::advance_clock`]).
    pub fn clock_now(&self) -> i64 {
        self.state.clock.now()
    }
    /// The state directory holding the node and container roots of terminal sessions.
    pub fn state_dir(&self) -> &std::path::Path {
        self.state.terminals.state.path()
    }
    /// The addresses the guests' services listen on now (see [`ScenarioService`]), sorted;
    /// tasks the clock has finished are settled first.
    pub fn service_listeners(&self) -> Vec<SocketAddr> {
        self.state.settle_tasks();
        self.state.services.listening()
    }
    /// Number of live terminal sessions (opened by termproxy and not ended yet).
    pub fn terminal_sessions(&self) -> usize {
        self.state.terminals.live()
    }
    /// Keepalive messages (`2`) terminal sessions have received so far. termproxy consumes a
    /// `2` when the next bytes arrive, so the latest one of a session counts only then.
    pub fn terminal_keepalives(&self) -> u64 {
        self.state.terminals.keepalives()
    }
    /// Stops serving and waits for the server to finish; terminal sessions end (their
    /// process trees are killed).
    pub async fn shutdown(mut self) {
        self.state.services.stop();
        self.state.terminals.shutdown();
        self.state.listeners.shutdown(Duration::from_secs(1)).await;
        self.serving = false;
        for _ in 0..100 {
            if self.state.terminals.connected() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.state.terminals.state.remove_temporary();
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.state.services.stop();
        self.state.terminals.shutdown();
        self.state.terminals.state.remove_temporary();
        if self.serving {
            self.state.listeners.abort();
        }
    }
}
