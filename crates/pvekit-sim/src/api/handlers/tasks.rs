//! GET /nodes/{node}/tasks/{upid}/status and /log (pve-manager PVE/API2/Tasks.pm).
//!
//! Task logs live on the node that ran the task (`/var/log/pve/tasks` is not shared), and the
//! call is proxied to the node in the path: asking another node for a task finds no log there.

use pvekit_core::Upid;
use serde_json::{Value, json};

use super::Reply;
use crate::api::Call;
use crate::error::ApiError;
use crate::model::tasks::Task;

/// The UPID parameter, decoded; 400 `errors.upid` when malformed. The server decodes it with
/// `PVE::Tools::upid_decode($upid, 1)` (pve-common `PVE::UPID::decode`, whose pattern refuses a
/// `/` or white space in the type, id and user), hence the strict parse; pve-manager's Tasks.pm
/// then raises `{ upid => "unable to parse worker upid" }`.
fn upid(call: &Call<'_>) -> Result<(String, Upid), ApiError> {
    let text = call.str("upid").unwrap_or_default();
    let parsed = Upid::parse_strict(&text)
        .map_err(|_| ApiError::param("upid", "unable to parse worker upid"))?;
    Ok((text, parsed))
}

/// Owners read their tasks (a user also those of its tokens, a token only its own); anyone
/// else needs Sys.Audit on the node (pve-manager Tasks.pm).
fn check_access(call: &Call<'_>, upid: &Upid) -> Result<(), ApiError> {
    let me = call.auth_id();
    let owner = me == upid.user
        || upid
            .user
            .split_once('!')
            .is_some_and(|(user, _)| me == user);
    let node = call.node()?;
    let path = format!("/nodes/{node}");
    if owner || call.can(&path, "Sys.Audit") {
        Ok(())
    } else {
        Err(ApiError::permission(&format!("{path}, Sys.Audit")))
    }
}

/// The task with that exact UPID whose log is on `node`.
fn find<'a>(tasks: &'a crate::model::tasks::Tasks, text: &str, node: &str) -> Option<&'a Task> {
    tasks.get(text).filter(|t| t.upid.node == node)
}

/// Task status: the decoded UPID, `status` and, once stopped, `exitstatus`.
pub(crate) fn status(call: &Call<'_>) -> Result<Value, ApiError> {
    // Proxied to the node first; the handler there decodes the UPID.
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let (text, upid) = upid(call)?;
    let task = find(&model.tasks, &text, &node.name)
        .ok_or_else(|| ApiError::param("upid", "no such task"))?;
    check_access(call, &upid)?;
    let mut out = json!({
        "upid": text,
        "node": upid.node,
        "pid": upid.pid,
        "pstart": upid.pstart,
        "starttime": upid.starttime,
        "type": upid.worker_type,
        "id": upid.id,
        "user": upid.user,
        "status": if task.finished { "stopped" } else { "running" },
    });
    // A token's task: `user` is the owner, `tokenid` the token name only.
    if let Some((user, token)) = upid.user.split_once('!') {
        out["user"] = Value::from(user);
        out["tokenid"] = Value::from(token);
    }
    if let Some(exit) = task.exitstatus() {
        out["exitstatus"] = Value::from(exit);
    }
    Ok(out)
}

/// Task log lines `{n, t}` from `start`, at most `limit` (0 = all), with `total`.
pub(crate) fn log(call: &Call<'_>) -> Result<Reply, ApiError> {
    // Proxied to the node first; the handler there decodes the UPID and checks the owner.
    call.state
        .model()
        .reachable_node(call.local, &call.node()?)?;
    let (text, parsed) = upid(call)?;
    check_access(call, &parsed)?;
    if call.flag("download") {
        if call.params.contains_key("start") || call.params.contains_key("limit") {
            return Err(ApiError::new(
                500,
                "'download' cannot be used together with 'start' or 'limit' parameters\n",
            ));
        }
        // The raw file download (text/plain) is not simulated.
        return Err(ApiError::not_implemented(
            "GET",
            "/nodes/{node}/tasks/{upid}/log?download=1",
        ));
    }
    let now_ms = call.state.clock.now_ms();
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let lines = match find(&model.tasks, &text, &node.name) {
        Some(t) => t.log(now_ms),
        // dump_logfile cannot open the file: one line saying so, total 1.
        None => {
            return Ok(Reply {
                data: json!([{"n": 1, "t": "unable to open file - No such file or directory"}]),
                total: Some(1),
            });
        }
    };
    let lines = if lines.is_empty() {
        vec!["no content".to_string()]
    } else {
        lines
    };
    let start = call.uint("start").unwrap_or(0) as usize;
    let limit = call.uint("limit").unwrap_or(50) as usize;
    let take = if limit == 0 { usize::MAX } else { limit };
    let data = lines
        .iter()
        .enumerate()
        .skip(start)
        .take(take)
        .map(|(i, t)| json!({"n": i + 1, "t": t}))
        .collect();
    Ok(Reply {
        data: Value::Array(data),
        total: Some(lines.len() as u64),
    })
}
