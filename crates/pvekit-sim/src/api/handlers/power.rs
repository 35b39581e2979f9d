//! POST /nodes/{node}/{lxc,qemu}/{vmid}/status/{start,stop,shutdown,suspend,resume,reboot}:
//! checks, then a task whose UPID is the answer.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::Call;
use crate::error::ApiError;
use crate::model::power::{self, Action, ActionParams};
use pvekit_core::types::GuestKind;

/// The user that may use root-only options.
const ROOT: &str = "root@pam";

/// Runs a power action and answers its UPID.
pub(crate) fn action(call: &Call<'_>, kind: GuestKind, action: Action) -> Result<Value, ApiError> {
    // Root-only options are refused before anything else (a token is not root@pam).
    if call.auth_id() != ROOT
        && let Some(p) = action
            .root_only_params(kind)
            .iter()
            .find(|p| call.params.contains_key(**p) && is_set(call.params.get(**p)))
    {
        return Err(ApiError::params(BTreeMap::from([(
            (*p).to_string(),
            "Only root may use this option.".to_string(),
        )])));
    }
    let params = ActionParams {
        skiplock: call.flag("skiplock"),
        timeout: call.uint("timeout"),
        force_stop: call.flag("forceStop"),
        todisk: call.flag("todisk"),
    };
    let now_ms = call.state.clock.now_ms();
    let node = call.node()?;
    let vmid = call.vmid()?;
    let mut model = call.state.model_mut();
    let node = model.reachable_node(call.local, &node)?.name.clone();
    let g = model.guest_on(&node, vmid, kind)?;
    if kind == GuestKind::Qemu && action == Action::Suspend && params.todisk && g.running {
        check_suspend_to_disk(call, vmid, g)?;
    }
    let duration_ms = g
        .task_secs
        .map(|s| (s * 1000.0).round() as i64)
        .unwrap_or_else(|| call.state.task_ms());
    let plan = power::plan(g, action, &params, duration_ms)?;
    let upid = model.start_task(&node, vmid, plan, call.auth_id(), now_ms);
    Ok(Value::from(upid))
}

/// Suspending a running VM to disk also needs VM.Config.Disk on it and
/// Datastore.AllocateSpace on the storage for the state (`statestorage`, else the storage of
/// its first disk), checked before the task starts (qemu-server `vm_suspend`).
fn check_suspend_to_disk(
    call: &Call<'_>,
    vmid: u32,
    g: &crate::model::Guest,
) -> Result<(), ApiError> {
    let vm = format!("/vms/{vmid}");
    if !call.can(&vm, "VM.Config.Disk") {
        return Err(ApiError::permission(&format!("{vm}, VM.Config.Disk")));
    }
    let storage = call.str("statestorage").unwrap_or_else(|| {
        ["scsi0", "virtio0", "sata0", "ide0"]
            .iter()
            .find_map(|k| g.config.get(*k))
            .and_then(|d| d.split([',', ':']).next().map(str::to_string))
            .unwrap_or_else(|| "local".into())
    });
    let path = format!("/storage/{storage}");
    if !call.can(&path, "Datastore.AllocateSpace") {
        return Err(ApiError::permission(&format!(
            "{path}, Datastore.AllocateSpace"
        )));
    }
    Ok(())
}

/// Perl truth of a parameter value: Perl only checks `if $value`.
fn is_set(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(_) => true,
    }
}
