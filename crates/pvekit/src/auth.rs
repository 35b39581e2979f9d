//! Authentication: API tokens, and tickets that are renewed before they expire.
//!
//! A ticket is valid for two hours. The client renews it (posting the current ticket as the
//! password, as Proxmox VE's web UI does every 15 minutes) once it is older than
//! [`ClientOptions::ticket_renewal`](crate::ClientOptions), and logs in again with the password
//! when the server no longer knows the ticket (a restarted cluster rotates its keys).
//!
//! A renewal that fails for any other reason (a timeout, a 5xx, a lost connection) does not
//! fail the request: the current ticket stays valid for two hours from its issue
//! (pve-access-control, `PVE::AccessControl::verify_ticket` accepts tickets up to 7200 s
//! old), so it is used on, and renewal is tried again after [`RENEWAL_RETRY`], until the
//! ticket is within [`EXPIRY_MARGIN`] of expiring.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use pvekit_core::AuthId;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How long a ticket is accepted after it was issued (Proxmox VE: two hours).
pub(crate) const TICKET_LIFETIME: Duration = Duration::from_secs(7200);
/// A ticket this close to expiring is no longer used when renewal fails.
pub(crate) const EXPIRY_MARGIN: Duration = Duration::from_secs(300);
/// After a failed renewal, the next try waits this long (requests meanwhile use the ticket).
pub(crate) const RENEWAL_RETRY: Duration = Duration::from_secs(30);

/// A live ticket session.
#[derive(Clone)]
pub(crate) struct Session {
    pub ticket: SecretString,
    pub csrf: SecretString,
    pub obtained: Instant,
}

/// The answer of `POST /access/ticket`.
#[derive(Debug, Deserialize)]
pub(crate) struct TicketResponse {
    pub ticket: SecretString,
    #[serde(rename = "CSRFPreventionToken")]
    pub csrf: SecretString,
    /// `1` when the password was right but a second factor is needed.
    #[serde(default, rename = "NeedTFA")]
    pub need_tfa: bool,
}

/// Username/password login and the session it holds.
pub(crate) struct TicketAuth {
    pub userid: AuthId,
    pub password: SecretString,
    pub session: RwLock<Option<Session>>,
    /// Serialises logins and renewals so concurrent requests share one.
    pub renewing: tokio::sync::Mutex<()>,
    pub renew_after: Duration,
    /// After a failed renewal: when to try again.
    pub retry_renewal_at: RwLock<Option<Instant>>,
}

impl TicketAuth {
    pub(crate) fn new(userid: AuthId, password: SecretString, renew_after: Duration) -> Self {
        TicketAuth {
            userid,
            password,
            session: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
            renew_after,
            retry_renewal_at: RwLock::new(None),
        }
    }

    pub(crate) fn current(&self) -> Option<Session> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `s` can be used without renewing it first: young enough, or renewal failed
    /// lately and it is still well inside its lifetime.
    pub(crate) fn usable_without_renewal(&self, s: &Session) -> bool {
        let age = s.obtained.elapsed();
        if age < self.renew_after {
            return true;
        }
        let backing_off = self
            .retry_renewal_at
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| Instant::now() < at);
        backing_off && age + EXPIRY_MARGIN < TICKET_LIFETIME
    }

    /// Notes a failed renewal: requests keep the ticket for [`RENEWAL_RETRY`].
    pub(crate) fn renewal_failed(&self) {
        *self
            .retry_renewal_at
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + RENEWAL_RETRY);
    }

    pub(crate) fn store(&self, s: Option<Session>) {
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = s;
    }

    /// Forgets the session if it is still the given ticket (another request may have renewed it).
    pub(crate) fn invalidate(&self, ticket: &SecretString) {
        let mut guard = self.session.write().unwrap_or_else(|e| e.into_inner());
        if guard
            .as_ref()
            .is_some_and(|s| s.ticket.expose_secret() == ticket.expose_secret())
        {
            *guard = None;
        }
    }
}

/// How requests are authenticated.
///
/// API calls use the token when there is one, else the ticket. Terminal sessions always need
/// the ticket: Proxmox VE gives a root shell only to a real `root@pam` login.
pub(crate) struct Auth {
    /// `Authorization: PVEAPIToken=...`; no CSRF needed.
    pub token: Option<SecretString>,
    /// `Cookie: PVEAuthCookie=...` plus `CSRFPreventionToken` on writes.
    pub login: Option<TicketAuth>,
}

impl Auth {
    pub(crate) fn token_header(id: &AuthId, secret: &SecretString) -> SecretString {
        format!("PVEAPIToken={id}={}", secret.expose_secret()).into()
    }
}
