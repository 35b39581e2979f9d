//! Wake on demand and idle sleep, for reverse proxies that start a guest on the first
//! request and stop it when nobody uses it (GoDoxy's idle watcher, for Proxmox VE guests).
//!
//! - [`Waker::wake`] starts a stopped guest (resumes a paused VM), waits until it runs, has
//!   an address, and passes a readiness [`Probe`], within one timeout. Progress comes as
//!   [`WakeEvent`]s named like GoDoxy's (`starting`, `container_woke`, `waiting_ready`,
//!   `ready`, `error`; godoxy `internal/idlewatcher/events.go`). Wakes of one guest share one
//!   flight: a thousand concurrent callers send one start and all return when it is ready.
//!   A guest started meanwhile elsewhere (the Proxmox UI) counts as woken.
//! - [`IdleWatcher`] stops a guest after an idle timeout. Requests mark it active
//!   ([`IdleWatcher::touch`]); an [`ActiveGuard`] (an open connection, say) keeps it awake
//!   while held. Sleeping and waking one guest never overlap: they take turns through the
//!   [`Waker`]'s per-guest lock.
//!
//! ```no_run
//! # async fn demo(client: pvekit::Client) -> Result<(), pvekit::Error> {
//! use std::time::Duration;
//! use pvekit::{IdleOptions, IdleWatcher, Probe, WakeOptions, Waker};
//!
//! let waker = Waker::new();
//! let guest = client.node("pve1").lxc(101);
//! let options = WakeOptions { probe: Probe::Http { port: 8080, path: "/".into() }, ..Default::default() };
//! let idle = IdleWatcher::new(&waker, guest.clone(), IdleOptions::default())?;
//!
//! // On each request:
//! let _active = idle.guard(); // held while the request is proxied
//! let mut wake = waker.wake(&guest, options);
//! while let Some(event) = wake.next_event().await {
//!     println!("{}: {}", event.kind, event.message);
//! }
//! let ready = wake.ready().await?;
//! println!("proxy to {:?}", ready.address);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use pvekit_core::types::{GuestKind, RunState};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::debug;

use crate::error::{Error, Result};
use crate::guest::{Action, Guest, IpPolicy};
use crate::task::WaitOptions;

/// How long a wake may take by default (GoDoxy's `wake_timeout` default).
pub const WAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between readiness probes by default.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// The longest one probe attempt may take.
const PROBE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an HTTP probe's answer that is read (its status line and headers).
const PROBE_ANSWER_CAP: usize = 16 * 1024;

/// What "ready" means for a woken guest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Probe {
    /// Running with an address.
    #[default]
    Running,
    /// Running, and a TCP connection to this port succeeds.
    Tcp {
        /// The port.
        port: u16,
    },
    /// Running, and an HTTP `GET` of `path` on this port answers with a status below 500.
    Http {
        /// The port.
        port: u16,
        /// The path, starting with `/`.
        path: String,
    },
}

impl Probe {
    fn port(&self) -> Option<u16> {
        match self {
            Probe::Running => None,
            Probe::Tcp { port } | Probe::Http { port, .. } => Some(*port),
        }
    }
}

/// How [`Waker::wake`] wakes a guest.
#[derive(Debug, Clone, PartialEq)]
pub struct WakeOptions {
    /// What ready means (default: running with an address).
    pub probe: Probe,
    /// The whole wake's limit, from the call to ready (default [`WAKE_TIMEOUT`]).
    pub timeout: Duration,
    /// Time between probes, and between polls of the start task (default
    /// [`PROBE_INTERVAL`]; at least [`crate::MIN_INTERVAL`]).
    pub probe_interval: Duration,
    /// The address to probe; by default the guest's first IPv4 address (else its first
    /// address) under `ip_policy`.
    pub address: Option<IpAddr>,
    /// Which of the guest's addresses count (default: private ones, as GoDoxy).
    pub ip_policy: IpPolicy,
}

impl Default for WakeOptions {
    fn default() -> Self {
        WakeOptions {
            probe: Probe::Running,
            timeout: WAKE_TIMEOUT,
            probe_interval: PROBE_INTERVAL,
            address: None,
            ip_policy: IpPolicy::default(),
        }
    }
}

/// The kind of a [`WakeEvent`], named as GoDoxy names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WakeEventKind {
    /// The wake began.
    Starting,
    /// The guest runs (started, resumed, or already running).
    ContainerWoke,
    /// Waiting for an address and for the probe.
    WaitingReady,
    /// The probe passed.
    Ready,
    /// The wake failed.
    Error,
}

impl fmt::Display for WakeEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WakeEventKind::Starting => "starting",
            WakeEventKind::ContainerWoke => "container_woke",
            WakeEventKind::WaitingReady => "waiting_ready",
            WakeEventKind::Ready => "ready",
            WakeEventKind::Error => "error",
        })
    }
}

/// One step of a wake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WakeEvent {
    /// Which step.
    #[serde(rename = "type")]
    pub kind: WakeEventKind,
    /// What happened, for people.
    pub message: String,
    /// For [`WakeEventKind::Error`]: the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time since the wake began.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// A woken guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The address probed (with the probe's port, if any).
    pub address: SocketAddr,
    /// Whether this wake started or resumed the guest (false: it was already running).
    pub started: bool,
    /// Time from the wake's start to ready.
    pub elapsed: Duration,
}

/// Why a wake failed (the shared part of [`Error::WakeFailed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    stage: &'static str,
    reason: String,
    timed_out: bool,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    events: Vec<WakeEvent>,
    outcome: Option<std::result::Result<Ready, Failure>>,
}

/// Identifies a guest across the clusters a [`Waker`] serves.
type Key = (String, GuestKind, u64);

/// One wake in flight; dropping the last handle stops it.
struct Flight {
    progress: watch::Receiver<Progress>,
    worker: tokio::task::AbortHandle,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

#[derive(Default)]
struct Shared {
    /// Flights by guest, with a number that tells one flight from a later one.
    flights: Mutex<HashMap<Key, (u64, Weak<Flight>)>>,
    next_flight: std::sync::atomic::AtomicU64,
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

/// Wakes guests, one flight per guest (see the module docs). Cheap to clone; clones share
/// their flights.
#[derive(Clone, Default)]
pub struct Waker {
    shared: Arc<Shared>,
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flights = self.shared.flights.lock().map_or(0, |m| m.len());
        f.debug_struct("Waker").field("flights", &flights).finish()
    }
}

fn key(guest: &Guest) -> Key {
    (
        guest.node().cluster().to_string(),
        guest.kind(),
        guest.vmid(),
    )
}

impl Waker {
    /// A waker with no flights.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes `guest`, or joins the wake of it already in flight (whose options then apply).
    /// Must be called inside a Tokio runtime. The wake stops when every handle to it is
    /// dropped.
    pub fn wake(&self, guest: &Guest, options: WakeOptions) -> WakeHandle {
        let key = key(guest);
        let mut flights = self
            .shared
            .flights
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        flights.retain(|_, (_, f)| f.strong_count() > 0);
        if let Some(flight) = flights.get(&key).and_then(|(_, f)| f.upgrade()) {
            return WakeHandle::new(flight);
        }
        let number = self.shared.next_flight.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(Progress::default());
        let lock = self.power_lock(&key);
        let shared = Arc::downgrade(&self.shared);
        let worker_key = key.clone();
        let guest = guest.clone();
        let worker = tokio::spawn(async move {
            run(guest, options, lock, &tx).await;
            // Later wakes start afresh: the guest may have been put to sleep since.
            if let Some(shared) = shared.upgrade() {
                let mut flights = shared.flights.lock().unwrap_or_else(|e| e.into_inner());
                if flights.get(&worker_key).is_some_and(|(n, _)| *n == number) {
                    flights.remove(&worker_key);
                }
            }
        });
        let flight = Arc::new(Flight {
            progress: rx,
            worker: worker.abort_handle(),
        });
        flights.insert(key, (number, Arc::downgrade(&flight)));
        WakeHandle::new(flight)
    }

    /// Number of wakes in flight.
    pub fn in_flight(&self) -> usize {
        let flights = self
            .shared
            .flights
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        flights
            .values()
            .filter(|(_, f)| f.strong_count() > 0)
            .count()
    }

    /// The lock that makes a guest's wakes and sleeps take turns.
    fn power_lock(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.shared.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key.clone()).or_default().clone()
    }
}

/// A caller's view of a wake: its events, then its outcome.
pub struct WakeHandle {
    /// Keeps the wake going while held.
    _flight: Arc<Flight>,
    progress: watch::Receiver<Progress>,
    seen: usize,
}

impl fmt::Debug for WakeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeHandle")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl WakeHandle {
    fn new(flight: Arc<Flight>) -> Self {
        let progress = flight.progress.clone();
        WakeHandle {
            _flight: flight,
            progress,
            seen: 0,
        }
    }

    /// The next event of the wake (from its first, also for a caller that joined late);
    /// `None` after the last one (`ready` or `error`).
    pub async fn next_event(&mut self) -> Option<WakeEvent> {
        loop {
            {
                let p = self.progress.borrow_and_update();
                if let Some(e) = p.events.get(self.seen) {
                    self.seen += 1;
                    return Some(e.clone());
                }
                if p.outcome.is_some() {
                    return None;
                }
            }
            if self.progress.changed().await.is_err() {
                // The worker is gone without an outcome (its runtime shut down).
                let p = self.progress.borrow();
                return p.events.get(self.seen).cloned().inspect(|_| self.seen += 1);
            }
        }
    }

    /// The events as a `Stream`, from the first not yet read; it ends after the last one.
    /// [`WakeHandle::ready`] then gives the outcome.
    pub fn events(&mut self) -> impl futures_util::Stream<Item = WakeEvent> + Send + '_ {
        futures_util::stream::unfold(
            self,
            |h| async move { h.next_event().await.map(|e| (e, h)) },
        )
    }

    /// Waits for the wake's outcome.
    ///
    /// # Errors
    /// [`Error::WakeFailed`], with the stage it failed in and whether it timed out.
    pub async fn ready(mut self) -> Result<Ready> {
        loop {
            {
                let p = self.progress.borrow_and_update();
                match &p.outcome {
                    Some(Ok(ready)) => return Ok(ready.clone()),
                    Some(Err(f)) => {
                        return Err(Error::WakeFailed {
                            stage: f.stage,
                            reason: f.reason.clone(),
                            timed_out: f.timed_out,
                        });
                    }
                    None => {}
                }
            }
            if self.progress.changed().await.is_err() {
                return Err(Error::WakeFailed {
                    stage: "waking",
                    reason: "the wake ended without an outcome (its runtime shut down)".into(),
                    timed_out: false,
                });
            }
        }
    }
}

/// Sends one event.
fn emit(tx: &watch::Sender<Progress>, started: Instant, kind: WakeEventKind, message: String) {
    let event = WakeEvent {
        kind,
        message,
        error: None,
        elapsed: started.elapsed(),
    };
    debug!(kind = %event.kind, message = %event.message, "wake");
    tx.send_modify(|p| p.events.push(event));
}

/// The worker of one flight.
async fn run(
    guest: Guest,
    options: WakeOptions,
    lock: Arc<tokio::sync::Mutex<()>>,
    tx: &watch::Sender<Progress>,
) {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let name = format!(
        "{} {} on {}",
        guest.kind(),
        guest.vmid(),
        guest.node().name()
    );
    emit(
        tx,
        started,
        WakeEventKind::Starting,
        format!("waking {name}"),
    );
    let outcome = wake(&guest, &options, &lock, tx, started, deadline).await;
    let outcome = outcome.map_err(|mut f| {
        if f.timed_out {
            f.reason = format!(
                "gave up after {:?} {}: {}",
                options.timeout, f.stage, f.reason
            );
        }
        f
    });
    tx.send_modify(|p| {
        let event = match &outcome {
            Ok(ready) => WakeEvent {
                kind: WakeEventKind::Ready,
                message: format!("{name} is ready at {}", ready.address),
                error: None,
                elapsed: started.elapsed(),
            },
            Err(f) => WakeEvent {
                kind: WakeEventKind::Error,
                message: format!("waking {name} failed while {}", f.stage),
                error: Some(f.reason.clone()),
                elapsed: started.elapsed(),
            },
        };
        p.events.push(event);
        p.outcome = Some(outcome);
    });
}

/// Runs `fut` until `deadline`, mapping its error and the timeout to a [`Failure`].
async fn within<T>(
    deadline: Instant,
    stage: &'static str,
    last: &str,
    fut: impl Future<Output = Result<T>>,
) -> std::result::Result<T, Failure> {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure {
            stage,
            reason: e.to_string(),
            timed_out: matches!(e, Error::Timeout { .. }),
        }),
        Err(_) => Err(Failure {
            stage,
            reason: if last.is_empty() {
                "no answer in time".into()
            } else {
                last.to_string()
            },
            timed_out: true,
        }),
    }
}

async fn wake(
    guest: &Guest,
    options: &WakeOptions,
    lock: &tokio::sync::Mutex<()>,
    tx: &watch::Sender<Progress>,
    started: Instant,
    deadline: Instant,
) -> std::result::Result<Ready, Failure> {
    let interval = options.probe_interval.max(crate::MIN_INTERVAL);
    let woke_up = {
        // A sleep in progress (an idle shutdown) finishes first.
        let _turn = within(deadline, "waiting for a sleep to finish", "", async {
            Ok(lock.lock().await)
        })
        .await?;
        power_on(guest, interval, deadline).await?
    };
    emit(
        tx,
        started,
        WakeEventKind::ContainerWoke,
        match woke_up {
            true => format!("{} {} runs", guest.kind(), guest.vmid()),
            false => format!("{} {} was already running", guest.kind(), guest.vmid()),
        },
    );
    emit(
        tx,
        started,
        WakeEventKind::WaitingReady,
        match &options.probe {
            Probe::Running => "waiting for an address".to_string(),
            Probe::Tcp { port } => format!("waiting for port {port} to accept connections"),
            Probe::Http { port, path } => {
                format!("waiting for http://…:{port}{path} to answer below 500")
            }
        },
    );
    let ip = match options.address {
        Some(ip) => ip,
        None => address(guest, options.ip_policy, interval, deadline).await?,
    };
    let address = SocketAddr::new(ip, options.probe.port().unwrap_or(0));
    loop {
        let attempt = Instant::now();
        let limit = deadline.min(attempt + PROBE_ATTEMPT_TIMEOUT);
        let last = match tokio::time::timeout_at(limit, probe(&options.probe, address)).await {
            Ok(Ok(())) => {
                return Ok(Ready {
                    address,
                    started: woke_up,
                    elapsed: started.elapsed(),
                });
            }
            Ok(Err(e)) => format!("last attempt on {address}: {e}"),
            Err(_) => format!("last attempt on {address}: no answer in time"),
        };
        let next = attempt + interval;
        if next >= deadline {
            return Err(Failure {
                stage: "waiting for the probe",
                reason: last,
                timed_out: true,
            });
        }
        tokio::time::sleep_until(next).await;
    }
}

/// Starts or resumes the guest unless it runs; whether it did.
async fn power_on(
    guest: &Guest,
    interval: Duration,
    deadline: Instant,
) -> std::result::Result<bool, Failure> {
    let stage = "checking its status";
    let status = within(deadline, stage, "", guest.status()).await?;
    let paused = status.qmpstatus.as_deref() == Some("paused");
    let action = match status.status {
        RunState::Running if paused => Action::Resume,
        RunState::Running => return Ok(false),
        _ => Action::Start,
    };
    let stage = if action == Action::Resume {
        "resuming"
    } else {
        "starting"
    };
    let wait = WaitOptions {
        poll: interval,
        timeout: deadline.saturating_duration_since(Instant::now()),
        log: false,
    };
    let done = within(deadline, stage, "", async {
        guest.begin(action).await?.options(wait).wait().await
    })
    .await;
    match done {
        Ok(()) => Ok(true),
        Err(f) if !f.timed_out => {
            // Started elsewhere meanwhile (the start then fails: "already running")?
            let now = within(deadline, stage, "", guest.status()).await?;
            if now.status == RunState::Running && now.qmpstatus.as_deref() != Some("paused") {
                Ok(true)
            } else {
                Err(f)
            }
        }
        Err(f) => Err(f),
    }
}

/// The guest's address to probe, polled until it has one.
async fn address(
    guest: &Guest,
    policy: IpPolicy,
    interval: Duration,
    deadline: Instant,
) -> std::result::Result<IpAddr, Failure> {
    let stage = "waiting for an address";
    loop {
        let ips = within(deadline, stage, "", guest.ips_from_interfaces(policy)).await;
        let ips = match ips {
            Ok(ips) if ips.is_empty() && guest.kind() == GuestKind::Lxc => {
                within(deadline, stage, "", guest.ips_from_config(policy)).await?
            }
            other => other?,
        };
        if let Some(ip) = ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()) {
            return Ok(*ip);
        }
        if Instant::now() + interval >= deadline {
            return Err(Failure {
                stage,
                reason: "the guest reports no address the IP policy keeps".into(),
                timed_out: true,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// One probe attempt.
async fn probe(probe: &Probe, address: SocketAddr) -> std::io::Result<()> {
    match probe {
        Probe::Running => Ok(()),
        Probe::Tcp { .. } => tokio::net::TcpStream::connect(address).await.map(drop),
        Probe::Http { path, .. } => http_probe(address, path).await,
    }
}

/// `GET path` over HTTP/1.1; passes on a status below 500. Reads at most
/// [`PROBE_ANSWER_CAP`] bytes of the answer.
async fn http_probe(address: SocketAddr, path: &str) -> std::io::Result<()> {
    use std::io::{Error as IoError, ErrorKind};
    if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(IoError::new(
            ErrorKind::InvalidInput,
            format!("{path:?} is not a URL path"),
        ));
    }
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let host = match address {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pvekit-wake\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(IoError::new(
                ErrorKind::UnexpectedEof,
                "closed before an HTTP status",
            ));
        }
        answer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&answer) {
            Ok(_) if response.code.is_some() => {
                let code = response.code.unwrap_or(0);
                return if code < 500 {
                    Ok(())
                } else {
                    Err(IoError::other(format!("HTTP {code}")))
                };
            }
            Ok(_) | Err(httparse::Error::TooManyHeaders) if answer.len() < PROBE_ANSWER_CAP => {}
            Ok(_) | Err(httparse::Error::TooManyHeaders) => {
                return Err(IoError::new(ErrorKind::InvalidData, "HTTP answer too long"));
            }
            Err(e) => {
                return Err(IoError::new(
                    ErrorKind::InvalidData,
                    format!("not an HTTP answer ({e})"),
                ));
            }
        }
    }
}

/// How an [`IdleWatcher`] puts a guest to sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SleepMethod {
    /// Ask the guest OS to shut down (the default).
    #[default]
    Shutdown,
    /// Stop it at once.
    Stop,
    /// Pause a VM (VMs only).
    Suspend,
}

impl SleepMethod {
    fn action(self) -> Action {
        match self {
            SleepMethod::Shutdown => Action::Shutdown,
            SleepMethod::Stop => Action::Stop,
            SleepMethod::Suspend => Action::Suspend,
        }
    }
}

/// How an [`IdleWatcher`] decides and sleeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleOptions {
    /// Sleep after this long without activity (default 5 minutes).
    pub timeout: Duration,
    /// How (default shutdown).
    pub method: SleepMethod,
    /// The power action's own limit (default 2 minutes).
    pub action_timeout: Duration,
}

impl Default for IdleOptions {
    fn default() -> Self {
        IdleOptions {
            timeout: Duration::from_secs(300),
            method: SleepMethod::Shutdown,
            action_timeout: crate::TASK_TIMEOUT,
        }
    }
}

/// What an [`IdleWatcher`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdleEvent {
    /// It put the guest to sleep.
    Slept {
        /// How.
        method: SleepMethod,
    },
    /// Putting the guest to sleep failed; it tries again after the next idle period.
    Failed {
        /// The error, as text.
        reason: String,
    },
}

#[derive(Debug)]
struct IdleShared {
    last_active: Mutex<Instant>,
    open: AtomicUsize,
    activity: Notify,
}

impl IdleShared {
    fn touch(&self) {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.activity.notify_one();
    }
}

/// Puts one guest to sleep after an idle timeout (see the module docs). Dropping it stops
/// the watching (a sleep in progress is abandoned, its task goes on on the node).
pub struct IdleWatcher {
    shared: Arc<IdleShared>,
    events: watch::Receiver<Option<IdleEvent>>,
    task: tokio::task::AbortHandle,
}

impl fmt::Debug for IdleWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleWatcher")
            .field("open", &self.shared.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for IdleWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keeps an [`IdleWatcher`]'s guest awake while held; its drop counts as activity.
#[derive(Debug)]
pub struct ActiveGuard {
    shared: Arc<IdleShared>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::AcqRel);
        self.shared.touch();
    }
}

impl IdleWatcher {
    /// Watches `guest`, idle from now. Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for [`SleepMethod::Suspend`] on a container (a container
    /// suspend is a CRIU checkpoint, experimental in Proxmox VE).
    pub fn new(waker: &Waker, guest: Guest, options: IdleOptions) -> Result<Self> {
        if options.method == SleepMethod::Suspend && guest.kind() == GuestKind::Lxc {
            return Err(Error::invalid(format!(
                "cannot suspend container {} when idle: suspend is for VMs; use shutdown or stop",
                guest.vmid()
            )));
        }
        let shared = Arc::new(IdleShared {
            last_active: Mutex::new(Instant::now()),
            open: AtomicUsize::new(0),
            activity: Notify::new(),
        });
        let (tx, events) = watch::channel(None);
        let lock = waker.power_lock(&key(&guest));
        let task = tokio::spawn(watch_idle(guest, options, shared.clone(), lock, tx));
        Ok(IdleWatcher {
            shared,
            events,
            task: task.abort_handle(),
        })
    }

    /// Marks the guest active now.
    pub fn touch(&self) {
        self.shared.touch();
    }

    /// Marks the guest active until the guard is dropped.
    pub fn guard(&self) -> ActiveGuard {
        self.shared.open.fetch_add(1, Ordering::AcqRel);
        self.shared.touch();
        ActiveGuard {
            shared: self.shared.clone(),
        }
    }

    /// Guards held now.
    pub fn open_guards(&self) -> usize {
        self.shared.open.load(Ordering::Acquire)
    }

    /// The latest thing the watcher did, as a watch channel.
    pub fn events(&self) -> watch::Receiver<Option<IdleEvent>> {
        self.events.clone()
    }
}

async fn watch_idle(
    guest: Guest,
    options: IdleOptions,
    shared: Arc<IdleShared>,
    lock: Arc<tokio::sync::Mutex<()>>,
    events: watch::Sender<Option<IdleEvent>>,
) {
    loop {
        // Sleep until the idle deadline, starting over on activity.
        let deadline =
            *shared.last_active.lock().unwrap_or_else(|e| e.into_inner()) + options.timeout;
        let open = shared.open.load(Ordering::Acquire);
        if open > 0 || Instant::now() < deadline {
            let activity = shared.activity.notified();
            if open > 0 {
                activity.await;
            } else {
                tokio::select! {
                    () = activity => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            continue;
        }
        let turn = lock.lock().await;
        // Activity while waiting for the turn (a wake) starts the idle period over.
        let last = *shared.last_active.lock().unwrap_or_else(|e| e.into_inner());
        if shared.open.load(Ordering::Acquire) > 0 || last + options.timeout > Instant::now() {
            continue;
        }
        let outcome = sleep_guest(&guest, options).await;
        drop(turn);
        match outcome {
            Ok(true) => {
                events.send_replace(Some(IdleEvent::Slept {
                    method: options.method,
                }));
            }
            Ok(false) => {}
            Err(e) => {
                debug!(vmid = guest.vmid(), error = %e, "idle sleep failed");
                events.send_replace(Some(IdleEvent::Failed {
                    reason: e.to_string(),
                }));
            }
        }
        // Asleep (or failed): wait for activity before counting again.
        shared.activity.notified().await;
    }
}

/// Puts the guest to sleep if it runs; whether it did.
async fn sleep_guest(guest: &Guest, options: IdleOptions) -> Result<bool> {
    let status = guest.status().await?;
    let paused = status.qmpstatus.as_deref() == Some("paused");
    if status.status != RunState::Running || paused {
        return Ok(false);
    }
    let wait = WaitOptions {
        timeout: options.action_timeout,
        ..WaitOptions::default()
    };
    guest
        .begin(options.method.action())
        .await?
        .options(wait)
        .wait()
        .await?;
    Ok(true)
}
