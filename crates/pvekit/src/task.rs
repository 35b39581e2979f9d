//! Following worker tasks (UPIDs) to their end.

use std::time::Duration;

use pvekit_core::Upid;
use serde::Deserialize;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};

/// Default interval between task status polls.
pub const TASK_POLL_INTERVAL: Duration = Duration::from_millis(300);
/// Default limit on how long a task is followed.
pub const TASK_TIMEOUT: Duration = Duration::from_secs(120);

/// A task's state, from `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// Only when stopped: `OK`, `WARNINGS: n`, or the error text.
    #[serde(default)]
    pub exitstatus: Option<String>,
}

/// One line of `GET /nodes/{node}/tasks/{upid}/log`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct TaskLogLine {
    /// The text.
    pub t: String,
    /// The line number, from 1.
    #[serde(default)]
    pub n: u64,
}

impl TaskStatus {
    /// Whether the task has ended.
    pub fn is_stopped(&self) -> bool {
        self.status == "stopped"
    }

    /// Whether the task ended successfully (`OK` or `WARNINGS: n`, as Proxmox VE counts it).
    pub fn is_ok(&self) -> bool {
        self.is_stopped()
            && self
                .exitstatus
                .as_deref()
                .is_some_and(|s| s == "OK" || s.starts_with("WARNINGS: "))
    }
}

/// One poll of a running task, as reported to a progress callback.
#[derive(Debug)]
pub struct TaskProgress<'a> {
    /// The task's state.
    pub status: &'a TaskStatus,
    /// Time since following began.
    pub elapsed: Duration,
    /// The latest non-empty line of the task log.
    pub last_line: Option<String>,
}

/// A worker task on a node.
#[derive(Debug, Clone)]
pub struct Task {
    client: Client,
    upid: Upid,
}

impl Task {
    /// Wraps a UPID returned by an action.
    pub fn new(client: Client, upid: Upid) -> Self {
        Task { client, upid }
    }

    /// The task id.
    pub fn upid(&self) -> &Upid {
        &self.upid
    }

    fn path(&self, leaf: &str) -> String {
        pvekit_core::path::api_path([
            "nodes",
            &self.upid.node,
            "tasks",
            &self.upid.to_string(),
            leaf,
        ])
    }

    /// The task's current state.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn status(&self) -> Result<TaskStatus> {
        self.client.get(&self.path("status")).await
    }

    /// The task's log lines (all of them).
    ///
    /// # Errors
    /// As [`Client::get`].
    pub async fn log(&self) -> Result<Vec<String>> {
        let lines: Vec<TaskLogLine> = self
            .client
            .get_with(&self.path("log"), &[("limit", "0".to_string())])
            .await?;
        Ok(lines.into_iter().map(|l| l.t).collect())
    }

    /// Polls until the task stops, at most until `deadline`.
    ///
    /// # Errors
    /// [`Error::TaskFailed`] with the task's own error text; [`Error::Timeout`] when the
    /// deadline passes first; transport errors of the polls.
    pub async fn wait(&self, poll: Duration, deadline: Instant) -> Result<TaskStatus> {
        self.wait_with(poll, deadline, None).await
    }

    /// Like [`Task::wait`], reporting each poll (with the task's latest log line) to
    /// `progress`, for spinners and progress displays.
    ///
    /// # Errors
    /// As [`Task::wait`].
    pub async fn wait_with(
        &self,
        poll: Duration,
        deadline: Instant,
        mut progress: Option<&mut (dyn FnMut(&TaskProgress) + Send)>,
    ) -> Result<TaskStatus> {
        let started = Instant::now();
        loop {
            let status = self.status().await?;
            if status.is_stopped() {
                return if status.is_ok() {
                    Ok(status)
                } else {
                    Err(Error::TaskFailed {
                        upid: self.upid.to_string(),
                        message: status
                            .exitstatus
                            .unwrap_or_else(|| "unexpected status".into()),
                    })
                };
            }
            if let Some(report) = progress.as_deref_mut() {
                // The log is read only for someone who shows it; "no content" is an empty log.
                let last_line = self.log().await.ok().and_then(|lines| {
                    lines
                        .into_iter()
                        .rev()
                        .find(|l| !l.trim().is_empty() && l != "no content")
                });
                report(&TaskProgress {
                    status: &status,
                    elapsed: started.elapsed(),
                    last_line,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: format!("task {}", self.upid),
                    after: now - started,
                });
            }
            // A zero poll would spin; a deadline close by is still honoured.
            tokio::time::sleep(poll.max(crate::MIN_INTERVAL).min(deadline - now)).await;
        }
    }
}
