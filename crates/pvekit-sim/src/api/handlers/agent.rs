//! GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces (qemu-server
//! src/PVE/API2/Qemu/Agent.pm, src/PVE/QemuServer/Agent.pm `assert_agent_available`): the guest
//! agent's reply in its own shape (qemu qga/qapi-schema.json), wrapped in `result`.

use serde_json::{Value, json};

use crate::api::Call;
use crate::error::ApiError;
use crate::model::{counters, net};
use pvekit_core::types::GuestKind;

/// The agent's `network-get-interfaces` reply, or the error of an unavailable agent.
pub(crate) fn network_get_interfaces(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let vmid = call.vmid()?;
    let g = model.guest_on(&node.name, vmid, GuestKind::Qemu)?;
    if !g.config.contains_key("agent") {
        return Err(ApiError::new(500, "No QEMU guest agent configured\n"));
    }
    if !g.running {
        return Err(ApiError::new(500, format!("VM {vmid} is not running\n")));
    }
    // A disabled agent has no device; a paused guest cannot answer the ping.
    if !g.agent_enabled() || !g.agent_running || g.paused {
        return Err(ApiError::new(500, "QEMU guest agent is not running\n"));
    }
    let stats = counters::guest(g, node.cpus, call.state.clock.now_f64());
    let mut first_nic = true;
    let result: Vec<Value> = net::agent_interfaces(g)
        .into_iter()
        .map(|i| {
            let addrs: Vec<Value> = i
                .addrs
                .iter()
                .map(|a| {
                    let (addr, prefix) = a.split_once('/').unwrap_or((a.as_str(), "0"));
                    json!({
                        "ip-address": addr,
                        "ip-address-type": if addr.contains(':') { "ipv6" } else { "ipv4" },
                        "prefix": prefix.parse::<u32>().unwrap_or(0),
                    })
                })
                .collect();
            // The guest's own view: what it received is what the host sent it.
            let (rx, tx) = if i.name == "lo" {
                let lo = 4096 + stats.uptime * 12;
                (lo, lo)
            } else if std::mem::take(&mut first_nic) {
                (stats.netin, stats.netout)
            } else {
                (stats.netin / 50, stats.netout / 50)
            };
            json!({
                "name": i.name,
                "hardware-address": i.hwaddr,
                "ip-addresses": addrs,
                "statistics": {
                    "rx-bytes": rx,
                    "rx-packets": rx / 900,
                    "rx-errs": 0,
                    "rx-dropped": rx / 900 / 5000,
                    "tx-bytes": tx,
                    "tx-packets": tx / 700,
                    "tx-errs": 0,
                    "tx-dropped": 0,
                },
            })
        })
        .collect();
    Ok(json!({ "result": result }))
}
