/*!
`pvekit sim`: runs the simulator until Ctrl-C or SIGTERM.

Once it accepts connections, exactly one JSON line (its [`pvekit_sim::SimInfo`]) goes to
stdout and is flushed, so a script can start it in the background and read the line; logs go
to stderr. The line's URL names the address it really listens on (`https://0.0.0.0:PORT` for
`--listen 0.0.0.0:PORT`), and any address but a loopback one gets a loud warning on stderr:
whoever can reach it and has the printed credentials gets a root shell on the simulated nodes.
*/

use std::io::Write;

use anyhow::{Context, Result};
use tracing::info;

/// Starts the simulator, prints its info line, and serves until a shutdown signal.
///
/// # Errors
/// When the simulator cannot start, the info line cannot be written, or the signal handlers
/// cannot be installed.
pub async fn run(options: pvekit_sim::SimOptions) -> Result<()> {
    let strict = options.strict;
    let sim = pvekit_sim::Simulator::start(options)
        .await
        .context("cannot start the simulator")?;
    warn_if_exposed(sim.addr());
    // Listen before printing: whoever reads the line may signal at once.
    let stop = shutdown_signal();
    let printed = print_info(sim.info());
    let waited = match printed {
        Ok(()) => {
            info!(url = %sim.info().url, "simulator ready; stop it with Ctrl-C or SIGTERM");
            stop.await
        }
        Err(e) => Err(e),
    };
    let findings = if strict {
        strict_findings(&sim)
    } else {
        Vec::new()
    };
    sim.shutdown().await;
    info!("simulator stopped");
    waited?;
    if findings.is_empty() {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    for f in &findings {
        let _ = writeln!(err, "pvekit sim: {f}");
    }
    Err(super::Exit(STRICT_FAILURE).into())
}

/// The exit status of `pvekit sim --strict` when a client sent what Proxmox VE refuses.
const STRICT_FAILURE: u8 = 3;

/// What strict mode reports: the rejected requests, and the requests outside the official
/// schema when its file can be read.
fn strict_findings(sim: &pvekit_sim::RunningSim) -> Vec<String> {
    let mut out: Vec<String> = sim
        .rejections()
        .into_iter()
        .map(|r| {
            format!(
                "rejected {} {}: {} {}",
                r.method,
                r.path,
                r.status,
                r.message.trim_end()
            )
        })
        .collect();
    match pvekit_sim::conformance::SchemaSet::load_default() {
        Ok(schema) => out.extend(
            schema
                .off_schema(&sim.requests())
                .into_iter()
                .map(|line| format!("outside the schema {line}")),
        ),
        Err(e) => tracing::warn!("requests not checked against the schema: {e}"),
    }
    out
}

/// Warns on stderr when the simulator listens on an address other machines may reach.
fn warn_if_exposed(addr: std::net::SocketAddr) {
    if addr.ip().is_loopback() {
        return;
    }
    let what = if addr.ip().is_unspecified() {
        "every address of this machine"
    } else {
        "an address that is not loopback"
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "pvekit sim: WARNING: listening on {addr}, {what}: anyone who can reach it and has the \
         printed credentials gets the API and a root shell on the simulated nodes (sandboxed, \
         but on this machine). Use --listen 127.0.0.1:PORT unless that is what you want."
    );
}

fn print_info(info: &pvekit_sim::SimInfo) -> Result<()> {
    let line = serde_json::to_string(info).context("cannot encode the simulator info")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives right after (say, once the info line is out) is not lost to the
/// default action.
pub(crate) fn shutdown_signal() -> impl Future<Output = Result<()>> + use<> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let installed = signal(SignalKind::terminate())
            .context("cannot listen for SIGTERM")
            .and_then(|term| {
                let int = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
                Ok((term, int))
            });
        async move {
            let (mut term, mut int) = installed?;
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            Ok(())
        }
    }
    #[cfg(not(unix))]
    async {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
    }
}
