//! The simulator's shared state: what every request, terminal session and agent
//! connection works on.
//!
//! It lives in a module of its own so the HTTP front ([`crate::api`]) and the terminals
//! ([`crate::term`]) both depend on it and not on each other: `api` opens terminal sessions
//! and upgrades websockets into them (api uses term), while `term` needs only this state.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::auth::Auth;
use crate::clock::Clock;
use crate::model::Model;
use crate::record::Recorder;

/// Everything a request handler needs.
pub(crate) struct AppState {
    pub model: RwLock<Model>,
    pub auth: Auth,
    pub clock: Arc<Clock>,
    pub recorder: Recorder,
    /// The delay added before every answer.
    pub latency: crate::latency::Latency,
    pub auth_failure_delay: Duration,
    /// Delay before a terminal's `OK`.
    pub terminal_ok_delay: Duration,
    pub strict: bool,
    /// How long guest tasks run by default.
    pub task_duration: Duration,
    /// Terminal sessions, their sandboxes and the state directory.
    pub terminals: crate::term::Terminals,
    /// While non-zero, `POST /access/ticket` answers this HTTP status (a test's stand-in
    /// for a cluster that cannot sign tickets for a while).
    pub login_outage: std::sync::atomic::AtomicU16,
    /// The guests' service listeners (a test fixture, see [`crate::services`]).
    pub services: crate::services::Services,
    /// Every node's HTTPS listener (and the nodes' certificates).
    pub listeners: crate::listeners::Listeners,
    /// The fault schedule (empty unless faults are configured).
    pub faults: crate::faults::Schedule,
}

impl AppState {
    /// Reads the model (a poisoned lock still holds a consistent model: writers never panic
    /// half-way through an update).
    pub fn model(&self) -> std::sync::RwLockReadGuard<'_, Model> {
        self.model.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the model (see [`AppState::model`] about poisoning).
    pub fn model_mut(&self) -> std::sync::RwLockWriteGuard<'_, Model> {
        self.model.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Finishes the tasks whose end the clock has passed; every request does this first, so
    /// what it reads is consistent with the clock.
    pub fn settle(&self) {
        self.terminals.expire(self);
        self.settle_tasks();
    }

    /// The tasks part of [`AppState::settle`], then the service listeners follow the guests.
    pub fn settle_tasks(&self) {
        let now_ms = self.clock.now_ms();
        if self.model().tasks.has_due(now_ms) {
            self.model_mut().settle(now_ms);
        }
        self.reconcile_services();
    }

    /// Opens and closes the guests' service listeners to match the model now.
    pub fn reconcile_services(&self) {
        let model = self.model();
        self.services.reconcile(&model, &self.clock);
    }

    /// The default task duration in milliseconds.
    pub fn task_ms(&self) -> i64 {
        i64::try_from(self.task_duration.as_millis()).unwrap_or(i64::MAX / 4)
    }
}
