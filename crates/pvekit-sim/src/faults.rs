//! Injected failures: a schedule of [`Fault`]s the simulator applies to matching requests.
//!
//! A fault names which requests it applies to and what happens to them:
//!
//! - **which**: `match`, a glob on `METHOD /path` (the path below `/api2/json`, percent-decoded,
//!   without a trailing slash): `*` is any run of characters but `/`, `**` any run including
//!   `/`, `?` one character but `/`; a pattern that starts with `/` (or with `* `) matches every
//!   method. Left out, every request matches. `node` restricts it to requests that arrive on
//!   that node's listener.
//! - **when**: each fault counts the requests it matches (1, 2, 3, ...): `nth: N` fires on the
//!   Nth only, `every: N` on every Nth, `from: N` and `to: M` on the Nth to the Mth (either may
//!   be left out); `probability: P` then fires with probability P, drawn from the simulator's
//!   seed (the same seed and the same sequence of requests give the same draws; each fault
//!   draws from its own stream, so adding a fault does not change another's draws). Without
//!   any of these, it fires on every matching request.
//! - **what** (`fault:`): see [`FaultKind`].
//!
//! Several faults may match one request: every `latency` that fires adds its delay, every
//! `node_offline` and `invalidate_tickets` takes effect (before the request is answered, so
//! it sees the effect), and of the faults that change the answer, the first in list order that
//! fires decides it. A fault whose kind has no meaning for the request (a websocket fault on a
//! plain request) does nothing there.
//!
//! ```yaml
//! faults:
//!   - match: "GET /version"
//!     nth: 3
//!     fault: {status: {code: 503}}
//!   - match: "/nodes/*/lxc/**"
//!     probability: 0.05
//!     fault: {latency: {ms: 2000}}      # a spike on 5 % of the calls
//!   - fault: {latency: {ms: 20, jitter_ms: 10}}
//! ```
//!
//! An empty schedule costs one atomic load per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::model::counters::mix;

/// One scheduled fault: which requests, when, and what happens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Glob on `METHOD /path` (see the module docs); `None` matches every request.
    #[serde(default, rename = "match")]
    pub pattern: Option<String>,
    /// Only requests arriving on this node's listener.
    #[serde(default)]
    pub node: Option<String>,
    /// Only the Nth matching request (counted from 1).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Every Nth matching request.
    #[serde(default)]
    pub every: Option<u64>,
    /// From the Nth matching request on.
    #[serde(default)]
    pub from: Option<u64>,
    /// Up to the Mth matching request.
    #[serde(default)]
    pub to: Option<u64>,
    /// Fires with this probability (0 to 1) once the counts above allow it.
    #[serde(default)]
    pub probability: Option<f64>,
    /// What happens.
    pub fault: FaultKind,
}

/// What a fault does to a request (YAML: a unit kind as a plain string, `fault: stall`,
/// the others as a one-key map, `fault: {status: {code: 503}}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum FaultKind {
    /// A delay before the answer: `ms`, plus or minus up to `jitter_ms` (uniform, seeded).
    /// Spikes are a second latency fault with a `probability`.
    Latency {
        /// The delay, milliseconds.
        ms: u64,
        /// Up to this much more or less, milliseconds.
        #[serde(default)]
        jitter_ms: u64,
    },
    /// The answer never comes: no status line, no headers; the connection stays open until
    /// the client closes it, the node's listener stops or the simulator stops.
    Stall,
    /// The connection is reset (TCP RST) before anything of the answer is sent.
    Reset,
    /// The status line, headers and the first `after_bytes` of the body (default: half) are
    /// sent, then the connection is reset (TCP RST).
    ResetMidBody {
        /// Body bytes sent before the reset.
        #[serde(default)]
        after_bytes: Option<usize>,
    },
    /// The full `Content-Length` is announced but only the first `after_bytes` of the body
    /// (default: half) are sent, then the connection is closed (FIN, no TLS close_notify).
    Truncate {
        /// Body bytes sent before the close.
        #[serde(default)]
        after_bytes: Option<usize>,
    },
    /// The answer's status and headers, with a body that is not valid JSON (its first half,
    /// `Content-Length` matching).
    MalformedJson,
    /// An error answer instead of the real one. 595 and 596 come as pveproxy relays
    /// AnyEvent::HTTP's errors (empty body, `Connection: close`; reasons default to
    /// `Connection refused` and `Broken pipe`), 502 and 503 as nginx in front of pveproxy
    /// sends them (its HTML error page); any other code gets pveproxy's JSON error body with
    /// `reason` (default: the standard phrase) as message.
    Status {
        /// The HTTP status code.
        code: u16,
        /// The reason phrase (and, for JSON answers, the message).
        #[serde(default)]
        reason: Option<String>,
    },
    /// The node goes offline (as `SimControl::set_node_online(node, false)`), for `for_ms`
    /// milliseconds if given (else until brought back).
    NodeOffline {
        /// The node.
        node: String,
        /// How long, milliseconds (wall clock).
        #[serde(default)]
        for_ms: Option<u64>,
    },
    /// Every ticket issued so far stops verifying at once, as after a regenerated `authkey`:
    /// the next request with an old ticket gets 401. API tokens are not affected.
    InvalidateTickets,
    /// On a terminal websocket (`GET .../vncwebsocket`): the connection is dropped (no close
    /// frame) once `after_bytes` bytes of terminal output went out after `OK`, or `after_ms`
    /// after `OK` (whichever comes first; neither: right after `OK`).
    WebsocketDrop {
        /// Output bytes sent before the drop.
        #[serde(default)]
        after_bytes: Option<usize>,
        /// Milliseconds after `OK` before the drop.
        #[serde(default)]
        after_ms: Option<u64>,
    },
    /// On a terminal websocket: termproxy reads the auth line but never answers `OK`; the
    /// connection stays open until the client closes it, the listener or the simulator stops.
    TermproxyNoOk,
}

impl Fault {
    /// A fault of `kind` on every request.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            pattern: None,
            node: None,
            nth: None,
            every: None,
            from: None,
            to: None,
            probability: None,
            fault: kind,
        }
    }
    /// Only requests whose `METHOD /path` matches the glob.
    pub fn matching(mut self, pattern: &str) -> Fault {
        self.pattern = Some(pattern.to_string());
        self
    }
    /// Only requests on this node's listener.
    pub fn on_node(mut self, node: &str) -> Fault {
        self.node = Some(node.to_string());
        self
    }
    /// Only the Nth matching request.
    pub fn nth(mut self, n: u64) -> Fault {
        self.nth = Some(n);
        self
    }
    /// Every Nth matching request.
    pub fn every(mut self, n: u64) -> Fault {
        self.every = Some(n);
        self
    }
    /// The Nth to the Mth matching request.
    pub fn between(mut self, from: u64, to: u64) -> Fault {
        self.from = Some(from);
        self.to = Some(to);
        self
    }
    /// With this probability.
    pub fn probability(mut self, p: f64) -> Fault {
        self.probability = Some(p);
        self
    }

    /// Checks the fault: a probability between 0 and 1, counts from 1, a pattern whose method
    /// is a word or `*`.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("fault probability {p} is not between 0 and 1"));
        }
        if self.nth == Some(0) || self.every == Some(0) || self.from == Some(0) {
            return Err("fault counts start at 1".into());
        }
        if let Some(p) = &self.pattern {
            split_pattern(p)?;
        }
        if let FaultKind::Status { code, .. } = &self.fault
            && !(100..=999).contains(code)
        {
            return Err(format!("fault status {code} is not an HTTP status"));
        }
        Ok(())
    }
}

/// `METHOD /path` or `/path` (any method) into the method (`None`: any) and the path glob.
fn split_pattern(p: &str) -> Result<(Option<String>, String), String> {
    let p = p.trim();
    if p.starts_with('/') {
        return Ok((None, p.to_string()));
    }
    match p.split_once(' ') {
        Some((m, path)) if path.trim_start().starts_with('/') => {
            let path = path.trim_start().to_string();
            if m == "*" {
                Ok((None, path))
            } else if m.chars().all(|c| c.is_ascii_alphabetic()) {
                Ok((Some(m.to_ascii_uppercase()), path))
            } else {
                Err(format!("fault pattern '{p}': bad method '{m}'"))
            }
        }
        _ => Err(format!(
            "fault pattern '{p}' is not 'METHOD /path' or '/path'"
        )),
    }
}

/// Glob match: `**` any run, `*` any run without `/`, `?` one character but `/`.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            let stop = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
            (0..=stop).any(|i| glob(rest, &s[i..]))
        }
        Some(b'?') => s.first().is_some_and(|&c| c != b'/') && glob(&p[1..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
    }
}

/// A scheduled fault with its compiled pattern, its count and its random stream.
struct Entry {
    fault: Fault,
    method: Option<String>,
    path: Option<String>,
    /// Matching requests so far.
    count: AtomicU64,
    /// Draws so far (probability and jitter).
    draws: AtomicU64,
    /// This fault's random stream.
    stream: u64,
}

impl Entry {
    fn matches(&self, method: &str, path: &str, node: &str) -> bool {
        self.fault.node.as_deref().is_none_or(|n| n == node)
            && self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path
                .as_deref()
                .is_none_or(|p| glob(p.as_bytes(), path.as_bytes()))
    }

    /// A uniform draw in [0, 1) from this fault's stream.
    fn draw(&self) -> f64 {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        (mix(self.stream ^ mix(n)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Counts a matching request and decides whether the fault fires on it.
    fn fires(&self) -> bool {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let f = &self.fault;
        let counted = f.nth.is_none_or(|k| n == k)
            && f.every.is_none_or(|k| n.is_multiple_of(k))
            && f.from.is_none_or(|k| n >= k)
            && f.to.is_none_or(|k| n <= k);
        counted && f.probability.is_none_or(|p| self.draw() < p)
    }
}

/// What the faults that fired on a request ask for.
#[derive(Debug, Default)]
pub(crate) struct Fired {
    /// Total added delay.
    pub delay: Duration,
    /// The fault that decides the answer, if any.
    pub answer: Option<FaultKind>,
    /// Nodes to take offline, each with how long.
    pub offline: Vec<(String, Option<Duration>)>,
    /// Whether every ticket is invalidated.
    pub invalidate_tickets: bool,
}

/// The schedule (shared by every listener).
#[derive(Default)]
pub(crate) struct Schedule {
    /// Whether any fault is scheduled (the one check an empty schedule costs).
    active: AtomicBool,
    entries: RwLock<Vec<Arc<Entry>>>,
    /// Faults added so far (each gets its own random stream).
    added: AtomicU64,
    seed: u64,
}

impl Schedule {
    /// An empty schedule whose draws come from `seed`.
    pub fn new(seed: u64) -> Schedule {
        Schedule {
            seed,
            ..Schedule::default()
        }
    }

    /// Adds a fault at the end of the list.
    pub fn add(&self, fault: Fault) -> Result<(), String> {
        fault.check()?;
        let (method, path) = match &fault.pattern {
            Some(p) => {
                let (m, p) = split_pattern(p)?;
                (m, Some(p))
            }
            None => (None, None),
        };
        let k = self.added.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            fault,
            method,
            path,
            count: AtomicU64::new(0),
            draws: AtomicU64::new(0),
            stream: mix(self.seed ^ mix(0xfa17_0000 + k)),
        });
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.push(entry);
        self.active.store(true, Ordering::Release);
        Ok(())
    }

    /// Removes every fault (counts start again with the next one added).
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.clear();
        self.active.store(false, Ordering::Release);
    }

    /// The faults scheduled now, in order.
    pub fn list(&self) -> Vec<Fault> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.iter().map(|e| e.fault.clone()).collect()
    }

    /// Whether any fault is scheduled.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Counts the request against every matching fault and collects what fires.
    pub fn fire(&self, method: &str, path: &str, node: &str) -> Fired {
        let mut out = Fired::default();
        if !self.is_active() {
            return out;
        }
        let entries: Vec<Arc<Entry>> = {
            let e = self.entries.read().unwrap_or_else(|e| e.into_inner());
            e.iter()
                .filter(|e| e.matches(method, path, node))
                .cloned()
                .collect()
        };
        for e in entries {
            if !e.fires() {
                continue;
            }
            match &e.fault.fault {
                FaultKind::Latency { ms, jitter_ms } => {
                    let mut ms = *ms as f64;
                    if *jitter_ms > 0 {
                        ms += (e.draw() * 2.0 - 1.0) * *jitter_ms as f64;
                    }
                    out.delay += Duration::from_secs_f64(ms.max(0.0) / 1000.0);
                }
                FaultKind::NodeOffline { node, for_ms } => out
                    .offline
                    .push((node.clone(), for_ms.map(Duration::from_millis))),
                FaultKind::InvalidateTickets => out.invalidate_tickets = true,
                other => {
                    if out.answer.is_none() {
                        out.answer = Some(other.clone());
                    }
                }
            }
        }
        out
    }
}

/// The reason phrase and body of a status fault, as the real source sends it.
pub(crate) fn status_answer(code: u16, reason: Option<&str>) -> StatusAnswer {
    let standard = axum::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    match code {
        // pve-http-server src/PVE/APIServer/AnyEvent.pm `proxy_request`: AnyEvent::HTTP calls
        // back with Status 595 (errors while connecting) or 596 (TLS negotiation, sending the
        // request, reading the headers) and `Reason` set to the error (`$!`: "Connection
        // refused", "No route to host", "Connection timed out"; or AnyEvent::Handle's
        // "Broken pipe", "Unexpected end-of-file", a TLS error), with no body; pveproxy
        // relays code and reason in `HTTP::Response->new($code, $msg, $header, $body)`, and
        // `response` leaves out Content-Length for the empty body and closes the connection
        // (keep_alive is 0 for every code >= 400). "HTTP Error 596: Broken pipe, when a node
        // is unavailable" is what clients report (xezpeleta/Ansible-Proxmox-inventory#33).
        595 => StatusAnswer::Proxy(reason.unwrap_or("Connection refused").to_string()),
        596 => StatusAnswer::Proxy(reason.unwrap_or("Broken pipe").to_string()),
        // pveproxy itself never answers 502 or 503; they come from a reverse proxy in front
        // of it. nginx's error pages (src/http/ngx_http_special_response.c: the page, then
        // the "<hr><center>nginx</center>" tail), text/html, `Server: nginx`.
        502..=504 => {
            let title = match code {
                502 => "502 Bad Gateway",
                503 => "503 Service Temporarily Unavailable",
                _ => "504 Gateway Time-out",
            };
            let phrase = reason.unwrap_or(&title[4..]).to_string();
            let body = format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            StatusAnswer::Nginx { phrase, body }
        }
        _ => StatusAnswer::Json(format!("{}\n", reason.unwrap_or(standard))),
    }
}

/// How a status fault answers.
pub(crate) enum StatusAnswer {
    /// pveproxy relaying an AnyEvent::HTTP error: this reason, no body, connection closed.
    Proxy(String),
    /// nginx's error page.
    Nginx {
        /// The reason phrase.
        phrase: String,
        /// The HTML page.
        body: String,
    },
    /// pveproxy's JSON error with this message.
    Json(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"/nodes/*/status", b"/nodes/pve1/status"));
        assert!(!glob(b"/nodes/*/status", b"/nodes/pve1/lxc/status"));
        assert!(glob(b"/nodes/**", b"/nodes/pve1/lxc/100/status/current"));
        assert!(glob(b"/nodes/pve?/status", b"/nodes/pve2/status"));
        assert!(!glob(b"/version", b"/versions"));
        assert_eq!(
            split_pattern("get /version").unwrap(),
            (Some("GET".into()), "/version".into())
        );
        assert_eq!(split_pattern("* /a").unwrap(), (None, "/a".into()));
        assert!(split_pattern("version").is_err());
    }

    #[test]
    fn counts_and_draws_are_deterministic() {
        let run = |seed| {
            let s = Schedule::new(seed);
            s.add(Fault::new(FaultKind::Reset).probability(0.5))
                .unwrap();
            (0..64)
                .map(|_| s.fire("GET", "/version", "pve1").answer.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|b| **b).count();
        assert!((16..=48).contains(&hits), "{hits}");

        let s = Schedule::new(1);
        s.add(
            Fault::new(FaultKind::Stall)
                .matching("GET /version")
                .every(3),
        )
        .unwrap();
        let fired: Vec<bool> = (0..7)
            .map(|_| s.fire("GET", "/version", "pve1").answer.is_some())
            .collect();
        assert_eq!(fired, [false, false, true, false, false, true, false]);
        assert!(s.fire("POST", "/version", "pve1").answer.is_none());
    }
}
