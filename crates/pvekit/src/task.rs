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

/// One poll of a task, as a progress stream yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskProgress {
    /// The task's state.
    pub status: TaskStatus,
    /// Time since following began.
    pub elapsed: Duration,
    /// The latest non-empty line of the task log, when [`WaitOptions::log`] asks for it.
    pub last_line: Option<String>,
}

/// How a task (or a power action) is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Interval between polls (default 300 ms; at least [`crate::MIN_INTERVAL`]).
    pub poll: Duration,
    /// Give up after this long (default 2 minutes); the task itself goes on.
    pub timeout: Duration,
    /// Read the task log's latest line with each poll, for progress displays (one more
    /// request per poll; default no).
    pub log: bool,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll: TASK_POLL_INTERVAL,
            timeout: TASK_TIMEOUT,
            log: false,
        }
    }
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

    /// Follows the task: one [`TaskProgress`] per poll while it runs, and one when it
    /// has stopped successfully; then the stream ends. A failed task yields
    /// [`Error::TaskFailed`] with its own error text, a task still running after
    /// `options.timeout` yields [`Error::Timeout`]; either ends the stream.
    pub fn progress(
        &self,
        options: WaitOptions,
    ) -> impl futures_util::Stream<Item = Result<TaskProgress>> + Send + use<> {
        let task = self.clone();
        let started = Instant::now();
        let deadline = started + options.timeout;
        futures_util::stream::unfold(Some(true), move |first| {
            let task = task.clone();
            async move {
                let first = first?;
                if !first {
                    let now = Instant::now();
                    // A zero poll would spin; a deadline close by is still honoured.
                    let wait = options
                        .poll
                        .max(crate::MIN_INTERVAL)
                        .min(deadline.saturating_duration_since(now));
                    tokio::time::sleep(wait).await;
                }
                let item = task.poll_once(options, started, deadline).await;
                let more = matches!(&item, Ok(p) if !p.status.is_stopped());
                Some((item, more.then_some(false)))
            }
        })
    }

    async fn poll_once(
        &self,
        options: WaitOptions,
        started: Instant,
        deadline: Instant,
    ) -> Result<TaskProgress> {
        let status = self.status().await?;
        if status.is_stopped() && !status.is_ok() {
            return Err(Error::TaskFailed {
                upid: self.upid.to_string(),
                message: status
                    .exitstatus
                    .clone()
                    .unwrap_or_else(|| "unexpected status".into()),
            });
        }
        if !status.is_stopped() && Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: format!("task {}", self.upid),
                after: started.elapsed(),
            });
        }
        let last_line = if options.log {
            // "no content" is what an empty log reads.
            self.log().await.ok().and_then(|lines| {
                lines
                    .into_iter()
                    .rev()
                    .find(|l| !l.trim().is_empty() && l != "no content")
            })
        } else {
            None
        };
        Ok(TaskProgress {
            status,
            elapsed: started.elapsed(),
            last_line,
        })
    }

    /// Waits until the task stops: its final status when it ended well.
    ///
    /// # Errors
    /// As [`Task::progress`]; transport errors of the polls.
    pub async fn wait(&self, options: WaitOptions) -> Result<TaskStatus> {
        use futures_util::StreamExt;
        let progress = self.progress(options);
        futures_util::pin_mut!(progress);
        let mut last = None;
        while let Some(p) = progress.next().await {
            last = Some(p?.status);
        }
        last.ok_or_else(|| Error::TaskFailed {
            upid: self.upid.to_string(),
            message: "no status was read".into(),
        })
    }
}
