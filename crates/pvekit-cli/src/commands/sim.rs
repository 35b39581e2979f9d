/*!
`pvekit sim`: runs the simulator until Ctrl-C or SIGTERM.

Once it accepts connections, exactly one JSON line (its [`pvekit_sim::SimInfo`]) goes to
stdout and is flushed, so a script can start it in the background and read the line; logs go
to stderr.
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
    let sim = pvekit_sim::Simulator::start(options)
        .await
        .context("cannot start the simulator")?;
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
    sim.shutdown().await;
    info!("simulator stopped");
    waited
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
