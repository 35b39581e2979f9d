//! pvekit serve's own figures, served at `/metrics`: polls, open WebSockets and terminal
//! sessions, action tasks by result. Upstream answers by status come from each client.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The counters and gauges of `/metrics`.
#[derive(Debug, Default)]
pub struct Telemetry {
    websockets: Arc<AtomicI64>,
    terminals: Arc<AtomicI64>,
    /// (action, result) -> count.
    actions: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// cluster -> poll figures.
    polls: Mutex<BTreeMap<String, PollFigures>>,
    sse_streams: Arc<AtomicI64>,
    http_requests: AtomicU64,
}

/// The polls of one cluster.
#[derive(Debug, Default, Clone, Copy)]
pub struct PollFigures {
    /// Polls that succeeded.
    pub ok: u64,
    /// Polls that failed.
    pub failed: u64,
    /// Polls whose duration is known (the successful ones).
    pub timed: u64,
    /// Sum of those polls' durations.
    pub seconds_sum: f64,
    /// The last timed poll's duration.
    pub last_seconds: f64,
}

/// Decrements its gauge when dropped.
#[derive(Debug)]
pub struct Open(Arc<AtomicI64>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Telemetry {
    /// Counts an open WebSocket until the guard drops.
    pub fn websocket(&self) -> Open {
        self.websockets.fetch_add(1, Ordering::Relaxed);
        Open(self.websockets.clone())
    }

    /// Counts an open terminal session (exec, shell, journal, tail) until the guard drops.
    pub fn terminal(&self) -> Open {
        self.terminals.fetch_add(1, Ordering::Relaxed);
        Open(self.terminals.clone())
    }

    /// Counts an open server-sent-event stream until the guard drops.
    pub fn sse(&self) -> Open {
        self.sse_streams.fetch_add(1, Ordering::Relaxed);
        Open(self.sse_streams.clone())
    }

    /// Counts a request served.
    pub fn request(&self) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a power action's end: `ok`, `failed` (the task failed) or `error` (it could
    /// not be started or followed).
    pub fn action(&self, action: &str, result: &'static str) {
        let mut actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        *actions.entry((action.to_string(), result)).or_default() += 1;
    }

    /// Records one inventory poll of `cluster`: whether it worked, and how long it took
    /// when that is known.
    pub fn poll(&self, cluster: &str, took: Option<Duration>, ok: bool) {
        let mut polls = self.polls.lock().unwrap_or_else(|e| e.into_inner());
        let p = polls.entry(cluster.to_string()).or_default();
        if ok {
            p.ok += 1;
        } else {
            p.failed += 1;
        }
        if let Some(took) = took {
            p.timed += 1;
            p.seconds_sum += took.as_secs_f64();
            p.last_seconds = took.as_secs_f64();
        }
    }

    /// Open WebSockets now.
    pub fn websockets(&self) -> i64 {
        self.websockets.load(Ordering::Relaxed)
    }

    /// Open terminal sessions now.
    pub fn terminals(&self) -> i64 {
        self.terminals.load(Ordering::Relaxed)
    }

    /// Open event streams now.
    pub fn sse_streams(&self) -> i64 {
        self.sse_streams.load(Ordering::Relaxed)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.http_requests.load(Ordering::Relaxed)
    }

    /// Action counts by (action, result).
    pub fn actions(&self) -> Vec<((String, &'static str), u64)> {
        let actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        actions.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Poll figures by cluster.
    pub fn polls(&self) -> Vec<(String, PollFigures)> {
        let polls = self.polls.lock().unwrap_or_else(|e| e.into_inner());
        polls.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}
