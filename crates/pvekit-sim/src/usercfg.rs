//! The access-control configuration at run time: what pve-access-control keeps in
//! `user.cfg` (users, their API tokens, roles, the ACL tree, pools) plus the token secrets
//! of `priv/token.cfg`, in one place that the API reads and changes.
//!
//! It is built at start from the simulator's own credentials and the scenario's users
//! ([`crate::ScenarioUser`], [`crate::ScenarioToken`], [`crate::AclEntry`]); the access
//! endpoints (tokens, roles, ACLs) change it, and every request sees the change at once.
//!
//! Effective privileges follow pve-access-control:
//!
//! - `PVE::AccessControl::roles`: walking the path from `/` down, at each level the
//!   principal's entries there (those that propagate, or any on the final level) replace
//!   what was inherited, each role keeping its propagate flag; `NoAccess` among the result
//!   leaves no privilege.
//! - `PVE::RPCEnvironment::compile_acl_path`: roles granted on `/pool/<pool>` apply to the
//!   pool's guests (`/vms/<vmid>`) where the path's own ACL has not set them, never
//!   propagated; a pool's `NoAccess` trumps them, a path's own `NoAccess` trumps the pool.
//!   A privilege is propagated when any role granting it is.
//! - `PVE::RPCEnvironment::permissions`: `root@pam` has every privilege (propagated); a
//!   token without privilege separation has its user's, one with it the intersection of its
//!   own and its user's (both flags combined with "and"); an unknown token has none.
//!
//! The simulator's own user (when it is not `root@pam`) is treated like `root@pam`, and so
//! is the owner of its own API token (see [`crate::SimOptions::token_id`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::acl::{self, AclEntry, Privs};
use crate::model::scenario::ScenarioUser;

/// Privileges on a path, each with its propagate flag (`permissions()` of
/// PVE::RPCEnvironment: a key present means the privilege is set).
pub(crate) type PermMap = BTreeMap<&'static str, bool>;

/// An API token (`token:` line of user.cfg, plus its secret).
#[derive(Clone)]
pub(crate) struct TokenCfg {
    pub secret: String,
    /// Privilege separation.
    pub privsep: bool,
    /// Expiry, Unix seconds; 0 never.
    pub expire: u64,
    pub comment: Option<String>,
}

/// A user (`user:` line): its password (a simulator detail; real ones live in the realm)
/// and tokens.
#[derive(Clone, Default)]
pub(crate) struct UserEntry {
    pub password: Option<String>,
    pub tokens: BTreeMap<String, TokenCfg>,
}

/// One ACL entry (`acl:` line, split per principal and role).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AclRule {
    /// Normalized ACL path.
    pub path: String,
    /// A user id or a full token id.
    pub ugid: String,
    /// Whether `ugid` is a token.
    pub token: bool,
    pub role: String,
    pub propagate: bool,
}

/// A resource pool (`pool:` line); only guests are members here.
#[derive(Clone, Default)]
pub(crate) struct PoolCfg {
    pub comment: Option<String>,
    pub vms: BTreeSet<u32>,
}

/// The whole configuration.
#[derive(Clone, Default)]
pub(crate) struct UserCfg {
    pub users: BTreeMap<String, UserEntry>,
    /// Custom roles (the built-in ones come from [`acl::role_privs`]).
    pub roles: BTreeMap<String, Privs>,
    pub acl: Vec<AclRule>,
    pub pools: BTreeMap<String, PoolCfg>,
    /// Users with every privilege: `root@pam`, the simulator's own user and its token's owner.
    almighty: BTreeSet<String>,
}

/// pve-common `split_list`: items separated by commas, semicolons, white space or NUL.
pub(crate) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c == ';' || c == '\0' || c.is_whitespace())
        .filter(|p| !p.is_empty())
}

/// `user@realm!name` split in two, when it is a token id.
pub(crate) fn split_tokenid(id: &str) -> Option<(&str, &str)> {
    id.split_once('!')
}

/// pve-access-control `normalize_path`: slashes collapsed, no trailing one, a leading one;
/// `None` for an empty path or characters outside `[[:alnum:]._/-]`.
pub(crate) fn normalize_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let out = format!("/{}", parts.join("/"));
    out.chars()
        .all(|c| c.is_alphanumeric() || "._-/".contains(c))
        .then_some(out)
}

/// pve-access-control `check_path`: the ACL paths that may be granted (a normalized path).
pub(crate) fn check_path(path: &str) -> bool {
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-' || c == '_')
    };
    let alnum = |s: &str| !s.is_empty() && s.chars().all(char::is_alphanumeric);
    let pool = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_".contains(&c))
    };
    if path == "/" {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let p: Vec<&str> = rest.split('/').collect();
    match p.as_slice() {
        ["access"] | ["access", "groups"] | ["access", "realm"] => true,
        ["access", "groups" | "realm", x] => word(x),
        ["nodes"] | ["pool"] | ["sdn"] | ["storage"] | ["vms"] | ["mapping"] => true,
        ["nodes" | "storage" | "mapping", x] => word(x),
        ["mapping", x, y] => word(x) && word(y),
        ["pool", rest @ ..] => (1..=3).contains(&rest.len()) && rest.iter().all(|s| pool(s)),
        ["sdn", "controllers" | "dns" | "fabrics" | "ipams" | "zones"] => true,
        ["sdn", "controllers", x] => {
            !x.is_empty()
                && x.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        }
        ["sdn", "dns" | "fabrics" | "ipams", x] => alnum(x),
        ["sdn", "zones", x] => word(x),
        ["sdn", "zones", x, y] => word(x) && word(y),
        ["sdn", "zones", x, y, vlan] => {
            word(x)
                && word(y)
                && (1..=4).contains(&vlan.len())
                && !vlan.starts_with('0')
                && vlan.bytes().all(|c| c.is_ascii_digit())
        }
        ["vms", id] => {
            id.len() >= 3 && !id.starts_with('0') && id.bytes().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

impl UserCfg {
    /// The configuration of a fresh simulator: `root@pam`, its own user with the password
    /// and its own token (without privilege separation).
    pub fn new(userid: &str, password: &str, token_id: &str, secret: &str) -> UserCfg {
        let mut cfg = UserCfg::default();
        cfg.users.insert("root@pam".into(), UserEntry::default());
        cfg.almighty.insert("root@pam".into());
        cfg.almighty.insert(userid.into());
        cfg.users.entry(userid.into()).or_default().password = Some(password.into());
        if let Some((owner, name)) = split_tokenid(token_id) {
            cfg.almighty.insert(owner.into());
            cfg.users.entry(owner.into()).or_default().tokens.insert(
                name.into(),
                TokenCfg {
                    secret: secret.into(),
                    privsep: false,
                    expire: 0,
                    comment: None,
                },
            );
        }
        cfg
    }

    /// Adds a scenario's users (checked by [`crate::Scenario::check`]): their passwords
    /// (unless the user is the simulator's own), tokens and ACL entries.
    pub fn add_scenario_users(&mut self, users: &[ScenarioUser]) {
        for u in users {
            let entry = self.users.entry(u.userid.clone()).or_default();
            if entry.password.is_none() {
                entry.password = u.password.clone();
            }
            for t in &u.tokens {
                entry.tokens.insert(
                    t.name.clone(),
                    TokenCfg {
                        secret: t.secret.clone(),
                        privsep: t.privsep,
                        expire: 0,
                        comment: None,
                    },
                );
            }
            let rules = |ugid: &str, token: bool, list: &[AclEntry]| -> Vec<AclRule> {
                list.iter()
                    .filter_map(|e| {
                        Some(AclRule {
                            path: normalize_path(&e.path)?,
                            ugid: ugid.to_string(),
                            token,
                            role: e.role.clone(),
                            propagate: e.propagate,
                        })
                    })
                    .collect()
            };
            let mut add = rules(&u.userid, false, &u.acl);
            for t in &u.tokens {
                add.extend(rules(&format!("{}!{}", u.userid, t.name), true, &t.acl));
            }
            for r in add {
                self.set_acl(r);
            }
        }
    }

    /// Adds or updates an ACL entry (same path, principal and role: the flag changes).
    pub fn set_acl(&mut self, rule: AclRule) {
        match self.acl.iter_mut().find(|r| {
            r.path == rule.path
                && r.ugid == rule.ugid
                && r.token == rule.token
                && r.role == rule.role
        }) {
            Some(r) => r.propagate = rule.propagate,
            None => self.acl.push(rule),
        }
    }

    /// Whether the id has every privilege everywhere: `root@pam`, the simulator's own
    /// user, or a token of theirs without privilege separation.
    pub fn is_almighty(&self, authid: &str) -> bool {
        match split_tokenid(authid) {
            None => self.almighty.contains(authid),
            Some((userid, name)) => {
                self.almighty.contains(userid)
                    && self.token(userid, name).is_some_and(|t| !t.privsep)
            }
        }
    }

    /// Whether the user exists.
    pub fn user_exists(&self, userid: &str) -> bool {
        self.users.contains_key(userid)
    }

    /// A token by user id and token name.
    pub fn token(&self, userid: &str, name: &str) -> Option<&TokenCfg> {
        self.users.get(userid)?.tokens.get(name)
    }

    /// The privileges of a role, built-in or custom; `None` for an unknown role.
    pub fn role_privs(&self, role: &str) -> Option<Privs> {
        acl::role_privs(role).or_else(|| self.roles.get(role).cloned())
    }

    /// Whether a role is built in (`special` in the role list).
    pub fn role_is_special(role: &str) -> bool {
        acl::role_privs(role).is_some()
    }

    /// Every node of the ACL tree, in the order pve-access-control's `iterate_acl_tree`
    /// visits them (`/` first, then each child by name, depth first).
    pub fn acl_tree_paths(&self) -> Vec<String> {
        let mut set: BTreeSet<Vec<String>> = BTreeSet::new();
        for r in &self.acl {
            for level in acl::levels(&r.path) {
                set.insert(
                    level
                        .split('/')
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect(),
                );
            }
        }
        set.into_iter()
            .map(|parts| format!("/{}", parts.join("/")))
            .collect()
    }

    /// `PVE::AccessControl::roles` for a user or token id on a path (no pools, no
    /// intersection): role name to propagate flag.
    fn roles(&self, ugid: &str, token: bool, path: &str) -> BTreeMap<String, bool> {
        let walk = acl::levels(path);
        let mut roles = BTreeMap::new();
        for (i, level) in walk.iter().enumerate() {
            let last = i + 1 == walk.len();
            let here: BTreeMap<String, bool> = self
                .acl
                .iter()
                .filter(|r| r.ugid == ugid && r.token == token && &r.path == level)
                .filter(|r| last || r.propagate)
                .map(|r| (r.role.clone(), r.propagate))
                .collect();
            if !here.is_empty() {
                roles = here;
            }
        }
        if let Some(&p) = roles.get("NoAccess") {
            return BTreeMap::from([("NoAccess".to_string(), p)]);
        }
        roles
    }

    /// `compile_acl_path` without the intersection: the roles on the path, those inherited
    /// from pools, and their privileges.
    fn compile(&self, ugid: &str, token: bool, path: &str) -> PermMap {
        let mut roles = self.roles(ugid, token, path);
        let vmid = path
            .strip_prefix("/vms/")
            .and_then(|v| v.parse::<u32>().ok());
        if let Some(vmid) = vmid
            && !roles.contains_key("NoAccess")
        {
            let mut pool_roles = BTreeSet::new();
            for (name, pool) in &self.pools {
                if pool.vms.contains(&vmid) {
                    pool_roles.extend(
                        self.roles(ugid, token, &format!("/pool/{name}"))
                            .into_keys(),
                    );
                }
            }
            if pool_roles.contains("NoAccess") {
                roles = BTreeMap::from([("NoAccess".to_string(), false)]);
            } else {
                for r in pool_roles {
                    roles.entry(r).or_insert(false);
                }
            }
        }
        let mut privs = PermMap::new();
        for (role, propagate) in &roles {
            for p in self.role_privs(role).unwrap_or_default() {
                let e = privs.entry(p).or_insert(false);
                *e = *e || *propagate;
            }
        }
        privs
    }

    /// `PVE::RPCEnvironment::permissions`: the privileges of a user or token id on a path,
    /// with their propagate flags.
    pub fn permissions(&self, authid: &str, path: &str) -> PermMap {
        if self.almighty.contains(authid) {
            return acl::all_privs().into_iter().map(|p| (p, true)).collect();
        }
        match split_tokenid(authid) {
            Some((userid, name)) => {
                let Some(token) = self.token(userid, name) else {
                    return PermMap::new();
                };
                let user = self.permissions(userid, path);
                if !token.privsep {
                    return user;
                }
                self.compile(authid, true, path)
                    .into_iter()
                    .filter_map(|(p, prop)| user.get(p).map(|u| (p, *u && prop)))
                    .collect()
            }
            None => self.compile(authid, false, path),
        }
    }

    /// The privileges (without flags) of a user or token id on a path.
    pub fn privileges(&self, authid: &str, path: &str) -> Privs {
        if self.almighty.contains(authid) {
            return acl::all_privs();
        }
        self.permissions(authid, path).into_keys().collect()
    }

    /// `get_effective_permissions`: every path of interest (the top-level ones, the ACL
    /// tree's nodes, the pools' guests) where the id has privileges.
    pub fn effective_permissions(&self, authid: &str) -> BTreeMap<String, PermMap> {
        let mut paths: BTreeSet<String> = [
            "/",
            "/access",
            "/access/groups",
            "/nodes",
            "/pool",
            "/sdn",
            "/storage",
            "/vms",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        paths.extend(self.acl_tree_paths());
        for pool in self.pools.values() {
            paths.extend(pool.vms.iter().map(|v| format!("/vms/{v}")));
        }
        paths
            .into_iter()
            .filter_map(|p| {
                let perms = self.permissions(authid, &p);
                (!perms.is_empty()).then_some((p, perms))
            })
            .collect()
    }

    /// Removes a token and its ACL entries (a later read of user.cfg drops the entries of a
    /// token that no longer exists).
    pub fn remove_token(&mut self, userid: &str, name: &str) {
        if let Some(u) = self.users.get_mut(userid) {
            u.tokens.remove(name);
        }
        let full = format!("{userid}!{name}");
        self.acl.retain(|r| !(r.token && r.ugid == full));
    }

    /// Removes a custom role and the ACL entries naming it (a later read of user.cfg drops
    /// entries of unknown roles).
    pub fn remove_role(&mut self, role: &str) {
        self.roles.remove(role);
        self.acl.retain(|r| r.role != role);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(entries: &[(&str, &str, &str, bool)]) -> UserCfg {
        let mut c = UserCfg::new("root@pam", "pw", "root@pam!t", "s");
        c.users.insert("u@pve".into(), UserEntry::default());
        c.users.get_mut("u@pve").unwrap().tokens.insert(
            "tk".into(),
            TokenCfg {
                secret: "x".into(),
                privsep: true,
                expire: 0,
                comment: None,
            },
        );
        for (ugid, path, role, propagate) in entries {
            c.set_acl(AclRule {
                path: path.to_string(),
                ugid: ugid.to_string(),
                token: ugid.contains('!'),
                role: role.to_string(),
                propagate: *propagate,
            });
        }
        c
    }

    #[test]
    fn deeper_entries_replace_inherited_ones() {
        let c = cfg(&[
            ("u@pve", "/", "PVEAuditor", true),
            ("u@pve", "/vms/100", "PVEVMUser", true),
            ("u@pve", "/vms/101", "NoAccess", true),
            ("u@pve", "/nodes/pve1", "PVESysAdmin", false),
        ]);
        let p = |path: &str| c.privileges("u@pve", path);
        assert!(p("/vms/100").contains("VM.PowerMgmt"));
        assert!(p("/vms/102").contains("VM.Audit"));
        assert!(!p("/vms/102").contains("VM.PowerMgmt"));
        assert!(p("/vms/101").is_empty());
        assert!(p("/nodes/pve1").contains("Sys.Console"));
        // Not propagated: below /nodes/pve1 the inherited auditor role stays.
        assert!(!p("/nodes/pve1/x").contains("Sys.Console"));
        assert!(p("/nodes/pve2").contains("Sys.Audit"));
        // The flag: an entry that does not propagate gives 0 on its own path.
        assert_eq!(
            c.permissions("u@pve", "/nodes/pve1").get("Sys.Console"),
            Some(&false)
        );
        assert_eq!(c.permissions("u@pve", "/").get("VM.Audit"), Some(&true));
        assert!(c.privileges("nobody@pve", "/").is_empty());
    }

    #[test]
    fn tokens_intersect_and_pools_lend_roles() {
        let mut c = cfg(&[
            ("u@pve", "/", "PVEVMUser", true),
            ("u@pve!tk", "/", "PVEVMAdmin", true),
            ("u@pve", "/pool/p1", "PVEVMAdmin", true),
        ]);
        let tok = c.privileges("u@pve!tk", "/vms/100");
        assert!(tok.contains("VM.PowerMgmt") && !tok.contains("VM.Config.CPU"));
        c.pools.insert(
            "p1".into(),
            PoolCfg {
                comment: None,
                vms: BTreeSet::from([100]),
            },
        );
        let user = c.permissions("u@pve", "/vms/100");
        // Pool roles are never propagated; the path's own role keeps its flag.
        assert_eq!(user.get("VM.Config.CPU"), Some(&false));
        assert_eq!(user.get("VM.PowerMgmt"), Some(&true));
        assert!(
            c.privileges("u@pve!tk", "/vms/100")
                .contains("VM.Config.CPU")
        );
        assert!(c.privileges("u@pve!nope", "/").is_empty());
        c.remove_token("u@pve", "tk");
        assert!(c.acl.iter().all(|r| !r.token));
    }

    #[test]
    fn acl_paths() {
        assert_eq!(normalize_path("//vms//100/").as_deref(), Some("/vms/100"));
        assert_eq!(normalize_path("vms").as_deref(), Some("/vms"));
        assert_eq!(normalize_path("/").as_deref(), Some("/"));
        assert_eq!(normalize_path("/a b"), None);
        for ok in [
            "/",
            "/vms",
            "/vms/100",
            "/pool/a/b/c",
            "/storage/local",
            "/access/groups",
        ] {
            assert!(check_path(ok), "{ok}");
        }
        for bad in [
            "/vms/99",
            "/vms/abc",
            "/pool/a/b/c/d",
            "/foo",
            "/nodes/pve1/x",
        ] {
            assert!(!check_path(bad), "{bad}");
        }
        let c = cfg(&[
            ("u@pve", "/vms/100", "PVEAuditor", true),
            ("u@pve", "/nodes", "PVEAuditor", true),
        ]);
        assert_eq!(c.acl_tree_paths(), ["/", "/nodes", "/vms", "/vms/100"]);
    }
}
