/*!
The power actions: `pvekit start|shutdown|stop|suspend|resume|reboot T`.

Each resolves its target first ([`crate::target::resolve`]) and follows its task
([`pvekit::ActionTask::progress`]), so a spinner on stderr can show the task's progress
(hidden when stderr is not a terminal).
*/

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pvekit::types::{GuestKind, RunState};
use pvekit::{Action, Client, Error};
use tokio::time::Instant;

use crate::commands::{Context, target};
use crate::output::{self, Format};
use crate::settings::usage;
use crate::target::{Target, resolve};

/// Flags of the power commands.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
    /// Print the task id (UPID) at once instead of following the task.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up following the task after this many seconds (the task itself goes on).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
}

/// The validated inputs of a power command.
#[derive(Debug, PartialEq)]
struct Power {
    /// The guest.
    target: Target,
    /// Print the UPID at once instead of following the task.
    no_wait: bool,
    /// How long to follow the task.
    timeout: Duration,
}

impl Args {
    fn validate(&self) -> Result<Power> {
        if self.timeout == 0 {
            return Err(usage("--timeout must be at least 1 second"));
        }
        Ok(Power {
            target: target(&self.target)?,
            no_wait: self.no_wait,
            timeout: Duration::from_secs(self.timeout),
        })
    }
}

/// `pvekit start|shutdown|stop|suspend|resume|reboot T`: `action` is the command's.
///
/// # Errors
/// Invalid flags (usage errors), connection or resolution errors, the server's refusal, the
/// task's own error text, or a timeout.
pub async fn run(args: &Args, action: Action, ctx: &Context<'_>) -> Result<()> {
    let p = args.validate()?;
    ctx.on_clusters(async |clients| {
        power(
            clients,
            &p.target,
            action,
            p.no_wait,
            p.timeout,
            ctx.output(),
        )
        .await
    })
    .await
}

/// Runs `action` on `target`, following its task unless `no_wait`.
///
/// # Errors
/// Resolution errors, the server's refusal, the task's own error text, or a timeout.
async fn power(
    clients: &[Client],
    target: &Target,
    action: Action,
    no_wait: bool,
    timeout: Duration,
    format: Format,
) -> Result<()> {
    let r = resolve(clients, target).await?;
    let task = r.guest.begin(action).await?;
    let upid = task.upid().to_string();
    if no_wait {
        let mut out = super::stdout();
        match format {
            Format::Json => {
                output::write_json_value(&mut out, &serde_json::json!({ "upid": upid }))?
            }
            Format::Table => {
                writeln!(out, "{upid}")?;
                out.flush()?;
            }
        }
        return Ok(());
    }
    let label = r.label();
    let spinner = spinner(format!("{} {label}", verb(action)));
    let started = Instant::now();
    let worker = task.upid().worker_type.clone();
    let progress = task
        .options(pvekit::WaitOptions {
            timeout,
            log: !spinner.is_hidden(),
            ..Default::default()
        })
        .progress();
    futures_util::pin_mut!(progress);
    while let Some(p) = progress.next().await {
        match p {
            Ok(p) => spinner.set_message(format!(
                "{} {label}: task {worker} {:.1}s{}",
                verb(action),
                p.elapsed.as_secs_f64(),
                p.last_line
                    .as_ref()
                    .map(|l| format!(" — {l}"))
                    .unwrap_or_default()
            )),
            Err(e) => {
                spinner.finish_and_clear();
                return match e {
                    Error::Timeout { .. } => Err(anyhow!(
                        "{label}: gave up after {}s; the task goes on, follow it as {upid}",
                        timeout.as_secs()
                    )),
                    other => Err(other.into()),
                };
            }
        }
    }
    spinner.finish_and_clear();
    if !spinner.is_hidden() {
        // Only on a terminal, like the spinner: scripts get a quiet success.
        eprintln!(
            "✓ {label}: {} ({:.1}s)",
            done(action, r.guest.kind()),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Start => "starting",
        Action::Shutdown => "shutting down",
        Action::Stop => "stopping",
        Action::Suspend => "suspending",
        Action::Resume => "resuming",
        Action::Reboot => "rebooting",
    }
}

fn done(action: Action, kind: GuestKind) -> String {
    let state = action.expected_state(kind);
    let what = match action {
        Action::Start => "started",
        Action::Shutdown => "shut down",
        Action::Stop => "stopped",
        Action::Suspend => "suspended",
        Action::Resume => "resumed",
        Action::Reboot => "rebooted",
    };
    if state == RunState::Running && action == Action::Suspend {
        format!("{what} (paused)")
    } else {
        what.to_string()
    }
}

/// A spinner on stderr; indicatif hides it when stderr is not a terminal.
fn spinner(message: String) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
    );
    pb.set_message(message);
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn power_of(args: &[&str]) -> Result<Power> {
        let mut v = vec!["pvekit"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Start(a)
            | Command::Shutdown(a)
            | Command::Stop(a)
            | Command::Suspend(a)
            | Command::Resume(a)
            | Command::Reboot(a) => a.validate(),
            _ => panic!("not a power command"),
        }
    }

    #[test]
    fn inputs() {
        assert_eq!(
            power_of(&["stop", "pve1/101", "--timeout", "5"]).unwrap(),
            Power {
                target: Target::Placed {
                    cluster: None,
                    node: "pve1".into(),
                    vmid: 101,
                },
                no_wait: false,
                timeout: Duration::from_secs(5),
            }
        );
        let e = power_of(&["start", "101", "--timeout", "0"]).err().unwrap();
        assert!(
            e.downcast_ref::<crate::settings::UsageError>().is_some(),
            "{e}"
        );
    }
}
