//! Worker tasks: UPIDs, task status and task logs.
//!
//! An async action (start, stop, ...) creates a [`Task`] whose whole course is planned up front:
//! its log lines with their time offsets, its end time, its outcome and the [`Effect`] it has on
//! its guest. Nothing runs in the background: [`Model::settle`](super::Model::settle) finishes
//! every task whose end the simulator clock has passed (in end order), applies its effect and
//! appends the final `TASK OK` / `TASK ERROR: ...` line. Every request settles first, so a task
//! reported `stopped` has always changed its guest already, and
//! [`RunningSim::advance_clock`](crate::RunningSim::advance_clock) finishes tasks too.

use std::collections::{HashMap, VecDeque};

use pvekit_core::Upid;

use super::counters::mix;

/// At most this many tasks are kept; the oldest finished ones are forgotten first (a real node
/// rotates its task index too).
const MAX_TASKS: usize = 50_000;

/// What a successful task does to its guest when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Nothing (the guest already is in the wanted state).
    None,
    /// Starts the guest (fresh uptime, counters and PID; clears a checkpoint or a
    /// `suspended` lock).
    Start,
    /// Stops the guest.
    Stop,
    /// LXC suspend: `lxc-checkpoint -s` dumps the container and stops it.
    Checkpoint,
    /// QEMU suspend to disk: the VM stops with a `suspended` lock.
    Hibernate,
    /// QEMU pause: still running, `qmpstatus: paused`.
    Pause,
    /// QEMU resume from pause.
    Unpause,
    /// Reboot: still running, with a fresh uptime, counters and PID.
    Restart,
}

/// One task, planned up front.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub upid: Upid,
    /// The encoded UPID (the key clients use).
    pub text: String,
    pub vmid: u32,
    /// Simulator clock, unix milliseconds.
    pub started_ms: i64,
    pub end_ms: i64,
    /// Log lines (without the final TASK line) with their offsets from the start, in ms.
    pub lines: Vec<(i64, String)>,
    /// `Err(text)` ends the task with `TASK ERROR: text` and no effect.
    pub result: Result<(), String>,
    pub effect: Effect,
    /// Set by settling, together with the effect.
    pub finished: bool,
}

impl Task {
    /// The log as it reads at `now_ms`: lines printed so far, plus the TASK line once finished.
    pub fn log(&self, now_ms: i64) -> Vec<String> {
        let elapsed = now_ms - self.started_ms;
        let mut out: Vec<String> = self
            .lines
            .iter()
            .filter(|(at, _)| self.finished || *at <= elapsed)
            .map(|(_, l)| l.clone())
            .collect();
        if self.finished {
            out.push(match &self.result {
                Ok(()) => "TASK OK".to_string(),
                Err(e) => format!("TASK ERROR: {e}"),
            });
        }
        out
    }

    /// `OK` or the error text once finished; `None` while running.
    pub fn exitstatus(&self) -> Option<String> {
        self.finished.then(|| match &self.result {
            Ok(()) => "OK".to_string(),
            Err(e) => e.clone(),
        })
    }
}

/// All tasks of the cluster, by UPID, plus the PID counters of the nodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tasks {
    by_upid: HashMap<String, Task>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<String>,
    /// Unfinished tasks.
    pending: Vec<String>,
    /// Last PID handed out per node.
    last_pid: HashMap<String, u32>,
}

impl Tasks {
    /// A fresh PID on a node: increasing, with small gaps, like a busy host's.
    pub fn alloc_pid(&mut self, node: &str, seed: u64) -> u32 {
        let last = self
            .last_pid
            .entry(node.to_string())
            .or_insert_with(|| 200_000 + (mix(seed ^ 0x91d) % 600_000) as u32);
        *last += 1 + (mix(seed ^ u64::from(*last)) % 37) as u32;
        if *last >= 4_194_304 {
            *last = 1000;
        }
        *last
    }

    /// Adds a task.
    pub fn insert(&mut self, t: Task) {
        if self.by_upid.len() >= MAX_TASKS
            && let Some(pos) = self
                .order
                .iter()
                .position(|u| self.by_upid.get(u).is_none_or(|t| t.finished))
            && let Some(old) = self.order.remove(pos)
        {
            self.by_upid.remove(&old);
        }
        self.order.push_back(t.text.clone());
        if !t.finished {
            self.pending.push(t.text.clone());
        }
        self.by_upid.insert(t.text.clone(), t);
    }

    /// A task by its exact UPID text.
    pub fn get(&self, upid: &str) -> Option<&Task> {
        self.by_upid.get(upid)
    }

    pub fn get_mut(&mut self, upid: &str) -> Option<&mut Task> {
        self.by_upid.get_mut(upid)
    }

    /// Ends an open-ended task (a terminal session) at `now_ms` with `result`; the next settle
    /// finishes it.
    pub fn end_open(&mut self, upid: &str, now_ms: i64, result: Result<(), String>) {
        if let Some(t) = self.by_upid.get_mut(upid)
            && !t.finished
        {
            t.end_ms = now_ms.max(t.started_ms);
            t.result = result;
        }
    }

    /// The unfinished tasks.
    pub fn pending(&self) -> impl Iterator<Item = &Task> {
        self.pending.iter().filter_map(|u| self.by_upid.get(u))
    }

    /// Whether some unfinished task has reached its end.
    pub fn has_due(&self, now_ms: i64) -> bool {
        self.pending
            .iter()
            .any(|u| self.by_upid.get(u).is_none_or(|t| t.end_ms <= now_ms))
    }

    /// Removes the due tasks from the pending list and returns them in end order.
    pub fn take_due(&mut self, now_ms: i64) -> Vec<String> {
        let mut due: Vec<(i64, String)> = Vec::new();
        let by_upid = &self.by_upid;
        self.pending.retain(|u| match by_upid.get(u) {
            Some(t) if t.end_ms <= now_ms => {
                due.push((t.end_ms, u.clone()));
                false
            }
            Some(_) => true,
            None => false,
        });
        due.sort();
        due.into_iter().map(|(_, u)| u).collect()
    }
}
