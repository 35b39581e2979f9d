//! Power actions through pvekit's own API: the action is sent, then followed by the server
//! (whether or not anyone watches) to the task's end and the guest's new state; its
//! progress is a server-sent-event stream any number of clients can read, late ones
//! included.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};
use pvekit::types::GuestKind;
use pvekit::{Action, WaitOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};

use crate::api::S;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult, Path};

/// Most task lines kept per followed action.
pub const MAX_TASK_LINES: usize = 500;
/// Most followed actions remembered; the oldest finished ones go first.
pub const MAX_TASKS: usize = 1000;
/// How long a finished action's progress stays readable.
pub const TASK_RETENTION: Duration = Duration::from_secs(15 * 60);

/// An action's progress as the server follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskView {
    /// The task's state (`running`, `stopped`).
    pub status: String,
    /// Task log lines seen so far (the last [`MAX_TASK_LINES`]).
    pub lines: Vec<String>,
    /// Lines dropped from the front to keep the cap.
    pub dropped: usize,
    /// Set when done: whether it worked, and the task's exit status or error text.
    pub done: Option<(bool, String)>,
}

struct Followed {
    view: watch::Receiver<TaskView>,
    started: Instant,
}

/// The actions the server follows, by UPID.
#[derive(Default)]
pub struct Tasks {
    map: Mutex<HashMap<String, Followed>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").finish_non_exhaustive()
    }
}

impl Tasks {
    fn insert(&self, upid: String, view: watch::Receiver<TaskView>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, f| f.view.borrow().done.is_none() || f.started.elapsed() < TASK_RETENTION);
        while map.len() >= MAX_TASKS {
            let oldest = map
                .iter()
                .min_by_key(|(_, f)| (f.view.borrow().done.is_none(), f.started))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => break,
            }
        }
        map.insert(
            upid,
            Followed {
                view,
                started: Instant::now(),
            },
        );
    }

    fn get(&self, upid: &str) -> Option<watch::Receiver<TaskView>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(upid).map(|f| f.view.clone())
    }
}

/// A guest and an action in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ActionPath {
    /// The cluster's name.
    cluster: String,
    /// `lxc` or `qemu`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: String,
    /// Guest id.
    vmid: u64,
    /// `start`, `stop`, `shutdown`, `reboot`, `suspend` or `resume`.
    action: String,
}

/// The answer to a power action.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionStarted {
    /// The task's UPID.
    pub upid: String,
    /// The cluster.
    pub cluster: String,
    /// The node the task runs on.
    pub node: String,
    /// The action.
    pub action: String,
    /// The URL of the task's progress (server-sent events).
    pub events: String,
}

fn parse_action(s: &str) -> ApiResult<Action> {
    Ok(match s {
        "start" => Action::Start,
        "stop" => Action::Stop,
        "shutdown" => Action::Shutdown,
        "reboot" => Action::Reboot,
        "suspend" => Action::Suspend,
        "resume" => Action::Resume,
        other => {
            return Err(ApiError::invalid(format!(
                "unknown action '{other}': use start, stop, shutdown, reboot, suspend or resume"
            )));
        }
    })
}

/// The events URL of a task.
fn events_url(cluster: &str, upid: &str) -> String {
    format!(
        "/api/v1/tasks/{}/{}/events",
        percent_encode(cluster),
        percent_encode(upid)
    )
}

fn percent_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Starts a power action on a guest and follows it; 202 with the task and its events URL.
#[utoipa::path(post, path = "/api/v1/guests/{cluster}/{type}/{vmid}/{action}", tag = "actions",
    params(ActionPath),
    responses(
        (status = 202, body = ActionStarted),
        (status = 403, description = "needs the operator role"),
        (status = 404, description = "no such guest"),
    ))]
pub(crate) async fn act(
    State(state): State<S>,
    Extension(caller): Extension<Caller>,
    Path(p): Path<ActionPath>,
) -> ApiResult<Response> {
    caller.require(Role::Operator)?;
    let kind: GuestKind = p
        .kind
        .parse()
        .map_err(|_| ApiError::invalid(format!("type must be lxc or qemu, not '{}'", p.kind)))?;
    let action = parse_action(&p.action)?;
    let found = state.guest(&p.cluster, kind, p.vmid)?;
    let guest = found.handle();
    let task = match guest.begin(action).await {
        Ok(t) => t,
        Err(e) => {
            state.telemetry.action(action.as_str(), "error");
            return Err(ApiError::upstream(&e));
        }
    };
    let upid = task.upid().to_string();
    tracing::info!(caller = %caller.name, cluster = %found.cluster.name, %kind, vmid = p.vmid, action = action.as_str(), "power action");
    let (tx, rx) = watch::channel(TaskView {
        status: "running".into(),
        ..Default::default()
    });
    state.tasks.insert(upid.clone(), rx);
    let follower_state = state.clone();
    tokio::spawn(async move {
        let progress = task
            .options(WaitOptions {
                log: true,
                ..Default::default()
            })
            .progress();
        futures_util::pin_mut!(progress);
        let mut result = (true, "OK".to_string());
        while let Some(p) = progress.next().await {
            match p {
                Ok(p) => {
                    tx.send_modify(|v| {
                        v.status = p.status.status.to_string();
                        if let Some(line) = p.last_line
                            && v.lines.last() != Some(&line)
                        {
                            v.lines.push(line);
                            if v.lines.len() > MAX_TASK_LINES {
                                v.lines.remove(0);
                                v.dropped += 1;
                            }
                        }
                    });
                }
                Err(e) => {
                    result = match &e {
                        pvekit::Error::TaskFailed { message, .. } => (false, message.clone()),
                        other => (false, other.to_string()),
                    };
                    break;
                }
            }
        }
        let outcome = if result.0 {
            "ok"
        } else if result.1.is_empty() {
            "error"
        } else {
            "failed"
        };
        follower_state.telemetry.action(action.as_str(), outcome);
        tx.send_modify(|v| {
            v.status = "stopped".into();
            v.done = Some(result);
        });
    });
    let body = ActionStarted {
        events: events_url(&found.cluster.name, &upid),
        upid,
        cluster: found.cluster.name.clone(),
        node: found.resource.node().to_string(),
        action: action.as_str().to_string(),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// A task in a path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TaskPath {
    /// The cluster's name.
    cluster: String,
    /// The task's UPID.
    upid: String,
}

/// The SSE events of a task view: `progress` with the new lines and the status on each
/// change, then `done` with `ok` and the exit status (the task's own error text).
fn view_events(rx: watch::Receiver<TaskView>) -> impl Stream<Item = Event> {
    struct Reading {
        rx: watch::Receiver<TaskView>,
        first: bool,
        /// Lines sent so far (counting dropped ones).
        sent: usize,
        finished: bool,
    }
    let start = Reading {
        rx,
        first: true,
        sent: 0,
        finished: false,
    };
    futures_util::stream::unfold(start, |mut r| async move {
        if r.finished {
            return None;
        }
        if !r.first && r.rx.changed().await.is_err() {
            return None;
        }
        r.first = false;
        let view = r.rx.borrow_and_update().clone();
        let skip = r.sent.saturating_sub(view.dropped);
        let new: Vec<&String> = view.lines.iter().skip(skip).collect();
        r.sent = view.dropped + view.lines.len();
        let event = match &view.done {
            Some((ok, exit)) => Event::default()
                .event("done")
                .data(json!({"ok": ok, "exitstatus": exit, "lines": new}).to_string()),
            None => Event::default()
                .event("progress")
                .data(json!({"status": view.status, "lines": new}).to_string()),
        };
        r.finished = view.done.is_some();
        Some((event, r))
    })
}

/// A task's progress as server-sent events: `progress` (`{status, lines}`) on each change,
/// then `done` (`{ok, exitstatus, lines}`, `exitstatus` being `OK` or the task's error
/// text), then the stream ends.
#[utoipa::path(get, path = "/api/v1/tasks/{cluster}/{upid}/events", tag = "actions",
    params(TaskPath),
    responses((status = 200, description = "text/event-stream"), (status = 404, description = "the server does not follow this task")))]
pub(crate) async fn task_events(
    State(state): State<S>,
    Path(p): Path<TaskPath>,
) -> ApiResult<Response> {
    state.cluster(&p.cluster)?;
    let Some(rx) = state.tasks.get(&p.upid) else {
        return Err(ApiError::not_found(
            "task not found",
            "this server started no such task (or forgot it after 15 minutes)",
        ));
    };
    let open = state.telemetry.sse();
    let shutdown = state.shutdown.clone();
    let stream = view_events(rx)
        .map(move |e| {
            let _ = &open;
            Ok::<_, Infallible>(e)
        })
        .take_until(shutdown.cancelled_owned());
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
