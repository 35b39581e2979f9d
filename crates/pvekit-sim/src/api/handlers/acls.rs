//! ACLs and effective permissions: pve-access-control src/PVE/API2/ACL.pm (`read_acl`,
//! `update_acl`) and src/PVE/API2/AccessControl.pm (`permissions`).
//!
//! - `GET /access/acl` lists the entries on the paths where the caller may audit
//!   (`Sys.Audit` on `/access`) or modify permissions, in the ACL tree's order.
//! - `PUT /access/acl` grants (or with `delete` removes) roles on a path to users and
//!   tokens; without `Permissions.Modify` on the path a caller may only hand out privileges
//!   it holds itself (propagated ones when the grant propagates). All or nothing: an error
//!   changes nothing.
//! - `GET /access/permissions` maps each path to its privileges and their propagate flags
//!   (1/0), for the caller, one of its tokens, or (with `Sys.Audit` on `/access`) anyone.
//!
//! Groups are not simulated: a `groups` parameter fails as a group that does not exist.

use serde_json::{Map, Value, json};

use super::b01;
use crate::api::{Call, perm_modify};
use crate::error::ApiError;
use crate::usercfg::{AclRule, PermMap, check_path, normalize_path, split_list, split_tokenid};

fn perm_json(perms: &PermMap) -> Value {
    Value::Object(
        perms
            .iter()
            .map(|(p, prop)| (p.to_string(), b01(*prop)))
            .collect::<Map<_, _>>(),
    )
}

/// GET /access/acl.
pub(crate) fn list(call: &Call<'_>) -> Result<Value, ApiError> {
    let authid = call.auth_id().to_string();
    let st = call.state;
    let audit = st.auth.has(&authid, "/access", "Sys.Audit");
    let cfg = st.auth.cfg();
    let mut out = Vec::new();
    for path in cfg.acl_tree_paths() {
        for (kind, token) in [("user", false), ("token", true)] {
            let mut here: Vec<&AclRule> = cfg
                .acl
                .iter()
                .filter(|r| r.path == path && r.token == token)
                .collect();
            if here.is_empty() {
                continue;
            }
            if !audit && perm_modify(st, &authid, &path).is_err() {
                continue;
            }
            here.sort_by(|a, b| (&a.ugid, &a.role).cmp(&(&b.ugid, &b.role)));
            out.extend(here.into_iter().map(|r| {
                json!({
                    "path": r.path,
                    "type": kind,
                    "ugid": r.ugid,
                    "roleid": r.role,
                    "propagate": b01(r.propagate),
                })
            }));
        }
    }
    Ok(Value::Array(out))
}

/// A failure inside `lock_user_config(..., "ACL update failed")`: a plain 500 whose text
/// starts with the lock's message (a parameter exception is stringified with its code).
fn failed(what: String) -> ApiError {
    ApiError::internal(format!("ACL update failed: {what}"))
}

fn role_refused(what: String) -> ApiError {
    failed(format!(
        "400 Parameter verification failed.\nrole: {what}\n"
    ))
}

/// PUT /access/acl.
pub(crate) fn update(call: &Call<'_>) -> Result<Value, ApiError> {
    let given = |k: &str| call.str(k).filter(|v| !v.is_empty());
    let (users, groups, tokens) = (given("users"), given("groups"), given("tokens"));
    if users.is_none() && groups.is_none() && tokens.is_none() {
        let msg = "either 'users', 'groups' or 'tokens' is required.";
        return Err(ApiError::params(
            ["users", "groups", "tokens"]
                .iter()
                .map(|k| (k.to_string(), msg.to_string()))
                .collect(),
        ));
    }
    let raw = call.str("path").unwrap_or_default();
    let delete = call.flag("delete");
    let invalid = || ApiError::param("path", format!("invalid ACL path '{raw}'"));
    let path = normalize_path(&raw).ok_or_else(invalid)?;
    if !delete && !check_path(&path) {
        return Err(invalid());
    }
    let propagate = !call.params.contains_key("propagate") || call.flag("propagate");
    let authid = call.auth_id().to_string();
    // The caller's privileges on the path, read before the change.
    let mine = call.state.auth.permissions(&authid, &path);
    let mut cfg = call.state.auth.cfg_mut();
    let mut next = cfg.clone();
    let verb = if delete { "remove" } else { "add" };
    for role in split_list(&call.str("roles").unwrap_or_default()) {
        let privs = cfg
            .role_privs(role)
            .ok_or_else(|| failed(format!("role '{role}' does not exist\n")))?;
        if !mine.contains_key("Permissions.Modify") {
            for p in &privs {
                match mine.get(p) {
                    None => {
                        return Err(role_refused(format!(
                            "Cannot {verb} role '{role}' - requires 'Permissions.Modify' or superset of privileges."
                        )));
                    }
                    Some(flag) if propagate && !flag && !delete => {
                        return Err(role_refused(format!(
                            "Cannot {verb} role '{role}' with propagation - requires 'Permissions.Modify' or propagated superset of privileges."
                        )));
                    }
                    Some(_) => {}
                }
            }
            if role == "NoAccess" {
                return Err(role_refused(format!(
                    "Cannot {verb} role '{role}' - requires 'Permissions.Modify'"
                )));
            }
        }
        if let Some(group) = groups.as_deref().and_then(|g| split_list(g).next()) {
            return Err(failed(format!("group '{group}' does not exist\n")));
        }
        let mut apply = |ugid: &str, token: bool| {
            if delete {
                next.acl.retain(|r| {
                    !(r.path == path && r.ugid == ugid && r.token == token && r.role == role)
                });
            } else {
                next.set_acl(AclRule {
                    path: path.clone(),
                    ugid: ugid.to_string(),
                    token,
                    role: role.to_string(),
                    propagate,
                });
            }
        };
        for userid in split_list(users.as_deref().unwrap_or("")) {
            if !cfg.user_exists(userid) {
                return Err(failed(format!("user '{userid}' does not exist\n")));
            }
            apply(userid, false);
        }
        for tokenid in split_list(tokens.as_deref().unwrap_or("")) {
            let (userid, name) = split_tokenid(tokenid).unwrap_or((tokenid, ""));
            if !cfg.user_exists(userid) {
                return Err(failed(format!("no such user ('{userid}')\n")));
            }
            if cfg.token(userid, name).is_none() {
                return Err(failed(format!(
                    "no such token '{name}' for user '{userid}'\n"
                )));
            }
            apply(tokenid, true);
        }
    }
    *cfg = next;
    Ok(Value::Null)
}

/// GET /access/permissions.
pub(crate) fn permissions(call: &Call<'_>) -> Result<Value, ApiError> {
    let authid = call.auth_id().to_string();
    let userid = call.str("userid").unwrap_or_else(|| authid.clone());
    let owned = split_tokenid(&userid).is_some_and(|(u, _)| u == authid);
    if userid != authid && !owned && !call.state.auth.has(&authid, "/access", "Sys.Audit") {
        return Err(ApiError::permission("/access, Sys.Audit"));
    }
    let cfg = call.state.auth.cfg();
    // The path is used as given (not normalized), and answered even without privileges.
    if let Some(path) = call.str("path").filter(|p| !p.is_empty()) {
        let perms = cfg.permissions(&userid, &path);
        return Ok(json!({ path: perm_json(&perms) }));
    }
    Ok(Value::Object(
        cfg.effective_permissions(&userid)
            .iter()
            .map(|(p, perms)| (p.clone(), perm_json(perms)))
            .collect(),
    ))
}
