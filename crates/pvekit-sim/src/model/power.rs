//! Guest power actions (start, stop, shutdown, suspend, resume, reboot) as the real handlers run
//! them: the checks made before the worker is forked fail at once with a 500, the checks made
//! inside the worker end the task with `TASK ERROR: ...`.
//!
//! Sources: pve-container src/PVE/API2/LXC/Status.pm and src/PVE/LXC.pm (`vm_stop`,
//! `vm_reboot`); qemu-server src/PVE/API2/Qemu.pm, src/PVE/QemuServer.pm (`vm_start`,
//! `_do_vm_stop`, `vm_reboot`) and src/PVE/QemuServer/RunState.pm (`vm_suspend`, `vm_resume`);
//! pve-guest-common src/PVE/AbstractConfig.pm (`check_lock`).

use super::tasks::Effect;
use pvekit_core::types::GuestKind;

use super::Guest;
use crate::error::ApiError;

/// A power action of `POST .../status/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Stop,
    Shutdown,
    Suspend,
    Resume,
    Reboot,
}

impl Action {
    /// The worker type written into the UPID.
    pub fn worker(self, kind: GuestKind, todisk: bool) -> &'static str {
        match (kind, self) {
            (GuestKind::Lxc, Action::Start) => "vzstart",
            (GuestKind::Lxc, Action::Stop) => "vzstop",
            (GuestKind::Lxc, Action::Shutdown) => "vzshutdown",
            (GuestKind::Lxc, Action::Suspend) => "vzsuspend",
            (GuestKind::Lxc, Action::Resume) => "vzresume",
            (GuestKind::Lxc, Action::Reboot) => "vzreboot",
            (GuestKind::Qemu, Action::Start) => "qmstart",
            (GuestKind::Qemu, Action::Stop) => "qmstop",
            (GuestKind::Qemu, Action::Shutdown) => "qmshutdown",
            (GuestKind::Qemu, Action::Suspend) if todisk => "qmsuspend",
            (GuestKind::Qemu, Action::Suspend) => "qmpause",
            (GuestKind::Qemu, Action::Resume) => "qmresume",
            (GuestKind::Qemu, Action::Reboot) => "qmreboot",
        }
    }

    /// Parameters only `root@pam` may set (in the order the handler checks them); anyone else
    /// gets 400 "Only root may use this option.".
    pub fn root_only_params(self, kind: GuestKind) -> &'static [&'static str] {
        match (kind, self) {
            (GuestKind::Lxc, Action::Start | Action::Stop) => &["skiplock"],
            (GuestKind::Lxc, _) => &[],
            (GuestKind::Qemu, Action::Start) => &[
                "stateuri",
                "skiplock",
                "migratedfrom",
                "migration_type",
                "migration_network",
                "targetstorage",
                "force-cpu",
                "with-conntrack-state",
                "nets-host-mtu",
            ],
            (GuestKind::Qemu, Action::Stop) => &["skiplock", "keepActive", "migratedfrom"],
            (GuestKind::Qemu, Action::Shutdown) => &["skiplock", "keepActive"],
            (GuestKind::Qemu, Action::Suspend) => &["skiplock"],
            (GuestKind::Qemu, Action::Resume) => &["skiplock", "nocheck"],
            (GuestKind::Qemu, Action::Reboot) => &[],
        }
    }
}

/// The call parameters that change an action's course.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ActionParams {
    pub skiplock: bool,
    /// Shutdown/reboot: seconds to wait for the guest.
    pub timeout: Option<u64>,
    pub force_stop: bool,
    /// QEMU suspend to disk.
    pub todisk: bool,
}

/// The planned course of a task.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub worker: &'static str,
    pub duration_ms: i64,
    /// Log lines (without the final TASK line) with their offsets in ms.
    pub lines: Vec<(i64, String)>,
    pub result: Result<(), String>,
    pub effect: Effect,
}

/// Default shutdown timeout of both `lxc-stop` and QEMU's `_do_vm_stop`, seconds.
const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 60;

fn immediate(msg: String) -> ApiError {
    ApiError::new(500, format!("{msg}\n"))
}

/// The `down=` of a guest's `startup` option, which QEMU uses as its shutdown timeout.
fn startup_down(g: &Guest) -> Option<u64> {
    g.config
        .get("startup")?
        .split(',')
        .find_map(|kv| kv.strip_prefix("down="))?
        .parse()
        .ok()
}

/// Plans `action` on `g`; `duration_ms` is how long the work takes on this guest.
///
/// # Errors
/// The immediate 500 the real handler answers before forking a worker.
pub(crate) fn plan(
    g: &Guest,
    action: Action,
    p: &ActionParams,
    duration_ms: i64,
) -> Result<Plan, ApiError> {
    let vmid = g.vmid;
    let worker = action.worker(g.kind, p.todisk);
    let d = duration_ms.max(0);
    let ok = |effect: Effect| Plan {
        worker,
        duration_ms: d,
        lines: Vec::new(),
        result: Ok(()),
        effect,
    };
    // Checks inside the worker fail within milliseconds.
    let fail_fast = |msg: String| Plan {
        worker,
        duration_ms: 0,
        lines: Vec::new(),
        result: Err(msg),
        effect: Effect::None,
    };
    let noop = || Plan {
        duration_ms: 0,
        ..ok(Effect::None)
    };
    let guest_type = match g.kind {
        GuestKind::Lxc => "CT",
        GuestKind::Qemu => "VM",
    };
    let lock = g.lock.as_deref();
    let locked = |except: &[&str]| {
        lock.filter(|l| !except.contains(l))
            .map(|l| format!("{guest_type} is locked ({l})"))
    };
    let start_failure = |e: &String| {
        let lines = match g.kind {
            GuestKind::Lxc => vec![
                (d, "run_buffer: 571 Script exited with status 1".to_string()),
                (
                    d,
                    format!(
                        "lxc_init: 845 Failed to run lxc.hook.pre-start for container \"{vmid}\""
                    ),
                ),
                (
                    d,
                    format!("__lxc_start: 2034 Failed to initialize container \"{vmid}\""),
                ),
            ],
            GuestKind::Qemu => Vec::new(),
        };
        Plan {
            lines,
            result: Err(e.clone()),
            ..ok(Effect::None)
        }
    };
    let plan = match (g.kind, action) {
        (GuestKind::Lxc, Action::Start) => {
            if g.running {
                return Err(immediate(format!("CT {vmid} already running")));
            }
            if g.template {
                fail_fast("you can't start a CT if it's a template".into())
            } else if let Some(e) = locked(&["mounted"]).filter(|_| !p.skiplock) {
                fail_fast(e)
            } else if let Some(e) = &g.start_error {
                start_failure(e)
            } else {
                ok(Effect::Start)
            }
        }
        (GuestKind::Lxc, Action::Stop) => {
            if !g.running {
                return Err(immediate(format!("CT {vmid} not running")));
            }
            match locked(&["mounted"]).filter(|_| !p.skiplock) {
                Some(e) => fail_fast(e),
                None => ok(Effect::Stop),
            }
        }
        (GuestKind::Lxc, Action::Shutdown) => {
            if !g.running {
                return Err(immediate(format!("CT {vmid} not running")));
            }
            if let Some(e) = locked(&[]) {
                fail_fast(e)
            } else {
                let t = p.timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
                let t_ms = t as i64 * 1000;
                if d <= t_ms {
                    ok(Effect::Stop)
                } else if p.force_stop {
                    // lxc-stop kills the container once the timeout has passed.
                    Plan {
                        duration_ms: t_ms,
                        ..ok(Effect::Stop)
                    }
                } else {
                    Plan {
                        worker,
                        duration_ms: 2 * t_ms + 5000,
                        lines: vec![(
                            t_ms,
                            format!(
                                "command 'lxc-stop -n {vmid} --nokill --timeout {t}' failed: exit code 1"
                            ),
                        )],
                        result: Err("container did not stop".into()),
                        effect: Effect::None,
                    }
                }
            }
        }
        (GuestKind::Lxc, Action::Suspend) => {
            if !g.running {
                return Err(immediate(format!("CT {vmid} not running")));
            }
            match locked(&[]) {
                Some(e) => fail_fast(e),
                None => ok(Effect::Checkpoint),
            }
        }
        (GuestKind::Lxc, Action::Resume) => {
            if g.running {
                return Err(immediate(format!("CT {vmid} already running")));
            }
            if g.checkpoint {
                ok(Effect::Start)
            } else {
                fail_fast(format!(
                    "command 'lxc-checkpoint -n {vmid} -r --foreground -D /var/lib/vz/dump' failed: exit code 1"
                ))
            }
        }
        (GuestKind::Lxc, Action::Reboot) => {
            // Sic: the LXC reboot handler says "VM".
            if !g.running {
                return Err(immediate(format!("VM {vmid} not running")));
            }
            ok(Effect::Restart)
        }
        (GuestKind::Qemu, Action::Start) => {
            let suspended = lock == Some("suspended");
            if g.template {
                fail_fast("you can't start a vm if it's a template".into())
            } else if lock == Some("backup") && g.running {
                // A backup runs: the guest is resumed in its existing QEMU instance.
                ok(Effect::Unpause)
            } else if let Some(e) = locked(&[]).filter(|_| !p.skiplock && !suspended) {
                fail_fast(e)
            } else if g.running {
                fail_fast(format!("VM {vmid} already running"))
            } else if let Some(e) = &g.start_error {
                start_failure(e)
            } else {
                ok(Effect::Start)
            }
        }
        (GuestKind::Qemu, Action::Stop) => {
            if !g.running {
                noop()
            } else if let Some(e) = locked(&[]).filter(|_| !p.skiplock) {
                fail_fast(e)
            } else {
                ok(Effect::Stop)
            }
        }
        (GuestKind::Qemu, Action::Shutdown) => {
            if g.running && g.paused && !p.force_stop {
                return Err(immediate("VM is paused - cannot shutdown".into()));
            }
            if !g.running {
                noop()
            } else if let Some(e) = locked(&[]).filter(|_| !p.skiplock) {
                fail_fast(e)
            } else if g.paused {
                // forceStop on a paused VM: stop instead of shutdown.
                ok(Effect::Stop)
            } else {
                qemu_shutdown(g, p, d, worker, Effect::Stop)
            }
        }
        (GuestKind::Qemu, Action::Reboot) => {
            if g.running && g.paused {
                return Err(immediate("VM is paused - cannot shutdown".into()));
            }
            if !g.running {
                return Err(immediate(format!("VM {vmid} not running")));
            }
            match locked(&[]) {
                Some(e) => fail_fast(e),
                None => qemu_shutdown(
                    g,
                    &ActionParams {
                        force_stop: false,
                        ..*p
                    },
                    d,
                    worker,
                    Effect::Restart,
                ),
            }
        }
        (GuestKind::Qemu, Action::Suspend) => {
            if !g.running {
                return Err(immediate(format!("VM {vmid} not running")));
            }
            let backup = lock == Some("backup");
            if let Some(e) = locked(&[]).filter(|_| !p.skiplock && !backup) {
                fail_fast(e)
            } else if backup && p.todisk {
                fail_fast("cannot suspend to disk during backup".into())
            } else if p.todisk {
                ok(Effect::Hibernate)
            } else {
                ok(Effect::Pause)
            }
        }
        (GuestKind::Qemu, Action::Resume) => {
            let suspended = lock == Some("suspended");
            if !suspended && !g.running {
                return Err(immediate(format!("VM {vmid} not running")));
            }
            if suspended {
                if g.template {
                    fail_fast("you can't start a vm if it's a template".into())
                } else if g.running {
                    fail_fast(format!("VM {vmid} already running"))
                } else {
                    ok(Effect::Start)
                }
            } else if g.template {
                fail_fast(format!("VM {vmid} is a template and cannot be resumed!"))
            } else if !g.paused {
                // "job done, go home"
                noop()
            } else if let Some(e) = locked(&[]).filter(|_| !p.skiplock && lock != Some("backup")) {
                fail_fast(e)
            } else {
                ok(Effect::Unpause)
            }
        }
    };
    Ok(plan)
}

/// A QEMU shutdown (also the first half of a reboot): waits up to the timeout, then either
/// terminates the VM (forceStop) or fails.
fn qemu_shutdown(
    g: &Guest,
    p: &ActionParams,
    d: i64,
    worker: &'static str,
    effect: Effect,
) -> Plan {
    let t = p
        .timeout
        .or_else(|| startup_down(g))
        .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
    let t_ms = t as i64 * 1000;
    if d <= t_ms {
        Plan {
            worker,
            duration_ms: d,
            lines: Vec::new(),
            result: Ok(()),
            effect,
        }
    } else if p.force_stop {
        Plan {
            worker,
            duration_ms: t_ms + 1000,
            lines: vec![(
                t_ms,
                "VM still running - terminating now with SIGTERM".to_string(),
            )],
            result: Ok(()),
            effect,
        }
    } else {
        Plan {
            worker,
            duration_ms: t_ms,
            lines: Vec::new(),
            result: Err("VM quit/powerdown failed - got timeout".into()),
            effect: Effect::None,
        }
    }
}
