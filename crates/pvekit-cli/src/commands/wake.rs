/*!
`pvekit wake T [--port P | --http PATH] [--timeout S]`: starts the guest unless it runs,
then waits until it has an address and the readiness probe passes
([`pvekit::Waker::wake`]). Each step is printed as it happens (on stderr, or as JSON lines
on stdout with `-o json`); the exit status is 0 only once the probe passed.
*/

use std::io::Write;
use std::net::IpAddr;

use anyhow::Result;
use pvekit::{Client, IpPolicy, Probe, WakeOptions, Waker};

use crate::commands::{Context, seconds, target};
use crate::output::{self, Format};
use crate::settings::usage;
use crate::target::{Target, resolve};

/// Flags of `pvekit wake`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
    /// Ready once a TCP connection to this port succeeds (with --http: the HTTP port,
    /// default 80).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Ready once `GET PATH` answers with a status below 500.
    #[arg(long, value_name = "URL-PATH")]
    pub http: Option<String>,
    /// Give up after this many seconds, from the call to ready.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Probe this address instead of the guest's first one.
    #[arg(long, value_name = "IP")]
    pub address: Option<IpAddr>,
    /// Consider every address of the guest, not only private ones.
    #[arg(long)]
    pub all_addresses: bool,
}

impl Args {
    fn validate(&self) -> Result<(Target, WakeOptions)> {
        let probe = match (&self.http, self.port) {
            (Some(path), port) => {
                if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
                    return Err(usage(format!(
                        "--http takes a URL path such as /health, got {path:?}"
                    )));
                }
                Probe::Http {
                    port: port.unwrap_or(80),
                    path: path.clone(),
                }
            }
            (None, Some(port)) => Probe::Tcp { port },
            (None, None) => Probe::Running,
        };
        if probe.clone() != Probe::Running && self.port == Some(0) {
            return Err(usage("--port must be between 1 and 65535"));
        }
        let options = WakeOptions {
            probe,
            timeout: seconds("--timeout", self.timeout)?,
            address: self.address,
            ip_policy: IpPolicy {
                private_only: !self.all_addresses,
            },
            ..Default::default()
        };
        Ok((target(&self.target)?, options))
    }
}

/// `pvekit wake`.
///
/// # Errors
/// Invalid flags (usage errors), connection or resolution errors, or the wake's failure
/// ([`pvekit::Error::WakeFailed`]).
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let (target, options) = args.validate()?;
    ctx.on_clusters(async |clients| wake(clients, &target, options, ctx.output()).await)
        .await
}

async fn wake(
    clients: &[Client],
    target: &Target,
    options: WakeOptions,
    format: Format,
) -> Result<()> {
    let found = resolve(clients, target).await?;
    let mut handle = Waker::new().wake(&found.guest, options);
    let mut out = super::stdout();
    while let Some(event) = handle.next_event().await {
        match format {
            Format::Json => output::write_json_line(&mut out, &event)?,
            Format::Table => {
                let mut err = std::io::stderr().lock();
                let detail = event
                    .error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                writeln!(
                    err,
                    "{:>6.1}s {}: {}{detail}",
                    event.elapsed.as_secs_f64(),
                    event.kind,
                    event.message
                )?;
            }
        }
    }
    let ready = handle.ready().await?;
    if format == Format::Table {
        let at = match ready.address.port() {
            0 => ready.address.ip().to_string(),
            _ => ready.address.to_string(),
        };
        writeln!(
            out,
            "{} is ready at {at} after {:.1}s{}",
            found.label(),
            ready.elapsed.as_secs_f64(),
            if ready.started {
                ""
            } else {
                " (it was already running)"
            }
        )?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn options(args: &[&str]) -> Result<WakeOptions> {
        let crate::cli::Command::Wake(a) = crate::commands::parse(args) else {
            unreachable!()
        };
        Ok(a.validate()?.1)
    }

    #[test]
    fn probes_from_flags() {
        assert_eq!(options(&["wake", "101"]).unwrap().probe, Probe::Running);
        assert_eq!(
            options(&["wake", "web", "--port", "8080"]).unwrap().probe,
            Probe::Tcp { port: 8080 }
        );
        assert_eq!(
            options(&["wake", "web", "--http", "/health"])
                .unwrap()
                .probe,
            Probe::Http {
                port: 80,
                path: "/health".into()
            }
        );
        let o = options(&[
            "wake",
            "web",
            "--http",
            "/",
            "--port",
            "8080",
            "--all-addresses",
        ])
        .unwrap();
        assert_eq!(
            o.probe,
            Probe::Http {
                port: 8080,
                path: "/".into()
            }
        );
        assert!(!o.ip_policy.private_only);
        assert_eq!(
            options(&["wake", "web", "--timeout", "2.5"])
                .unwrap()
                .timeout,
            Duration::from_millis(2500)
        );
        for bad in [
            &["wake", "web", "--http", "health"][..],
            &["wake", "web", "--http", "/a b"],
            &["wake", "web", "--port", "0"],
            &["wake", "web", "--timeout", "0"],
            &["wake", "a/b/c/d"],
        ] {
            assert!(options(bad).is_err(), "{bad:?}");
        }
    }
}
