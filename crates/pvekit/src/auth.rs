//! Authentication: API tokens, and tickets that are renewed before they expire.
//!
//! A ticket is valid for two hours. The client renews it (posting the current ticket as the
//! password, as Proxmox VE's web UI does every 15 minutes) once it is older than
//! [`ClientOptions::ticket_renewal`](crate::ClientOptions), and logs in again with the password
//! when the server no longer knows the ticket (a restarted cluster rotates its keys).

use std::sync::RwLock;
use std::time::{Duration, Instant};

use pvekit_core::AuthId;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

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
}

impl TicketAuth {
    pub(crate) fn new(userid: AuthId, password: SecretString, renew_after: Duration) -> Self {
        TicketAuth {
            userid,
            password,
            session: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
            renew_after,
        }
    }

    pub(crate) fn current(&self) -> Option<Session> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
