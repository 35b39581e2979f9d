//! Guest services: real TCP (and HTTP) listeners on the loopback addresses of running guests.
//!
//! **Not Proxmox VE behaviour but a test fixture**, so there is no outside source to follow: a
//! real node never listens on its guests' addresses. It lets a client test wake a guest and
//! probe it for readiness against the simulator, over a real network stack.
//!
//! A guest declares its services in its scenario ([`ScenarioService`], `services:`) or through
//! [`crate::SimControl::add_guest`]. While the guest is *running* and not paused, from
//! `ready_after_ms` after it started (simulator clock), the simulator holds a listener on the
//! guest's address and each port:
//!
//! - the address is the static IPv4 address of the guest's first interface as its config
//!   states it ([`guest_address`]): `ip=` of `net0` for a container, `ip=` of `ipconfig0`
//!   (cloud-init, which the guest agent then reports) for a VM; it is read again at every
//!   reconciliation, so a config change moves the listener;
//! - `http: true` answers one HTTP/1.1 request per connection with `200 OK` and a line naming
//!   the guest, then closes; otherwise a connection is accepted and held until the peer closes
//!   it (its input is discarded), at most [`CONN_TIMEOUT`] or 64 KiB of input.
//!
//! The guest's state drives the listeners, not the caller: whatever stops, suspends, pauses,
//! reboots or removes the guest (API tasks, the control handle, a task finishing on the
//! clock) closes them and drops their connections; whatever starts it (API tasks, a scenario,
//! the control handle) opens them once `ready_after_ms` has passed. A reboot waits again;
//! resuming a paused VM does not. A node taken offline keeps its guests' listeners (its
//! guests keep running behind the partition).
//!
//! How: [`Services::reconcile`] compares what the model wants with what is open, closes and
//! opens listeners synchronously (a closed listener refuses connections before `reconcile`
//! returns: the listening socket is shut down at once, its task ends a moment later) and
//! notes the next moment the wanted set changes by itself (a task of a service guest ending,
//! a service becoming ready). Every request reconciles after settling tasks (and again after
//! handlers that change state), so what the API reports and what listens agree; a timer task
//! reconciles at the noted moments (and every second while any guest declares services) when
//! no request comes.
//!
//! Safety: tests may only send packets to loopback. A scenario or an added guest whose
//! services would listen elsewhere is refused ([`ServiceError::NotLoopback`]), and the bind
//! itself refuses any address outside 127.0.0.0/8 (a config changed at run time is logged
//! and not served). IPv6 is not served.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections per listener (more are closed at once),
//! each ended after [`CONN_TIMEOUT`]; an HTTP request head may take [`MAX_HEAD`] bytes and
//! [`HEAD_TIMEOUT`]. Listeners end with the simulator ([`Services::stop`]).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use pvekit_core::types::GuestKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::clock::Clock;
use crate::model::scenario::ScenarioService;
use crate::model::tasks::Effect;
use crate::model::{Guest, Model, net};
use crate::state::AppState;

/// Largest HTTP request head (request line and headers) read; a longer one gets 431.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long any connection lives at most.
pub(crate) const CONN_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once per listener; more are closed as soon as they are accepted.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// Bytes of input read (and discarded) per connection before it is closed.
const MAX_DISCARD: usize = 64 * 1024;
/// How long the answer to an HTTP request waits for the client to finish sending.
const LINGER: Duration = Duration::from_secs(1);
/// How soon a listener that could not be opened is tried again, in ms.
const RETRY_MS: i64 = 1000;
/// The timer's longest sleep while some guest declares services.
const FALLBACK: Duration = Duration::from_secs(1);

/// Why a guest's services cannot be served (a scenario or an added guest is refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The guest's address is not a loopback address.
    #[error(
        "guest {vmid} declares services but its address {addr} is not a loopback address; \
         the simulator only listens on 127.0.0.0/8"
    )]
    NotLoopback {
        /// The guest.
        vmid: u32,
        /// Its address.
        addr: Ipv4Addr,
    },
    /// The guest has no static IPv4 address to listen on.
    #[error(
        "guest {vmid} declares services but has no static IPv4 address (LXC: `ip=` of \
         net0, QEMU: `ip=` of ipconfig0 and a net0, in CIDR form)"
    )]
    NoAddress {
        /// The guest.
        vmid: u32,
    },
    /// The guest states its `interfaces`, and none of them reports its address.
    #[error(
        "guest {vmid} declares services on {addr} but its `interfaces` do not report that \
         address"
    )]
    NotReported {
        /// The guest.
        vmid: u32,
        /// Its address.
        addr: Ipv4Addr,
    },
    /// Port 0 is not a port to listen on.
    #[error("guest {vmid} declares a service on port 0")]
    PortZero {
        /// The guest.
        vmid: u32,
    },
    /// The guest declares a port twice.
    #[error("guest {vmid} declares port {port} twice")]
    DuplicatePort {
        /// The guest.
        vmid: u32,
        /// The port.
        port: u16,
    },
    /// Another guest declares the same address and port.
    #[error("guest {vmid} declares {addr}:{port}, which guest {other} declares too")]
    Clash {
        /// The guest refused.
        vmid: u32,
        /// The guest that declares it too.
        other: u32,
        /// The address.
        addr: Ipv4Addr,
        /// The port.
        port: u16,
    },
}

/// The IPv4 address a guest's services listen on: the static address of its first interface
/// as its config states it (`ip=` of `net0` for LXC, `ip=` of `ipconfig0` for QEMU, which
/// needs a `net0` too), in CIDR form; `None` for DHCP, manual or no address.
pub(crate) fn guest_address(g: &Guest) -> Option<Ipv4Addr> {
    let net0 = g.config.get("net0")?;
    let ip = match g.kind {
        GuestKind::Lxc => net::parse_props(net0).remove("ip")?,
        GuestKind::Qemu => net::parse_props(g.config.get("ipconfig0")?).remove("ip")?,
    };
    let (host, prefix) = ip.split_once('/')?;
    prefix.parse::<u8>().ok().filter(|p| *p <= 32)?;
    host.parse().ok()
}

/// The address of a guest that may be served (a loopback one).
fn loopback_address(g: &Guest) -> Result<Ipv4Addr, ServiceError> {
    let vmid = g.vmid;
    let addr = guest_address(g).ok_or(ServiceError::NoAddress { vmid })?;
    if !addr.is_loopback() {
        return Err(ServiceError::NotLoopback { vmid, addr });
    }
    Ok(addr)
}

/// Checks a guest's services alone (ports, address, stated interfaces); returns the address
/// they listen on.
pub(crate) fn check_guest(g: &Guest) -> Result<Ipv4Addr, ServiceError> {
    let vmid = g.vmid;
    let mut ports = HashSet::new();
    for s in &g.services {
        if s.port == 0 {
            return Err(ServiceError::PortZero { vmid });
        }
        if !ports.insert(s.port) {
            return Err(ServiceError::DuplicatePort { vmid, port: s.port });
        }
    }
    let addr = loopback_address(g)?;
    if let Some(ifaces) = &g.interfaces {
        let reported = ifaces.iter().flat_map(|i| &i.addrs).any(|a| {
            a.split('/').next().and_then(|h| h.parse::<IpAddr>().ok()) == Some(IpAddr::V4(addr))
        });
        if !reported {
            return Err(ServiceError::NotReported { vmid, addr });
        }
    }
    Ok(addr)
}

/// A listener, by guest and port.
type Key = (u32, u16);

/// The text an HTTP service answers, shared with its listener so a rename shows at once.
type Label = Arc<Mutex<String>>;

/// What the model wants open.
struct Want {
    addr: Ipv4Addr,
    http: bool,
    /// When the guest started (ms): a restart reopens the listener.
    since_ms: i64,
    label: String,
}

/// An open listener. Dropping it closes it: the listening socket is shut down at once (new
/// connections are refused), the task (and with it every connection) is aborted.
struct Open {
    addr: Ipv4Addr,
    http: bool,
    since_ms: i64,
    label: Label,
    /// The listening socket (the task accepts on a duplicate of it).
    socket: std::net::TcpListener,
    task: JoinHandle<()>,
}

impl Drop for Open {
    fn drop(&mut self) {
        // On Linux, shutting down the reading side of a listening socket stops it listening
        // for every descriptor of it: connection attempts are refused from here on.
        let _ = rustix::net::shutdown(&self.socket, rustix::net::Shutdown::Read);
        self.task.abort();
    }
}

/// What the timer does next.
enum Pause {
    /// The services stopped: the timer ends.
    Stop,
    /// Sleeps this long (or until poked).
    For(Duration),
    /// Sleeps until poked.
    Forever,
}

#[derive(Default)]
struct Inner {
    stopped: bool,
    open: HashMap<Key, Open>,
    /// Why a wanted listener is not open, per key (logged when it changes).
    refused: HashMap<Key, String>,
    /// The next moment (simulator clock, ms) the wanted set may change by itself.
    next: Option<i64>,
    /// The moment the timer sleeps towards; `None` when it sleeps until poked or for the
    /// fallback.
    armed: Option<i64>,
    /// Whether the timer sleeps until poked (no guest declared services).
    idle: bool,
    /// The latest clock reading of a reconciliation (readings never go back).
    last_now: i64,
    timer: Option<JoinHandle<()>>,
}

/// The guest service listeners of one simulator.
pub(crate) struct Services {
    runtime: tokio::runtime::Handle,
    inner: Mutex<Inner>,
    wake: Arc<Notify>,
}

impl Services {
    /// No listeners yet; they will run on the current tokio runtime.
    pub fn new() -> Services {
        Services {
            runtime: tokio::runtime::Handle::current(),
            inner: Mutex::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the timer that reconciles when no request comes; it holds the state weakly and
    /// ends with it (or with [`Services::stop`]).
    pub fn start_timer(&self, state: Weak<AppState>) {
        let wake = self.wake.clone();
        let task = self.runtime.spawn(async move {
            loop {
                let pause = {
                    let Some(st) = state.upgrade() else { return };
                    st.settle_tasks();
                    let has_services = !st.model().service_guests.is_empty();
                    st.services.arm(&st.clock, has_services)
                };
                match pause {
                    Pause::Stop => return,
                    Pause::For(d) => {
                        tokio::select! {
                            () = tokio::time::sleep(d) => {}
                            () = wake.notified() => {}
                        }
                    }
                    Pause::Forever => wake.notified().await,
                }
            }
        });
        let mut inner = self.lock();
        if inner.stopped {
            task.abort();
        } else {
            inner.timer = Some(task);
        }
    }

    /// Wakes the timer (the clock moved).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// How long the timer sleeps now.
    fn arm(&self, clock: &Clock, has_services: bool) -> Pause {
        let mut inner = self.lock();
        if inner.stopped {
            return Pause::Stop;
        }
        inner.armed = inner.next;
        inner.idle = false;
        match inner.next {
            Some(at) => {
                let ms = (at - clock.now_ms()).clamp(1, FALLBACK.as_millis() as i64);
                Pause::For(Duration::from_millis(ms.unsigned_abs()))
            }
            None if has_services => Pause::For(FALLBACK),
            None => {
                inner.idle = true;
                Pause::Forever
            }
        }
    }

    /// Opens and closes listeners so that exactly the ready services of running guests
    /// listen. The caller holds the model (read) for the whole call, so no change slips
    /// between what is read and what is done.
    pub fn reconcile(&self, model: &Model, clock: &Clock) {
        let mut inner = self.lock();
        if inner.stopped
            || (model.service_guests.is_empty()
                && inner.open.is_empty()
                && inner.refused.is_empty())
        {
            inner.next = None;
            return;
        }
        let now = clock.now_ms().max(inner.last_now);
        inner.last_now = now;
        let mut next: Option<i64> = None;
        let mut soonest = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
        let mut wanted: HashMap<Key, Want> = HashMap::new();
        let mut problems: HashMap<Key, String> = HashMap::new();
        for &vmid in &model.service_guests {
            let Some(g) = model.guests.get(&vmid) else {
                continue;
            };
            let Some(since_ms) = g.started_ms.filter(|_| g.running && !g.paused) else {
                continue;
            };
            for s in &g.services {
                let ready =
                    since_ms.saturating_add(i64::try_from(s.ready_after_ms).unwrap_or(i64::MAX));
                if now < ready {
                    soonest(ready);
                    continue;
                }
                match loopback_address(g) {
                    Ok(addr) => {
                        wanted.insert(
                            (vmid, s.port),
                            Want {
                                addr,
                                http: s.http,
                                since_ms,
                                label: label(g, s),
                            },
                        );
                    }
                    Err(e) => {
                        problems.insert((vmid, s.port), e.to_string());
                    }
                }
            }
        }
        for t in model.tasks.pending() {
            if t.effect != Effect::None && model.service_guests.contains(&t.vmid) {
                soonest(t.end_ms.max(now));
            }
        }

        inner.open.retain(|key, o| {
            let keep = wanted
                .get(key)
                .is_some_and(|w| w.addr == o.addr && w.http == o.http && w.since_ms == o.since_ms);
            if !keep {
                tracing::debug!(vmid = key.0, addr = %o.addr, port = key.1, "guest service closed");
            }
            keep
        });
        for (key, w) in wanted {
            if let Some(o) = inner.open.get(&key) {
                let mut l = o.label.lock().unwrap_or_else(|e| e.into_inner());
                if *l != w.label {
                    *l = w.label;
                }
                continue;
            }
            match self.bind(key.1, &w) {
                Ok(o) => {
                    tracing::debug!(vmid = key.0, addr = %w.addr, port = key.1, "guest service listening");
                    inner.open.insert(key, o);
                }
                Err(e) => {
                    problems.insert(key, format!("cannot listen on {}:{}: {e}", w.addr, key.1));
                    soonest(now.saturating_add(RETRY_MS));
                }
            }
        }
        for (key, why) in &problems {
            if inner.refused.get(key) != Some(why) {
                tracing::warn!(
                    vmid = key.0,
                    port = key.1,
                    "guest service not served: {why}"
                );
            }
        }
        inner.refused = problems;
        inner.next = next;
        let earlier = next.is_some_and(|n| inner.armed.is_none_or(|a| n < a));
        if earlier || (inner.idle && !model.service_guests.is_empty()) {
            self.wake.notify_one();
        }
    }

    /// Opens a listener on the wanted address (only ever a loopback one) and `port`.
    fn bind(&self, port: u16, w: &Want) -> std::io::Result<Open> {
        if !w.addr.is_loopback() {
            return Err(std::io::Error::other(
                "not a loopback address; the simulator only listens on 127.0.0.0/8",
            ));
        }
        let socket = std::net::TcpListener::bind(SocketAddrV4::new(w.addr, port))?;
        socket.set_nonblocking(true)?;
        let theirs = socket.try_clone()?;
        let label: Label = Arc::new(Mutex::new(w.label.clone()));
        let task = self.runtime.spawn(listen(theirs, w.http, label.clone()));
        Ok(Open {
            addr: w.addr,
            http: w.http,
            since_ms: w.since_ms,
            label,
            socket,
            task,
        })
    }

    /// The addresses listening now, sorted.
    pub fn listening(&self) -> Vec<SocketAddr> {
        let inner = self.lock();
        let mut out: Vec<SocketAddr> = inner
            .open
            .iter()
            .map(|(&(_, port), o)| SocketAddr::from((o.addr, port)))
            .collect();
        out.sort();
        out
    }

    /// Closes every listener (and its connections) and ends the timer; nothing opens again.
    pub fn stop(&self) {
        let (open, timer) = {
            let mut inner = self.lock();
            inner.stopped = true;
            inner.next = None;
            (std::mem::take(&mut inner.open), inner.timer.take())
        };
        drop(open);
        if let Some(t) = timer {
            t.abort();
        }
    }
}

/// The line an HTTP service answers: the guest's name, VMID and the port.
fn label(g: &Guest, s: &ScenarioService) -> String {
    let kind = match g.kind {
        GuestKind::Lxc => "lxc",
        GuestKind::Qemu => "qemu",
    };
    format!(
        "pvekit-sim guest {} ({kind} {}) port {}\n",
        g.name(),
        g.vmid,
        s.port
    )
}

/// Accepts connections until aborted; the connections are tasks of a set dropped (aborted)
/// with it.
async fn listen(socket: std::net::TcpListener, http: bool, label: Label) {
    let listener = match tokio::net::TcpListener::from_std(socket) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "guest service listener failed");
            return;
        }
    };
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if conns.len() >= MAX_CONNECTIONS {
                        continue; // dropped: closed at once
                    }
                    let label = label.clone();
                    conns.spawn(async move {
                        let _ = tokio::time::timeout(CONN_TIMEOUT, serve(stream, http, label)).await;
                    });
                }
                // Out of descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One connection.
async fn serve(mut stream: TcpStream, http: bool, label: Label) {
    if !http {
        discard(&mut stream, MAX_DISCARD).await;
        return;
    }
    let mut head = Vec::with_capacity(1024);
    let status = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream, &mut head)).await {
        Ok(Head::Complete) => match request_method(&head) {
            Some(method) => Answer::Ok {
                head_only: method == "HEAD",
            },
            None => Answer::BadRequest,
        },
        Ok(Head::TooLarge) => Answer::TooLarge,
        Ok(Head::Closed) | Err(_) => return,
    };
    let text = label.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let reply = status.render(&text);
    if stream.write_all(&reply).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Read what the client still sends (a body), so closing does not reset the connection
    // before it has read the answer.
    let _ = tokio::time::timeout(LINGER, discard(&mut stream, MAX_DISCARD)).await;
}

/// Reads and drops input until the peer closes, an error, or `limit` bytes.
async fn discard(stream: &mut TcpStream, limit: usize) {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while total < limit {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}

/// How reading a request head ended.
enum Head {
    /// It ends with an empty line.
    Complete,
    /// [`MAX_HEAD`] bytes without an empty line.
    TooLarge,
    /// The peer closed (or failed) first.
    Closed,
}

/// Reads until the empty line that ends the head (`\r\n\r\n`, or bare `\n\n`).
async fn read_head(stream: &mut TcpStream, head: &mut Vec<u8>) -> Head {
    let mut buf = [0u8; 2048];
    loop {
        let room = MAX_HEAD - head.len();
        if room == 0 {
            return Head::TooLarge;
        }
        let n = match stream.read(&mut buf[..room.min(2048)]).await {
            Ok(0) | Err(_) => return Head::Closed,
            Ok(n) => n,
        };
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buf[..n]);
        let tail = &head[from..];
        if tail.windows(4).any(|w| w == b"\r\n\r\n") || tail.windows(2).any(|w| w == b"\n\n") {
            return Head::Complete;
        }
    }
}

/// The method of a well-formed HTTP/1.x request line (`GET /path HTTP/1.1`).
fn request_method(head: &[u8]) -> Option<&str> {
    let end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = parts.next().is_none()
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && !target.is_empty()
        && target.bytes().all(|b| b.is_ascii_graphic())
        && matches!(version, "HTTP/1.1" | "HTTP/1.0");
    ok.then_some(method)
}

/// The answer to a request.
enum Answer {
    Ok { head_only: bool },
    BadRequest,
    TooLarge,
}

impl Answer {
    fn render(&self, label: &str) -> Vec<u8> {
        let (status, body, head_only) = match self {
            Answer::Ok { head_only } => ("200 OK", label, *head_only),
            Answer::BadRequest => ("400 Bad Request", "bad request\n", false),
            Answer::TooLarge => (
                "431 Request Header Fields Too Large",
                "request head too large\n",
                false,
            ),
        };
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(body.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(request_method(b"GET / HTTP/1.1\r\n\r\n"), Some("GET"));
        assert_eq!(request_method(b"HEAD /x?y HTTP/1.0\n\n"), Some("HEAD"));
        assert_eq!(request_method(b"GET / HTTP/2\r\n\r\n"), None);
        assert_eq!(request_method(b"GET  / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_method(b"get / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_method(b"\xff / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_method(b"GET / HTTP/1.1"), None);
    }

    /// What closing relies on (Linux): a listening socket shut down for reading refuses
    /// connections at once, though a duplicate of it is still open, and its port can be bound
    /// again at once (a guest restarted right away).
    #[test]
    fn shut_down_listener_refuses() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let dup = l.try_clone().unwrap();
        assert!(std::net::TcpStream::connect(addr).is_ok());
        rustix::net::shutdown(&l, rustix::net::Shutdown::Read).unwrap();
        drop(l);
        assert!(std::net::TcpStream::connect(addr).is_err());
        let again = std::net::TcpListener::bind(addr).unwrap();
        assert!(std::net::TcpStream::connect(addr).is_ok());
        drop((dup, again));
    }

    #[test]
    fn answers() {
        let ok = Answer::Ok { head_only: false }.render("hi\n");
        let text = String::from_utf8(ok).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Length: 3\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nhi\n"), "{text}");
        let head = Answer::Ok { head_only: true }.render("hi\n");
        assert!(head.ends_with(b"\r\n\r\n"));
    }
}
