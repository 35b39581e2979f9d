/*!
`pvekit history T`: a guest's RRD history, one row per slot (UTC), rates per second.
*/

use anyhow::Result;
use pvekit::Client;
use pvekit::types::{RrdCf, RrdPoint, RrdTimeframe};

use crate::commands::{Context, target};
use crate::output::{self, Format};
use crate::settings::usage;
use crate::target::{Target, resolve};

/// Flags of `pvekit history`.
#[derive(clap::Args)]
pub struct Args {
    /// The guest: VMID, NAME, NODE/VMID or CLUSTER/NODE/VMID.
    pub target: String,
    /// How far back: hour, day, week, month or year (the slots grow with it: a minute for
    /// hour and day, half an hour for week and month, six hours for year).
    #[arg(long, value_name = "FRAME", default_value = "hour")]
    pub timeframe: String,
    /// Peak values of each slot instead of averages.
    #[arg(long)]
    pub max: bool,
}

/// `pvekit history T`.
///
/// # Errors
/// A malformed target or time frame (usage errors); connection, resolution or API errors;
/// write errors.
pub async fn run(args: &Args, ctx: &Context<'_>) -> Result<()> {
    let target = target(&args.target)?;
    let timeframe: RrdTimeframe = args.timeframe.parse().map_err(|e: String| usage(&e))?;
    let cf = if args.max { RrdCf::Max } else { RrdCf::Average };
    ctx.on_clusters(async |clients| history(clients, &target, timeframe, cf, ctx.output()).await)
        .await
}

/// The RRD slots of `target` as a table (time in UTC, figures per slot, `-` where the slot
/// has no data) or as JSON.
///
/// # Errors
/// Resolution or API errors; write errors.
async fn history(
    clients: &[Client],
    target: &Target,
    timeframe: RrdTimeframe,
    cf: RrdCf,
    format: Format,
) -> Result<()> {
    let r = resolve(clients, target).await?;
    let points = r.guest.rrddata(timeframe, cf).await?;
    let mut out = super::stdout();
    match format {
        Format::Json => output::write_json(&mut out, &points)?,
        Format::Table => {
            let table = output::table(
                &HISTORY_HEADER,
                &[1, 2, 3, 4, 5, 6],
                points.iter().map(history_row),
            );
            output::write_table(&mut out, &table)?;
        }
    }
    Ok(())
}

const HISTORY_HEADER: [&str; 7] = [
    "TIME (UTC)",
    "CPU %",
    "MEM",
    "NET IN",
    "NET OUT",
    "DISK READ",
    "DISK WRITE",
];

/// One slot as table cells.
fn history_row(p: &RrdPoint) -> Vec<String> {
    use pvekit::core::format::{iec, pct, utc_minute};
    let bytes = |v: Option<f64>| v.map_or("-".into(), |b| iec(b.max(0.0) as u64));
    let rate = |v: Option<f64>| v.map_or("-".into(), |b| format!("{}/s", iec(b.max(0.0) as u64)));
    vec![
        utc_minute(p.time),
        p.cpu.map_or("-".into(), |c| pct(c, 1)),
        match (p.mem, p.maxmem) {
            (Some(m), Some(max)) => format!("{} / {}", bytes(Some(m)), bytes(Some(max))),
            (m, _) => bytes(m),
        },
        rate(p.netin),
        rate(p.netout),
        rate(p.diskread),
        rate(p.diskwrite),
    ]
}
