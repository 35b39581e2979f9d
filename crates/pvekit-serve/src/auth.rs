//! Who may call: API tokens (stored as SHA-256 hashes, compared in constant time), sessions
//! from one-time login links (an HttpOnly, SameSite=Strict cookie, plus a CSRF token every
//! write made with the cookie must send back), and the three roles.
//!
//! Tokens are 256 random bits, so a SHA-256 of the token is as good as a slow password hash
//! for storing it (nobody can guess a preimage), and checking one costs microseconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "pvekit_session";
/// The header that carries the CSRF token on writes made with the session cookie.
pub const CSRF_HEADER: &str = "x-pvekit-csrf";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a login link can be used (once).
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// Most sessions kept at once; the oldest goes when a new one would exceed it.
pub const MAX_SESSIONS: usize = 1024;
/// Most unused login links kept at once.
pub const MAX_LOGIN_LINKS: usize = 256;

/// What a caller may do. Each role may do everything the roles before it may.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Inventory, stats, metrics, history.
    Viewer,
    /// Also power actions, journals and tails.
    Operator,
    /// Also commands and the node shell, which are root on the node.
    Admin,
}

impl Role {
    /// `viewer`, `operator` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role '{other}': use viewer, operator or admin"
            )),
        }
    }
}

/// A token as the config file keeps it: a name, a role and the token's SHA-256 (hex).
///
/// ```
/// use pvekit_serve::{ConfiguredToken, Role, hash_token, new_token};
/// use secrecy::ExposeSecret;
///
/// let token = new_token();
/// let entry = ConfiguredToken {
///     name: "grafana".into(),
///     role: Role::Viewer,
///     sha256: hash_token(token.expose_secret()),
/// };
/// assert_eq!(entry.sha256.len(), 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredToken {
    /// Who holds it (shown in logs and `/api/v1/session`).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the token, 64 hex digits (`pvekit serve --hash-token` prints it).
    pub sha256: String,
}

/// A new random token: `pvk_` and 43 base64url characters (256 bits).
pub fn new_token() -> SecretString {
    format!("pvk_{}", random_text()).into()
}

/// The hex SHA-256 of a token, as [`ConfiguredToken::sha256`] stores it.
pub fn hash_token(token: &str) -> String {
    hex(&sha256(token.as_bytes()))
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// 256 random bits as base64url without padding.
fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer ...`.
    Token,
    /// The session cookie.
    Session,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's or the session's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// How it authenticated.
    pub via: Via,
}

impl Caller {
    /// `Ok` when the caller has `role` or a higher one; else 403 with the reason.
    ///
    /// # Errors
    /// [`ApiError::forbidden`].
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role; '{}' has the {} role",
                self.name, self.role
            )))
        }
    }
}

struct Session {
    name: String,
    role: Role,
    csrf: SecretString,
    expires: Instant,
}

struct LoginLink {
    name: String,
    role: Role,
    expires: Instant,
}

/// The tokens, sessions and login links of a server.
pub struct Auth {
    /// (hash, name, role) of every configured token.
    tokens: Vec<([u8; 32], String, Role)>,
    /// Sessions by the SHA-256 of their cookie value.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    /// Unused login links by the SHA-256 of their code.
    links: Mutex<HashMap<[u8; 32], LoginLink>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

/// A session made from a login link: the cookie's value.
pub struct NewSession {
    /// The session cookie's value.
    pub cookie: SecretString,
}

/// What `/api/v1/session` tells a caller about itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// The token's or the session's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The CSRF token to send in `X-PVEKit-CSRF` on writes (sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

impl Auth {
    /// Auth with these tokens.
    ///
    /// # Errors
    /// A token whose `sha256` is not 64 hex digits, or two tokens with the same name.
    pub fn new(tokens: &[ConfiguredToken]) -> Result<Self, String> {
        let mut list = Vec::new();
        for t in tokens {
            let hash = unhex(&t.sha256.to_ascii_lowercase()).ok_or_else(|| {
                format!(
                    "token '{}': sha256 must be 64 hex digits (the SHA-256 of the token)",
                    t.name
                )
            })?;
            if list.iter().any(|(_, n, _)| n == &t.name) {
                return Err(format!("two tokens are named '{}'", t.name));
            }
            list.push((hash, t.name.clone(), t.role));
        }
        Ok(Auth {
            tokens: list,
            sessions: Mutex::default(),
            links: Mutex::default(),
        })
    }

    /// Whether any token is configured.
    pub fn has_tokens(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The caller of a bearer token: every configured hash is compared, in constant time,
    /// so the time taken says nothing about which one (if any) is close.
    pub fn by_token(&self, token: &str) -> Option<Caller> {
        let hash = sha256(token.as_bytes());
        let mut found = None;
        for (h, name, role) in &self.tokens {
            if bool::from(h.ct_eq(&hash)) {
                found = Some(Caller {
                    name: name.clone(),
                    role: *role,
                    via: Via::Token,
                });
            }
        }
        found
    }

    /// The caller of a session cookie, when the session exists and has not expired.
    pub fn by_session(&self, cookie: &str) -> Option<Caller> {
        let key = sha256(cookie.as_bytes());
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match sessions.get(&key) {
            Some(s) if s.expires > now => Some(Caller {
                name: s.name.clone(),
                role: s.role,
                via: Via::Session,
            }),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Whether `csrf` is the CSRF token of the session `cookie` (constant time).
    pub fn csrf_matches(&self, cookie: &str, csrf: &str) -> bool {
        let key = sha256(cookie.as_bytes());
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&key)
            .is_some_and(|s| bool::from(s.csrf.expose_secret().as_bytes().ct_eq(csrf.as_bytes())))
    }

    /// The session's CSRF token, for `/api/v1/session`.
    pub fn csrf_of(&self, cookie: &str) -> Option<String> {
        let key = sha256(cookie.as_bytes());
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&key)
            .map(|s| s.csrf.expose_secret().to_string())
    }

    /// A one-time login link code for `name` with `role`, valid for [`LOGIN_LINK_TTL`].
    pub fn new_login_code(&self, name: &str, role: Role) -> SecretString {
        let code = random_text();
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        links.retain(|_, l| l.expires > now);
        if links.len() >= MAX_LOGIN_LINKS {
            // The link closest to expiry goes.
            if let Some(k) = links.iter().min_by_key(|(_, l)| l.expires).map(|(k, _)| *k) {
                links.remove(&k);
            }
        }
        links.insert(
            sha256(code.as_bytes()),
            LoginLink {
                name: name.to_string(),
                role,
                expires: now + LOGIN_LINK_TTL,
            },
        );
        code.into()
    }

    /// Uses a login code (once): a new session, or `None` when the code is unknown, used
    /// or expired.
    pub fn redeem(&self, code: &str) -> Option<NewSession> {
        let link = {
            let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
            links.remove(&sha256(code.as_bytes()))?
        };
        let now = Instant::now();
        if link.expires <= now {
            return None;
        }
        let cookie = random_text();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(k) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
        {
            sessions.remove(&k);
        }
        sessions.insert(
            sha256(cookie.as_bytes()),
            Session {
                name: link.name,
                role: link.role,
                csrf: random_text().into(),
                expires: now + SESSION_TTL,
            },
        );
        Some(NewSession {
            cookie: cookie.into(),
        })
    }

    /// Ends a session.
    pub fn end_session(&self, cookie: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(&sha256(cookie.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (Auth, SecretString) {
        let token = new_token();
        let auth = Auth::new(&[ConfiguredToken {
            name: "ops".into(),
            role: Role::Operator,
            sha256: hash_token(token.expose_secret()),
        }])
        .unwrap();
        (auth, token)
    }

    #[test]
    fn tokens_match_by_hash_only() {
        let (auth, token) = auth();
        let caller = auth.by_token(token.expose_secret()).unwrap();
        assert_eq!(caller.role, Role::Operator);
        assert_eq!(caller.via, Via::Token);
        assert!(auth.by_token("pvk_wrong").is_none());
        assert!(auth.by_token("").is_none());
        let mut altered = token.expose_secret().to_string();
        altered.pop();
        assert!(auth.by_token(&altered).is_none());
    }

    #[test]
    fn bad_hashes_and_duplicate_names_are_refused() {
        let t = |name: &str, sha: &str| ConfiguredToken {
            name: name.into(),
            role: Role::Viewer,
            sha256: sha.into(),
        };
        assert!(Auth::new(&[t("a", "zz")]).is_err());
        assert!(Auth::new(&[t("a", &"g".repeat(64))]).is_err());
        let ok = hash_token("x");
        assert!(Auth::new(&[t("a", &ok), t("a", &ok)]).is_err());
        assert!(Auth::new(&[t("a", &ok.to_uppercase())]).is_ok());
    }

    #[test]
    fn login_codes_work_once_and_make_sessions_with_csrf() {
        let (auth, _) = auth();
        let code = auth.new_login_code("admin", Role::Admin);
        let session = auth.redeem(code.expose_secret()).unwrap();
        assert!(
            auth.redeem(code.expose_secret()).is_none(),
            "a code works once"
        );
        let cookie = session.cookie.expose_secret();
        let caller = auth.by_session(cookie).unwrap();
        assert_eq!((caller.role, caller.via), (Role::Admin, Via::Session));
        let csrf = auth.csrf_of(cookie).unwrap();
        assert!(auth.csrf_matches(cookie, &csrf));
        assert!(!auth.csrf_matches(cookie, "nope"));
        assert!(!auth.csrf_matches("other", &csrf));
        auth.end_session(cookie);
        assert!(auth.by_session(cookie).is_none());
    }

    #[test]
    fn roles_are_ordered_and_refusals_say_why() {
        let viewer = Caller {
            name: "grafana".into(),
            role: Role::Viewer,
            via: Via::Token,
        };
        assert!(viewer.require(Role::Viewer).is_ok());
        let e = viewer.require(Role::Operator).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::FORBIDDEN);
        assert!(e.error.contains("operator"), "{e}");
        assert!("root".parse::<Role>().is_err());
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
    }
}
