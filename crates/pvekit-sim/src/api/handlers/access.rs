//! POST /access/ticket: login, ticket renewal and privilege checks.

use serde_json::{Map, Value, json};

use crate::api::Call;
use crate::error::ApiError;

/// The privileges root has, grouped like the `cap` object of the real answer.
fn root_caps() -> Value {
    let group = |privs: &[&str]| -> Value {
        Value::Object(
            privs
                .iter()
                .map(|p| (p.to_string(), Value::from(1)))
                .collect::<Map<_, _>>(),
        )
    };
    json!({
        "vms": group(&["VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM",
            "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType",
            "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console",
            "VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.PowerMgmt",
            "VM.Snapshot", "VM.Snapshot.Rollback", "Permissions.Modify"]),
        "storage": group(&["Datastore.Allocate", "Datastore.AllocateSpace",
            "Datastore.AllocateTemplate", "Datastore.Audit", "Permissions.Modify"]),
        "nodes": group(&["Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify",
            "Sys.PowerMgmt", "Sys.Syslog", "Permissions.Modify"]),
        "dc": group(&["Sys.Audit", "Sys.Modify", "SDN.Allocate", "SDN.Audit", "SDN.Use"]),
        "access": group(&["Group.Allocate", "Permissions.Modify", "User.Modify"]),
        "sdn": group(&["SDN.Allocate", "SDN.Audit", "SDN.Use", "Permissions.Modify"]),
        "mapping": group(&["Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify"]),
    })
}

/// Creates (or renews) a ticket.
pub(super) fn create_ticket(call: &Call<'_>) -> Result<Value, ApiError> {
    let st = call.state;
    let now = st.clock.now();
    let username = call.str("username").unwrap_or_default();
    let password = call.str("password").unwrap_or_default();
    let realm = call.str("realm");
    let failure = || ApiError::new(401, "authentication failure\n");
    let userid = st
        .auth
        .login(&username, realm.as_deref(), &password, now)
        .ok_or_else(failure)?;
    if call.str("path").is_some() {
        // Verify mode: privileges are checked, no ticket is issued. root has them all.
        return Ok(json!({ "username": userid }));
    }
    let mut data = json!({
        "username": userid,
        "ticket": st.auth.issue_ticket(&userid, now),
        "CSRFPreventionToken": st.auth.csrf_token(&userid, now),
        "cap": root_caps(),
    });
    if let Some(name) = &st.model().cluster_name {
        data["clustername"] = Value::from(name.clone());
    }
    Ok(data)
}
