//! Containers and VMs: lists, status/current and container interfaces.

use serde_json::{Map, Value, json};

use super::num;
use crate::api::Call;
use crate::error::ApiError;
use crate::model::{Guest, Model, counters, net};
use pvekit_core::types::GuestKind;

/// Figures shared by lists and status/current.
fn guest_status(model: &Model, g: &Guest, now: f64) -> Map<String, Value> {
    let host_cpus = model
        .node_index
        .get(&g.node)
        .map(|&i| model.nodes[i].cpus)
        .unwrap_or(1);
    let s = counters::guest(g, host_cpus, now);
    let mut m = Map::new();
    m.insert("vmid".into(), Value::from(g.vmid));
    m.insert(
        "status".into(),
        Value::from(if g.running { "running" } else { "stopped" }),
    );
    m.insert("name".into(), Value::from(g.name()));
    // cpus from cores is an int; from cpulimit alone it is the config text.
    let cpus = match (g.kind, g.config.get("cores"), g.config.get("cpulimit")) {
        (GuestKind::Lxc, None, Some(limit)) => Value::from(limit.clone()),
        _ => num(s.cpus),
    };
    m.insert("cpus".into(), cpus);
    m.insert("maxmem".into(), Value::from(s.maxmem));
    m.insert("maxdisk".into(), Value::from(s.maxdisk));
    m.insert("mem".into(), Value::from(s.mem));
    m.insert("uptime".into(), Value::from(s.uptime));
    m.insert("cpu".into(), num(s.cpu));
    m.insert("netin".into(), Value::from(s.netin));
    m.insert("netout".into(), Value::from(s.netout));
    m.insert("diskread".into(), Value::from(s.diskread));
    m.insert("diskwrite".into(), Value::from(s.diskwrite));
    match g.kind {
        GuestKind::Lxc => {
            m.insert("type".into(), Value::from("lxc"));
            m.insert("maxswap".into(), Value::from(s.maxswap));
            m.insert("swap".into(), Value::from(s.swap));
            m.insert("disk".into(), Value::from(s.disk));
        }
        GuestKind::Qemu => {
            m.insert("disk".into(), Value::from(0));
            m.insert("memhost".into(), Value::from(s.mem));
            if g.config.keys().any(|k| k.starts_with("serial")) {
                m.insert("serial".into(), Value::from(1));
            }
        }
    }
    if g.running {
        m.insert("pid".into(), Value::from(g.pid));
        for (name, v) in counters::PRESSURE_NAMES.iter().zip(s.pressure) {
            let value = match g.kind {
                // Copied raw from the cgroup pressure files: strings.
                GuestKind::Lxc => Value::from(format!("{v:.2}")),
                GuestKind::Qemu => num((v * 100.0).round() / 100.0),
            };
            m.insert((*name).into(), value);
        }
        if g.kind == GuestKind::Qemu {
            let qmp = if g.paused { "paused" } else { "running" };
            m.insert("qmpstatus".into(), Value::from(qmp));
            m.insert("running-machine".into(), Value::from("pc-i440fx-9.2+pve1"));
            m.insert("running-qemu".into(), Value::from("9.2.0"));
        }
    }
    if g.template {
        m.insert("template".into(), Value::from(1));
    }
    if let Some(l) = &g.lock {
        m.insert("lock".into(), Value::from(l.clone()));
    }
    if let Some(t) = g.config.get("tags") {
        m.insert("tags".into(), Value::from(t.clone()));
    }
    m
}

fn list(call: &Call<'_>, kind: GuestKind) -> Result<Value, ApiError> {
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let now = call.state.clock.now_f64();
    let out = model
        .guests_of(&node.name)
        .filter(|g| g.kind == kind && call.can(&format!("/vms/{}", g.vmid), "VM.Audit"))
        .map(|g| Value::Object(guest_status(&model, g, now)))
        .collect();
    Ok(Value::Array(out))
}

fn current(call: &Call<'_>, kind: GuestKind) -> Result<Value, ApiError> {
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let g = model.guest_on(&node.name, call.vmid()?, kind)?;
    let mut m = guest_status(&model, g, call.state.clock.now_f64());
    m.insert("ha".into(), json!({"managed": 0}));
    if kind == GuestKind::Qemu {
        if !g.running {
            m.insert("qmpstatus".into(), Value::from("stopped"));
        }
        if g.agent_enabled() {
            m.insert("agent".into(), Value::from(1));
        }
    }
    Ok(Value::Object(m))
}

pub(crate) fn lxc_list(call: &Call<'_>) -> Result<Value, ApiError> {
    list(call, GuestKind::Lxc)
}

pub(crate) fn qemu_list(call: &Call<'_>) -> Result<Value, ApiError> {
    list(call, GuestKind::Qemu)
}

pub(crate) fn lxc_current(call: &Call<'_>) -> Result<Value, ApiError> {
    current(call, GuestKind::Lxc)
}

pub(crate) fn qemu_current(call: &Call<'_>) -> Result<Value, ApiError> {
    current(call, GuestKind::Qemu)
}

/// `ip a` inside a running container; `null` when stopped.
pub(crate) fn lxc_interfaces(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let g = model.guest_on(&node.name, call.vmid()?, GuestKind::Lxc)?;
    if !g.running {
        return Ok(Value::Null);
    }
    let out = net::interfaces(g)
        .into_iter()
        .map(|i| {
            let mut item = json!({
                "name": i.name,
                "hwaddr": i.hwaddr,
                "hardware-address": i.hwaddr,
            });
            let mut addrs = Vec::new();
            for a in &i.addrs {
                let (addr, prefix) = a.split_once('/').unwrap_or((a.as_str(), "0"));
                let family = if addr.contains(':') { "inet6" } else { "inet" };
                // The deprecated single-value fields: the last address of a family wins.
                item[family] = Value::from(a.clone());
                addrs.push(json!({
                    "ip-address-type": family,
                    "ip-address": addr,
                    "prefix": prefix.parse::<u32>().unwrap_or(0),
                }));
            }
            item["ip-addresses"] = Value::Array(addrs);
            item
        })
        .collect();
    Ok(Value::Array(out))
}
