//! termproxy, vncwebsocket (the REST side; the websocket itself is in [`crate::term`]) and
//! the node journal.

use serde_json::{Value, json};

use super::super::{Call, Identity};
use crate::error::ApiError;
use crate::term::Target;
use crate::term::journal::{self, Source};
use pvekit_core::types::GuestKind;

/// POST /nodes/{node}/termproxy: root@pam with a ticket gets `login -f root` (or the
/// `upgrade`/`ceph_install` command), every other identity, tokens included, `/bin/login`.
pub(crate) fn node_termproxy(call: &Call<'_>) -> Result<Value, ApiError> {
    let node = call.node()?;
    call.state.model().reachable_node(call.local, &node)?;
    let root_shell = call.identity == Identity::User("root@pam".into());
    let cmd = call.str("cmd").unwrap_or_else(|| "login".into());
    call.state.terminals.open(
        call.state,
        &node,
        Target::Node { root_shell, cmd },
        call.auth_id(),
        format!("/nodes/{node}"),
    )
}

/// POST /nodes/{node}/lxc/{vmid}/termproxy: the container's console.
pub(crate) fn lxc_termproxy(call: &Call<'_>) -> Result<Value, ApiError> {
    let node = call.node()?;
    let vmid = call.vmid()?;
    {
        let model = call.state.model();
        model.reachable_node(call.local, &node)?;
        model.guest_on(&node, vmid, GuestKind::Lxc)?;
    }
    call.state.terminals.open(
        call.state,
        &node,
        Target::Ct { vmid },
        call.auth_id(),
        format!("/vms/{vmid}"),
    )
}

/// GET .../vncwebsocket: checks the VNC ticket for (caller, path, port) and answers
/// `{port}`; with an `Upgrade: websocket` request the caller then switches protocols.
pub(crate) fn vncwebsocket(call: &Call<'_>, kind: Option<GuestKind>) -> Result<Value, ApiError> {
    let node = call.node()?;
    let path = match kind {
        None => {
            call.state.model().reachable_node(call.local, &node)?;
            format!("/nodes/{node}")
        }
        Some(k) => {
            let vmid = call.vmid()?;
            let model = call.state.model();
            model.reachable_node(call.local, &node)?;
            model.guest_on(&node, vmid, k)?;
            format!("/vms/{vmid}")
        }
    };
    let port = call
        .uint("port")
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| ApiError::param("port", "property is missing and it is not optional"))?;
    let ticket = call.str("vncticket").unwrap_or_default();
    let now = call.state.clock.now();
    if !call
        .state
        .auth
        .verify_vnc_ticket(&ticket, call.auth_id(), &path, port, now)
    {
        return Err(ApiError::new(
            401,
            "permission denied - invalid PVEVNC ticket\n",
        ));
    }
    // A string, as pve-manager answers it (see crate::term::Terminals::open).
    Ok(json!({"port": port.to_string()}))
}

/// GET /nodes/{node}/journal (pve-manager Nodes.pm; not in the schema subset): the node's
/// synthetic journal as mini-journalreader prints it, the first and last lines being the
/// cursors of the first and last entry.
pub(crate) fn journal(call: &Call<'_>) -> Result<Value, ApiError> {
    let node = call.node()?;
    let seed = call.state.model().reachable_node(call.local, &node)?.seed;
    // pve-manager passes each bound to mini-journalreader only when it is true in Perl, so
    // 0 is the same as absent; values beyond i64 saturate (past every entry).
    let num = |k: &str| {
        call.uint(k)
            .filter(|&v| v > 0)
            .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
    };
    let cursor = |k: &str| -> Result<Option<i64>, ApiError> {
        match call.str(k) {
            // Also passed on only when true in Perl.
            None => Ok(None),
            Some(c) if c.is_empty() || c == "0" => Ok(None),
            Some(c) => journal::cursor_index(&c).map(Some).ok_or_else(|| {
                ApiError::new(
                    500,
                    "command '/usr/bin/mini-journalreader' failed: exit code 1\n",
                )
            }),
        }
    };
    let src = Source::node(&node, seed, call.state.terminals.journal_begin_ms);
    let lines = src.rest(
        call.state.clock.now_ms(),
        num("since"),
        num("until"),
        call.uint("lastentries")
            .filter(|&v| v > 0)
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX)),
        cursor("startcursor")?,
        cursor("endcursor")?,
    );
    Ok(Value::from(lines))
}
