/*!
`pvekit status T`: a guest's status (name, node, type, uptime, cpu, memory) as a list or as
JSON.
*/

use std::io::Write;

use anyhow::Result;
use pvekit::Client;
use serde::Serialize;

use crate::commands::{Context, target};
use crate::output::{self, Format};
use crate::target::{Target, resolve};

/// Flags of `pvekit status`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
}

impl Args {
    /// The guest.
    fn validate(&self) -> Result<Target> {
        target(&self.target)
    }
}

/// `pvekit status T`.
///
/// # Errors
/// A malformed target (a usage error), connection, resolution or API errors; write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let target = args.validate()?;
    ctx.on_clusters(async |clients| status(clients, &target, ctx.output()).await)
        .await
}

/// The JSON of `pvekit status`.
#[derive(Debug, Serialize)]
struct StatusJson {
    vmid: u64,
    name: Option<String>,
    node: String,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    qmpstatus: Option<String>,
    uptime: u64,
    cpu: f64,
    cpus: f64,
    mem: u64,
    maxmem: u64,
    cluster: String,
}

/// Prints the status of `target`.
///
/// # Errors
/// Resolution or API errors; write errors.
async fn status(clients: &[Client], target: &Target, format: Format) -> Result<()> {
    let r = resolve(clients, target).await?;
    let s = r.guest.status().await?;
    let j = StatusJson {
        vmid: r.guest.vmid(),
        name: s
            .name
            .clone()
            .or_else(|| r.resource.name.as_deref().map(str::to_owned)),
        node: r.guest.node().name().to_string(),
        kind: r.guest.kind().to_string(),
        status: s.status.to_string(),
        qmpstatus: s.qmpstatus.clone(),
        uptime: s.uptime,
        cpu: s.cpu,
        cpus: s.cpus,
        mem: s.mem,
        maxmem: s.maxmem,
        cluster: r.client.name().to_string(),
    };
    let mut out = super::stdout();
    match format {
        Format::Json => output::write_json_value(&mut out, &j)?,
        Format::Table => {
            let status = match &j.qmpstatus {
                Some(q) if *q != j.status => format!("{} ({q})", j.status),
                _ => j.status.clone(),
            };
            let rows = [
                ("vmid", j.vmid.to_string()),
                ("name", j.name.clone().unwrap_or_else(|| "-".into())),
                ("node", j.node.clone()),
                ("type", j.kind.clone()),
                ("status", status),
                ("uptime", pvekit::core::format::uptime(j.uptime)),
                (
                    "cpu",
                    format!("{} of {} CPUs", output::cpu_percent(Some(j.cpu)), j.cpus),
                ),
                ("mem", output::mem_usage(Some(j.mem), Some(j.maxmem))),
                ("cluster", j.cluster.clone()),
            ];
            for (k, v) in rows {
                writeln!(out, "{:<9}{v}", format!("{k}:"))?;
            }
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn malformed_target_is_a_usage_error() {
        let cli = Cli::try_parse_from(["pvekit", "status", "pve1/web"]).unwrap();
        let Command::Status(args) = cli.command else {
            panic!("not status")
        };
        let e = args.validate().err().unwrap();
        assert!(
            e.downcast_ref::<crate::settings::UsageError>().is_some(),
            "{e}"
        );
    }
}
