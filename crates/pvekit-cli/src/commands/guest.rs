/*!
Single-guest commands: `ips` and `set-shutdown-timeout`.

Every one resolves its target first ([`crate::target::resolve`]).
*/

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, anyhow};
use pvekit::{Client, IpPolicy};

use crate::output::{self, Format};
use crate::target::{Target, resolve};

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
