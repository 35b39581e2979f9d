//! Tickets, CSRF prevention tokens and API tokens, as Proxmox VE issues and checks them.
//!
//! Tickets are `PVE:<userid>:<8 HEX time>::<base64 signature>`; the real server signs with RSA,
//! the simulator with HMAC-SHA256 under a key made at start, which is indistinguishable to a
//! client (tickets are opaque). CSRF tokens are `<8 HEX time>:<43 chars of base64 HMAC>`. Both
//! are valid while their age is between -300 s and 7200 s on the simulator clock.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use pvekit_core::ticket::{
    TICKET_LIFETIME_SECS, TICKET_SKEW_SECS, format_hex_time, is_age_valid, parse_hex_time,
};
use ring::hmac;

use crate::ScenarioUser;
use crate::acl::Privs;
use crate::usercfg::{PermMap, UserCfg};
use ring::rand::{SecureRandom, SystemRandom};

/// The credentials and signing keys of one simulator, and the access-control configuration
/// (users, tokens, roles, ACLs, pools) that the access endpoints change at run time.
pub(crate) struct Auth {
    /// Signs tickets and VNC tickets (a real cluster's `authkey`); replaced by
    /// [`Auth::invalidate_tickets`].
    ticket_key: std::sync::RwLock<hmac::Key>,
    csrf_key: hmac::Key,
    /// The simulator's own user (`root@pam` by default).
    pub userid: String,
    /// The simulator's own API token id (`root@pam!pvekit` by default), without privilege
    /// separation.
    pub token_id: String,
    cfg: std::sync::RwLock<UserCfg>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("userid", &self.userid)
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

/// Random bytes from the system generator.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system RNG only fails when the OS has no entropy source at all.
    if SystemRandom::new().fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        for (i, x) in b.iter_mut().enumerate() {
            *x = (crate::model::counters::mix(t ^ i as u64) & 0xff) as u8;
        }
    }
    b
}

/// A random UUID (v4) string, like the secrets Proxmox VE generates for tokens.
pub(crate) fn random_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A VNC ticket may be this much younger than the clock (seconds).
const VNC_SKEW_SECS: i64 = 20;
/// A VNC ticket is valid this long (seconds).
const VNC_LIFETIME_SECS: i64 = 40;

/// What a VNC ticket's signature covers: its visible part plus the secret binding.
fn vnc_secret(signed: &str, authid: &str, path: &str, port: u16) -> String {
    format!("{signed}\0{authid}\0{path}\0{port}")
}

/// Compares secrets without an early exit on the first differing byte.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// New credentials with fresh signing keys.
    pub fn new(userid: String, password: String, token_id: String, secret: String) -> Auth {
        let cfg = UserCfg::new(&userid, &password, &token_id, &secret);
        Auth {
            ticket_key: std::sync::RwLock::new(hmac::Key::new(
                hmac::HMAC_SHA256,
                &random_bytes::<32>(),
            )),
            csrf_key: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()),
            userid,
            token_id,
            cfg: std::sync::RwLock::new(cfg),
        }
    }

    /// Adds the scenario's users (checked by [`crate::Scenario::check`]).
    pub fn with_users(self, users: Vec<ScenarioUser>) -> Auth {
        self.cfg_mut().add_scenario_users(&users);
        self
    }

    /// Reads the access-control configuration (a poisoned lock still holds a consistent
    /// one: writers never panic half-way).
    pub fn cfg(&self) -> std::sync::RwLockReadGuard<'_, UserCfg> {
        self.cfg.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the access-control configuration.
    pub fn cfg_mut(&self) -> std::sync::RwLockWriteGuard<'_, UserCfg> {
        self.cfg.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `authid` holds `privilege` on `path`.
    pub fn has(&self, authid: &str, path: &str, privilege: &str) -> bool {
        let cfg = self.cfg();
        cfg.is_almighty(authid) || cfg.permissions(authid, path).contains_key(privilege)
    }

    /// Every node of the ACL tree.
    pub fn acl_paths(&self) -> Vec<String> {
        self.cfg().acl_tree_paths()
    }

    /// The privileges of a user or token id on an ACL path (see [`crate::usercfg`]).
    pub fn privileges(&self, authid: &str, path: &str) -> Privs {
        self.cfg().privileges(authid, path)
    }

    /// The privileges with their propagate flags (PVE::RPCEnvironment `permissions`).
    pub fn permissions(&self, authid: &str, path: &str) -> PermMap {
        self.cfg().permissions(authid, path)
    }

    /// The ticket signing key now.
    fn ticket_key(&self) -> hmac::Key {
        self.ticket_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A new ticket signing key: every ticket (and VNC ticket) issued so far stops verifying,
    /// as when a cluster's `/etc/pve/authkey.key` is regenerated without keeping the old key
    /// (pve-access-control `rotate_authkey` keeps the previous key valid for tickets of the
    /// last 24 hours; a key regenerated by hand does not). CSRF tokens are signed with a
    /// different key (`pve-www.key`) and stay valid, but need a valid ticket anyway.
    pub fn invalidate_tickets(&self) {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>());
        *self.ticket_key.write().unwrap_or_else(|e| e.into_inner()) = key;
    }

    /// Issues a ticket for `userid` at `now`.
    pub fn issue_ticket(&self, userid: &str, now: i64) -> String {
        let signed = format!(
            "PVE:{}:{}",
            userid.replace(':', "%3A"),
            format_hex_time(now)
        );
        let sig = hmac::sign(&self.ticket_key(), signed.as_bytes());
        format!("{signed}::{}", STANDARD.encode(sig.as_ref()))
    }

    /// Checks a ticket; returns its user id when it is genuine and within its lifetime.
    pub fn verify_ticket(&self, ticket: &str, now: i64) -> Option<String> {
        let (signed, sig) = ticket.split_once("::")?;
        let sig = STANDARD.decode(sig).ok()?;
        hmac::verify(&self.ticket_key(), signed.as_bytes(), &sig).ok()?;
        let rest = signed.strip_prefix("PVE:")?;
        let (user, time) = rest.rsplit_once(':')?;
        let issued = parse_hex_time(time)?;
        is_age_valid(now - issued, TICKET_SKEW_SECS, TICKET_LIFETIME_SECS)
            .then(|| user.replace("%3A", ":"))
    }

    /// A CSRF prevention token for `userid` at `now`.
    pub fn csrf_token(&self, userid: &str, now: i64) -> String {
        let time = format_hex_time(now);
        let sig = hmac::sign(&self.csrf_key, format!("{time}:{userid}").as_bytes());
        format!("{time}:{}", STANDARD_NO_PAD.encode(sig.as_ref()))
    }

    /// Checks a CSRF prevention token for `userid`.
    pub fn verify_csrf(&self, token: &str, userid: &str, now: i64) -> bool {
        let Some((time, sig)) = token.split_once(':') else {
            return false;
        };
        let Some(issued) = parse_hex_time(time) else {
            return false;
        };
        let Ok(sig) = STANDARD_NO_PAD.decode(sig) else {
            return false;
        };
        hmac::verify(&self.csrf_key, format!("{time}:{userid}").as_bytes(), &sig).is_ok()
            && is_age_valid(now - issued, TICKET_SKEW_SECS, TICKET_LIFETIME_SECS)
    }

    /// Checks `user@realm!name=secret` (the part after `PVEAPIToken=`) at `now`; returns the
    /// token id. As pve-access-control's `verify_token`: the token must exist (a deleted one
    /// fails at once), not be expired, and the secret must match.
    pub fn verify_token(&self, value: &str, now: i64) -> Option<String> {
        let (id, secret) = value.rsplit_once('=')?;
        let (userid, name) = id.split_once('!')?;
        let cfg = self.cfg();
        let token = cfg.token(userid, name)?;
        let expired = token.expire != 0 && i64::try_from(token.expire).unwrap_or(i64::MAX) < now;
        (!expired && same_bytes(secret.as_bytes(), token.secret.as_bytes())).then(|| id.to_string())
    }

    /// A VNC ticket (`PVEVNC:<8 HEX time>::<base64 signature>`) bound to the authenticated id,
    /// the auth path (`/nodes/<node>` or `/vms/<vmid>`) and the termproxy port, as
    /// pve-access-control's `assemble_vnc_ticket` makes them (the binding lives only in the
    /// signature, never in plain text).
    pub fn issue_vnc_ticket(&self, authid: &str, path: &str, port: u16, now: i64) -> String {
        let signed = format!("PVEVNC:{}", format_hex_time(now));
        let sig = hmac::sign(
            &self.ticket_key(),
            vnc_secret(&signed, authid, path, port).as_bytes(),
        );
        format!("{signed}::{}", STANDARD.encode(sig.as_ref()))
    }

    /// Checks a VNC ticket for (authid, path, port): genuine, and its age between -20 s and
    /// 40 s (pve-access-control `verify_vnc_ticket`, a short-lived ticket).
    pub fn verify_vnc_ticket(
        &self,
        ticket: &str,
        authid: &str,
        path: &str,
        port: u16,
        now: i64,
    ) -> bool {
        let Some((signed, sig)) = ticket.split_once("::") else {
            return false;
        };
        let Some(time) = signed.strip_prefix("PVEVNC:") else {
            return false;
        };
        let (Some(issued), Ok(sig)) = (parse_hex_time(time), STANDARD.decode(sig)) else {
            return false;
        };
        let data = vnc_secret(signed, authid, path, port);
        hmac::verify(&self.ticket_key(), data.as_bytes(), &sig).is_ok()
            && is_age_valid(now - issued, VNC_SKEW_SECS, VNC_LIFETIME_SECS)
    }

    /// POST /access/ticket: checks a user name (the realm given apart is always appended,
    /// as the real handler does, so `root@pam` with `realm=pam` fails) and a password or
    /// still-valid ticket; returns the user id. A ticket of root@pam may create tickets for
    /// other users, but not pass `verify` (privilege check) logins.
    pub fn login(
        &self,
        username: &str,
        realm: Option<&str>,
        password: &str,
        now: i64,
        verify: bool,
    ) -> Option<String> {
        let userid = match realm {
            Some(r) => format!("{username}@{r}"),
            None => username.to_string(),
        };
        let cfg = self.cfg();
        let expected = cfg.users.get(&userid)?.password.as_deref()?;
        if password.starts_with("PVE:") {
            let owner = self.verify_ticket(password, now)?;
            let root_may = owner == "root@pam" && !verify;
            return (owner == userid || root_may).then_some(userid);
        }
        same_bytes(password.as_bytes(), expected.as_bytes()).then_some(userid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(
            "root@pam".into(),
            "pw".into(),
            "root@pam!t".into(),
            "s-e=cret".into(),
        )
    }

    #[test]
    fn tickets() {
        let a = auth();
        let t = a.issue_ticket("root@pam", 1_700_000_000);
        assert!(t.starts_with("PVE:root@pam:"));
        assert_eq!(
            a.verify_ticket(&t, 1_700_000_000 + 7200).as_deref(),
            Some("root@pam")
        );
        assert!(a.verify_ticket(&t, 1_700_000_000 + 7201).is_none());
        assert!(a.verify_ticket(&t, 1_700_000_000 - 301).is_none());
        assert!(
            a.verify_ticket(&t.replace("root", "toor"), 1_700_000_000)
                .is_none()
        );
        let c = a.csrf_token("root@pam", 1_700_000_000);
        assert_eq!(c.len(), 8 + 1 + 43);
        assert!(a.verify_csrf(&c, "root@pam", 1_700_000_100));
        assert!(!a.verify_csrf(&c, "other@pam", 1_700_000_100));
        assert_eq!(a.verify_token("root@pam!t=s-e=cret", 0), None);
        assert!(a.login("root", Some("pam"), "pw", 0, false).is_some());
        assert!(a.login("root@pam", Some("pam"), "pw", 0, false).is_none());
        let v = a.issue_vnc_ticket("root@pam", "/nodes/pve1", 5900, 1_700_000_000);
        assert!(v.starts_with("PVEVNC:") && v.contains("::"), "{v}");
        assert!(a.verify_vnc_ticket(&v, "root@pam", "/nodes/pve1", 5900, 1_700_000_040));
        assert!(a.verify_vnc_ticket(&v, "root@pam", "/nodes/pve1", 5900, 1_699_999_980));
        assert!(!a.verify_vnc_ticket(&v, "root@pam", "/nodes/pve1", 5900, 1_700_000_041));
        assert!(!a.verify_vnc_ticket(&v, "root@pam", "/nodes/pve1", 5901, 1_700_000_000));
        assert!(!a.verify_vnc_ticket(&v, "root@pam", "/vms/100", 5900, 1_700_000_000));
        assert!(!a.verify_vnc_ticket(&v, "root@pam!t", "/nodes/pve1", 5900, 1_700_000_000));
        assert!(a.login("root@pam", None, "pw", 0, false).is_some());
        assert!(a.login("root", None, "pw", 0, false).is_none());
        assert!(a.login("root@pam", None, "nope", 0, false).is_none());
    }
}
