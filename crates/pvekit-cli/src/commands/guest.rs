/*!
Single-guest commands: the power actions, `ips` and `set-shutdown-timeout`.

Every one resolves its target first ([`crate::target::resolve`]). Power actions follow their
task ([`pvekit::ActionTask::progress`]), so a spinner on stderr can show
the task's progress (hidden when stderr is not a terminal).
*/

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, anyhow};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pvekit::types::{GuestKind, RunState};
use pvekit::{Action, Client, Error, IpPolicy};
use tokio::time::Instant;

use crate::output::{self, Format};
use crate::target::{Target, resolve};

/// `pvekit start|shutdown|stop|suspend|resume|reboot T`.
///
/// # Errors
/// Resolution errors, the server's refusal, the task's own error text, or a timeout.
pub async fn power(
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

/// `pvekit ips T`.
///
/// # Errors
/// Resolution or API errors; write errors.
pub async fn ips(clients: &[Client], target: &Target, all: bool, format: Format) -> Result<()> {
    let r = resolve(clients, target).await?;
    let ips = r.guest.ips(IpPolicy { private_only: !all }).await?;
    let mut out = super::stdout();
    match format {
        Format::Json => {
            let v: Vec<String> = ips.iter().map(ToString::to_string).collect();
            output::write_json(&mut out, &v)?;
        }
        Format::Table => {
            for ip in &ips {
                writeln!(out, "{ip}")?;
            }
            out.flush()?;
        }
    }
    Ok(())
}

/// `pvekit set-shutdown-timeout T SECONDS`: sets it, then prints the `startup` value the
/// server now reports.
///
/// # Errors
/// Resolution or API errors; write errors.
pub async fn set_shutdown_timeout(
    clients: &[Client],
    target: &Target,
    timeout: Duration,
) -> Result<()> {
    let r = resolve(clients, target).await?;
    r.guest.set_shutdown_timeout(timeout).await?;
    let config = r.guest.config().await?;
    let startup = config
        .get("startup")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            anyhow!(
                "{}: the config has no startup value after the change",
                r.label()
            )
        })?;
    let mut out = super::stdout();
    writeln!(out, "startup: {startup}")?;
    out.flush()?;
    Ok(())
}
