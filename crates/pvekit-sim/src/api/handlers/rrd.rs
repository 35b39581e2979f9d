//! GET /nodes/{node}/lxc/{vmid}/rrddata (pve-container `rrddata`, pve-cluster `PVE::RRD`).
//!
//! Every node keeps the RRD files of every guest (pmxcfs broadcasts the status), so any node
//! answers for any VMID; a VMID without a file fails like RRDs does. Slots are `time` plus
//! floats (counters as per-second rates); slots while the guest's node was offline have only
//! `time`, and a trailing time-only slot is dropped. The simulator derives the history from
//! the same counter functions as the live figures: before the current start a running guest
//! shows as stopped (only its limits and root disk recorded).

use serde_json::{Map, Value};

use super::num;
use crate::api::Call;
use crate::error::ApiError;
use crate::model::{Guest, counters};
use pvekit_core::types::GuestKind;

/// Resolution (seconds) and slot count per time frame, the PVE 9 RRD layout.
fn layout(timeframe: &str) -> (i64, i64) {
    match timeframe {
        "day" => (60, 1440),
        "week" => (1800, 336),
        "month" => (1800, 1440),
        "year" => (21_600, 1440),
        _ => (60, 60),
    }
}

/// Samples per slot for the consolidation functions.
const SAMPLES: i64 = 4;

/// One data source's value over the slot ending at `end`, averaged or maximised.
fn consolidate(max: bool, end: i64, reso: i64, f: impl Fn(f64) -> f64) -> f64 {
    let step = reso as f64 / SAMPLES as f64;
    let values = (0..SAMPLES).map(|i| f(end as f64 - step * i as f64));
    if max {
        values.fold(0.0, f64::max)
    } else {
        values.sum::<f64>() / SAMPLES as f64
    }
}

/// Whether the guest ran at `t` (it runs now and had started by then).
fn running_at(g: &Guest, t: f64) -> bool {
    g.running && g.started_at.is_some_and(|start| t >= start as f64)
}

/// The data sources of the slot ending at `end`. pvestatd records only the limits and the
/// root disk of a stopped container (the rest unknown, so absent), and a container's
/// `memhost` never.
fn slot(g: &Guest, host_cpus: u32, end: i64, reso: i64, max: bool) -> Map<String, Value> {
    let at = |t: f64| {
        let s = counters::guest(g, host_cpus, t);
        if running_at(g, t) {
            s
        } else {
            counters::GuestStats {
                cpus: s.cpus,
                maxmem: s.maxmem,
                maxdisk: s.maxdisk,
                disk: s.disk,
                ..Default::default()
            }
        }
    };
    let now = at(end as f64);
    let mut m = Map::new();
    m.insert("maxcpu".into(), num(now.cpus));
    m.insert("maxmem".into(), num(now.maxmem as f64));
    m.insert("maxdisk".into(), num(now.maxdisk as f64));
    m.insert("disk".into(), num(now.disk as f64));
    if !running_at(g, end as f64) {
        return m;
    }
    let rate = |pick: fn(&counters::GuestStats) -> u64| {
        consolidate(max, end, reso, |t| {
            let step = reso as f64 / SAMPLES as f64;
            (pick(&at(t)) as f64 - pick(&at(t - step)) as f64).max(0.0) / step
        })
    };
    m.insert(
        "cpu".into(),
        num(consolidate(max, end, reso, |t| at(t).cpu)),
    );
    let mem = num(consolidate(max, end, reso, |t| at(t).mem as f64));
    if g.kind == GuestKind::Qemu {
        m.insert("memhost".into(), mem.clone());
    }
    m.insert("mem".into(), mem);
    m.insert("netin".into(), num(rate(|s| s.netin)));
    m.insert("netout".into(), num(rate(|s| s.netout)));
    m.insert("diskread".into(), num(rate(|s| s.diskread)));
    m.insert("diskwrite".into(), num(rate(|s| s.diskwrite)));
    for (i, name) in counters::PRESSURE_NAMES.into_iter().enumerate() {
        m.insert(
            name.into(),
            num(consolidate(max, end, reso, |t| at(t).pressure[i])),
        );
    }
    m
}

/// The guest's RRD slots for the time frame.
pub(crate) fn lxc_rrddata(call: &Call<'_>) -> Result<Value, ApiError> {
    // Not proxied: every node holds every guest's RRD file, and the node name is not checked.
    let model = call.state.model();
    let vmid = call.vmid()?;
    let Some(g) = model.guests.get(&vmid) else {
        return Err(ApiError::new(
            500,
            format!(
                "RRD error: opening '/var/lib/rrdcached/db/pve-vm-9.0/{vmid}': No such file or directory\n"
            ),
        ));
    };
    let (reso, count) = layout(&call.str("timeframe").unwrap_or_default());
    let max = call.str("cf").as_deref() == Some("MAX");
    let now = call.state.clock.now();
    let ctime = reso * now.div_euclid(reso);
    let start = ctime - reso * count;
    let host = model
        .node_index
        .get(&g.node)
        .map(|&i| &model.nodes[i])
        .filter(|n| n.online);
    let mut out: Vec<Value> = (0..count)
        .map(|i| {
            // RRD labels a slot with its end: it covers (time - reso, time].
            let time = start + (i + 1) * reso;
            let mut m = match host {
                Some(n) => slot(g, n.cpus, time, reso, max),
                None => Map::new(),
            };
            m.insert("time".into(), Value::from(time));
            Value::Object(m)
        })
        .collect();
    if out
        .last()
        .and_then(Value::as_object)
        .is_some_and(|m| m.len() == 1)
    {
        out.pop();
    }
    Ok(Value::Array(out))
}
