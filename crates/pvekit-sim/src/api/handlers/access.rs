//! POST /access/ticket: login, ticket renewal and privilege checks.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::api::Call;
use crate::error::ApiError;

/// The `cap` object of a login: the user's privileges by area, from the top paths of each
/// area and every path that has ACL entries (pve-access-control src/PVE/RPCEnvironment.pm
/// `compute_api_permission`).
fn caps(call: &Call<'_>, userid: &str) -> Value {
    const AREAS: [(&str, &[&str]); 7] = [
        ("vms", &["VM.", "Permissions.Modify"]),
        ("access", &["User.", "Group.", "Permissions.Modify"]),
        ("storage", &["Datastore.", "Permissions.Modify"]),
        ("nodes", &["Sys.", "Permissions.Modify"]),
        ("sdn", &["SDN.", "Permissions.Modify"]),
        ("dc", &["Sys.Audit", "Sys.Modify", "SDN."]),
        ("mapping", &["Mapping.", "Permissions.Modify"]),
    ];
    let mut out: BTreeMap<&str, Map<String, Value>> =
        AREAS.iter().map(|(area, _)| (*area, Map::new())).collect();
    let required = [
        "/",
        "/nodes",
        "/access/groups",
        "/vms",
        "/storage",
        "/sdn",
        "/mapping",
    ];
    let mut seen = BTreeSet::new();
    let paths = required
        .iter()
        .map(|p| p.to_string())
        .chain(call.state.auth.acl_paths());
    for path in paths {
        if !seen.insert(path.clone()) {
            continue;
        }
        let top = path
            .strip_prefix('/')
            .and_then(|r| r.split('/').next())
            .filter(|t| !t.is_empty())
            .unwrap_or("dc");
        if top == "pool" {
            // A pool's privileges count for its guests and storage.
            for privilege in call.state.auth.privileges(userid, &path) {
                let areas: &[&str] = match privilege {
                    "Permissions.Modify" => &["storage", "vms"],
                    p if p.starts_with("VM.") => &["vms"],
                    p if p.starts_with("Datastore.") => &["storage"],
                    _ => &[],
                };
                for area in areas {
                    if let Some(group) = out.get_mut(area) {
                        group.insert(privilege.to_string(), Value::from(1));
                    }
                }
            }
            continue;
        }
        let Some((area, prefixes)) = AREAS.iter().find(|(a, _)| *a == top) else {
            continue;
        };
        for privilege in call.state.auth.privileges(userid, &path) {
            if prefixes.iter().any(|p| privilege.starts_with(p))
                && let Some(group) = out.get_mut(area)
            {
                group.insert(privilege.to_string(), Value::from(1));
            }
        }
    }
    Value::Object(
        out.into_iter()
            .map(|(area, privs)| (area.to_string(), Value::Object(privs)))
            .collect(),
    )
}

/// Creates (or renews) a ticket.
pub(crate) fn create_ticket(call: &Call<'_>) -> Result<Value, ApiError> {
    let st = call.state;
    let outage = st.login_outage.load(std::sync::atomic::Ordering::Relaxed);
    if outage != 0 {
        return Err(ApiError::new(outage, "Service Unavailable"));
    }
    let now = st.clock.now();
    let username = call.str("username").unwrap_or_default();
    let password = call.str("password").unwrap_or_default();
    let realm = call.str("realm");
    let failure = || ApiError::new(401, "authentication failure\n");
    let verify = match (call.str("path"), call.str("privs")) {
        (Some(path), Some(privs)) => Some((path, privs)),
        _ => None,
    };
    let userid = st
        .auth
        .login(
            &username,
            realm.as_deref(),
            &password,
            now,
            verify.is_some(),
        )
        .ok_or_else(failure)?;
    let mut data = match verify {
        // Verify mode: the privileges are checked on the (normalized) path, and no ticket is
        // issued. Any failure is the same generic 401.
        Some((path, privs)) => {
            let path = crate::usercfg::normalize_path(&path).ok_or_else(failure)?;
            let privs: Vec<&str> = privs
                .split([',', ';', ' ', '\0'])
                .filter(|p| !p.is_empty())
                .collect();
            let granted = st.auth.privileges(&userid, &path);
            if privs.is_empty() || !privs.iter().all(|p| granted.contains(p)) {
                return Err(failure());
            }
            json!({ "username": userid })
        }
        None => json!({
            "username": userid,
            "ticket": st.auth.issue_ticket(&userid, now),
            "CSRFPreventionToken": st.auth.csrf_token(&userid, now),
        }),
    };
    data["cap"] = caps(call, &userid);
    if let Some(name) = &st.model().cluster_name
        && st.auth.has(&userid, "/", "Sys.Audit")
    {
        data["clustername"] = Value::from(name.clone());
    }
    Ok(data)
}
