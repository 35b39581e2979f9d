//! Roles: pve-access-control src/PVE/API2/Role.pm (`index`, `create_role`, `read_role`,
//! `update_role`, `delete_role`), with the built-in roles of src/PVE/AccessControl.pm
//! (`create_roles`, `role_is_special`).
//!
//! Built-in ("special") roles cannot be changed or deleted; custom roles may not use the
//! `PVE` prefix (any case). Errors inside pve-access-control's `lock_user_config` carry its
//! message first: `create role failed: role 'X' already exists`.

use serde_json::{Map, Value, json};

use super::b01;
use crate::acl::{self, Privs};
use crate::api::Call;
use crate::error::ApiError;
use crate::usercfg::{UserCfg, split_list};

/// Every role, built-in then custom, by name: `roleid`, `privs` (sorted, comma-separated),
/// `special` (0/1).
pub(crate) fn list(call: &Call<'_>) -> Result<Value, ApiError> {
    let cfg = call.state.auth.cfg();
    let mut names = acl::builtin_roles();
    names.extend(cfg.roles.keys().cloned());
    names.sort();
    Ok(Value::Array(
        names
            .into_iter()
            .filter_map(|role| {
                let privs = cfg.role_privs(&role)?;
                Some(json!({
                    "roleid": role,
                    "privs": privs.iter().copied().collect::<Vec<_>>().join(","),
                    "special": b01(UserCfg::role_is_special(&role)),
                }))
            })
            .collect(),
    ))
}

/// The privileges of a `pve-priv-list` (already validated).
fn parse_privs(list: &str) -> Privs {
    split_list(list).filter_map(acl::priv_name).collect()
}

/// POST /access/roles.
pub(crate) fn create(call: &Call<'_>) -> Result<Value, ApiError> {
    let role = call.str("roleid").unwrap_or_default();
    if role.to_ascii_uppercase().starts_with("PVE") {
        return Err(ApiError::param(
            "roleid",
            "cannot use role ID starting with the (case-insensitive) 'PVE' namespace",
        ));
    }
    let mut cfg = call.state.auth.cfg_mut();
    if cfg.role_privs(&role).is_some() {
        return Err(ApiError::internal(format!(
            "create role failed: role '{role}' already exists\n"
        )));
    }
    let privs = parse_privs(&call.str("privs").unwrap_or_default());
    cfg.roles.insert(role, privs);
    Ok(Value::Null)
}

/// GET /access/roles/{roleid}: privilege name to 1.
pub(crate) fn read(call: &Call<'_>) -> Result<Value, ApiError> {
    let role = call.str("roleid").unwrap_or_default();
    let privs = call
        .state
        .auth
        .cfg()
        .role_privs(&role)
        .ok_or_else(|| ApiError::internal(format!("role '{role}' does not exist\n")))?;
    Ok(Value::Object(
        privs
            .into_iter()
            .map(|p| (p.to_string(), Value::from(1)))
            .collect::<Map<_, _>>(),
    ))
}

/// PUT /access/roles/{roleid}: replaces the privileges (or adds them with `append`); left
/// without `privs` and `append`, the role ends up with none, as in Proxmox VE.
pub(crate) fn update(call: &Call<'_>) -> Result<Value, ApiError> {
    let role = call.str("roleid").unwrap_or_default();
    if UserCfg::role_is_special(&role) {
        return Err(ApiError::internal(format!(
            "auto-generated role '{role}' cannot be modified\n"
        )));
    }
    let mut cfg = call.state.auth.cfg_mut();
    let Some(current) = cfg.roles.get_mut(&role) else {
        return Err(ApiError::internal(format!(
            "update role failed: role '{role}' does not exist\n"
        )));
    };
    if !call.flag("append") {
        current.clear();
    }
    current.extend(parse_privs(&call.str("privs").unwrap_or_default()));
    Ok(Value::Null)
}

/// DELETE /access/roles/{roleid}.
pub(crate) fn remove(call: &Call<'_>) -> Result<Value, ApiError> {
    let role = call.str("roleid").unwrap_or_default();
    if UserCfg::role_is_special(&role) {
        return Err(ApiError::internal(format!(
            "auto-generated role '{role}' cannot be deleted\n"
        )));
    }
    let mut cfg = call.state.auth.cfg_mut();
    if !cfg.roles.contains_key(&role) {
        return Err(ApiError::internal(format!(
            "delete role failed: role '{role}' does not exist\n"
        )));
    }
    cfg.remove_role(&role);
    Ok(Value::Null)
}
