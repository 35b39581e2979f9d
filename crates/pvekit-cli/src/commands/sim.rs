/*!
`pvekit sim`: runs the simulator until Ctrl-C or SIGTERM.

Once it accepts connections, exactly one JSON line (its [`pvekit_sim::SimInfo`]) goes to
stdout and is flushed, so a script can start it in the background and read the line; logs go
to stderr. The line's URL names the address it really listens on (`https://0.0.0.0:PORT` for
`--listen 0.0.0.0:PORT`), and any address but a loopback one gets a loud warning on stderr:
whoever can reach it and has the printed credentials gets a root shell on the simulated nodes.
*/

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use secrecy::ExposeSecret;
use tracing::info;

use crate::cli::Cli;
use crate::commands::Context;
use crate::settings::usage;

/// Flags of `pvekit sim`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8006", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Number of nodes to generate.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub nodes: usize,
    /// Number of LXC containers to generate.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub containers: usize,
    /// Number of QEMU VMs to generate.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub vms: usize,
    /// Seed of the generated cluster: the same seed gives the same cluster.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// Delay added before every answer, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Delay before every 401 (rejected credentials), in milliseconds; Proxmox VE waits
    /// about 3 s.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    pub auth_delay_ms: u64,
    /// YAML scenario file stating the exact cluster (replaces --nodes/--containers/--vms).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// YAML file with a `faults:` list: latency, stalls, resets, truncated or malformed
    /// answers, 502/503/595/596, nodes going offline, tickets invalidated, terminal drops
    /// (see the simulator's docs).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Check clients: on exit, list every request the simulator rejected and every request
    /// outside the official API schema (when its file is found), and exit with status 3 if
    /// there are any.
    #[arg(long)]
    pub strict: bool,
}

/// `pvekit sim`.
///
/// # Errors
/// Flags that have no meaning for it (usage errors); the simulator cannot start, the info
/// line cannot be written, or the signal handlers cannot be installed.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    serve(sim_options(ctx.cli, args)?).await
}

/// Options of `pvekit sim`: its flags, plus the credential flags naming what it accepts.
fn sim_options(cli: &Cli, args: &Args) -> Result<pvekit_sim::SimOptions> {
    let c = &cli.conn;
    let misplaced = [
        (c.url.is_some(), "--url (use --listen)"),
        (c.fingerprint.is_some(), "--fingerprint"),
        (c.no_tls_verify, "--no-tls-verify"),
        (cli.config.is_some(), "--config"),
        (cli.demo, "--demo"),
    ];
    if let Some((_, name)) = misplaced.iter().find(|(given, _)| *given) {
        return Err(usage(format!("{name} has no meaning for `pvekit sim`")));
    }
    let username = match (&c.username, &c.realm) {
        (Some(u), Some(realm)) if !u.contains('@') => Some(format!("{u}@{realm}")),
        (Some(u), _) => Some(u.clone()),
        (None, Some(_)) => return Err(usage("--realm needs --username")),
        (None, None) => None,
    };
    Ok(pvekit_sim::SimOptions {
        listen: args.listen,
        nodes: args.nodes,
        containers: args.containers,
        vms: args.vms,
        seed: args.seed,
        latency: Duration::from_millis(args.latency_ms),
        auth_failure_delay: Duration::from_millis(args.auth_delay_ms),
        scenario: args.scenario.clone(),
        faults: args.faults.clone(),
        username,
        password: c.password.as_ref().map(|s| s.expose_secret().to_string()),
        token_id: c.token_id.clone(),
        secret: c.secret.as_ref().map(|s| s.expose_secret().to_string()),
        strict: args.strict,
        ..Default::default()
    })
}

/// Starts the simulator, prints its info line, and serves until a shutdown signal.
///
/// # Errors
/// When the simulator cannot start, the info line cannot be written, or the signal handlers
/// cannot be installed.
async fn serve(options: pvekit_sim::SimOptions) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::UsageError;
    use clap::Parser;

    /// The options of a `pvekit sim` command line. They are a function of the flags alone:
    /// the PVEKIT_* env vars and the config file are never read.
    fn sim_options_of(args: &[&str]) -> Result<pvekit_sim::SimOptions> {
        let mut v = vec!["pvekit"];
        v.extend_from_slice(args);
        let cli = Cli::try_parse_from(v).unwrap();
        let crate::cli::Command::Sim(a) = &cli.command else {
            panic!("not sim")
        };
        sim_options(&cli, a)
    }

    #[test]
    fn takes_credentials_from_flags() {
        let o = sim_options_of(&[
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--username",
            "admin",
            "--realm",
            "pve",
            "--password",
            "pw",
            "--token-id",
            "admin@pve!ci",
            "--secret",
            "sec",
            "--latency-ms",
            "5",
        ])
        .unwrap();
        assert_eq!(o.listen.port(), 0);
        assert_eq!(o.username.as_deref(), Some("admin@pve"));
        assert_eq!(o.password.as_deref(), Some("pw"));
        assert_eq!(o.token_id.as_deref(), Some("admin@pve!ci"));
        assert_eq!(o.secret.as_deref(), Some("sec"));
        assert_eq!(o.latency, Duration::from_millis(5));
        let o = sim_options_of(&["sim"]).unwrap();
        assert!(o.secret.is_none() && o.username.is_none());
        for bad in [
            &["sim", "--url", "https://x:8006"][..],
            &["sim", "--no-tls-verify"],
            &["--demo", "sim"],
            &["sim", "--realm", "pve"],
        ] {
            let e = sim_options_of(bad).err().unwrap();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{bad:?}");
        }
    }

    #[test]
    fn flags() {
        let cli = Cli::try_parse_from([
            "pvekit",
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--secret",
            "s3",
            "--seed",
            "7",
        ])
        .unwrap();
        let crate::cli::Command::Sim(args) = cli.command else {
            panic!("not sim")
        };
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.seed, 7);
        assert!(cli.conn.secret.is_some());
        assert!(Cli::try_parse_from(["pvekit", "sim", "--listen", "nonsense"]).is_err());
    }
}
