//! GET /cluster/status, GET /cluster/resources and GET /cluster/backup-info/not-backed-up.

use serde_json::{Value, json};

use super::{b01, num};
use crate::api::Call;
use crate::error::ApiError;
use crate::model::{Guest, Model, Node, counters};
use pvekit_core::types::GuestKind;

/// Cluster item (when clustered) plus one item per node.
pub(crate) fn status(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let mut out = Vec::with_capacity(model.nodes.len() + 1);
    match &model.cluster_name {
        Some(name) => {
            let online = model.nodes.iter().filter(|n| n.online).count();
            out.push(json!({
                "type": "cluster",
                "id": "cluster",
                "name": name,
                "nodes": model.nodes.len(),
                "version": model.config_version,
                "quorate": b01(online * 2 > model.nodes.len()),
            }));
            for (i, n) in model.nodes.iter().enumerate() {
                out.push(json!({
                    "type": "node",
                    "id": format!("node/{}", n.name),
                    "name": n.name,
                    "nodeid": n.nodeid,
                    "online": b01(n.online),
                    "local": b01(i == call.local),
                    "ip": n.ip,
                    "level": n.level,
                }));
            }
        }
        None => {
            if let Some(n) = model.nodes.first() {
                out.push(json!({
                    "type": "node",
                    "id": format!("node/{}", n.name),
                    "name": n.name,
                    "nodeid": 0,
                    "online": 1,
                    "local": 1,
                    "ip": n.ip,
                    "level": n.level,
                }));
            }
        }
    }
    Ok(Value::Array(out))
}

/// A guest as cluster/resources shows it.
pub(crate) fn guest_item(model: &Model, g: &Guest, now: f64) -> Value {
    let id = format!("{}/{}", g.kind.as_str(), g.vmid);
    let node = model.node_index.get(&g.node).map(|&i| &model.nodes[i]);
    let Some(node) = node.filter(|n| n.online) else {
        // No current RRD data: status unknown and no stats at all.
        return json!({"id": id, "type": g.kind.as_str(), "vmid": g.vmid, "node": g.node, "status": "unknown"});
    };
    let s = counters::guest(g, node.cpus, counters::rrd_time(&node.name, now));
    let mut item = json!({
        "id": id,
        "type": g.kind.as_str(),
        "vmid": g.vmid,
        "node": g.node,
        "status": if g.running { "running" } else { "stopped" },
        "name": g.name(),
        "uptime": s.uptime,
        "template": b01(g.template),
        "maxcpu": num(s.cpus),
        "cpu": num(s.cpu),
        "maxmem": s.maxmem,
        "mem": s.mem,
        "memhost": if g.kind == GuestKind::Qemu { s.mem } else { 0 },
        "maxdisk": s.maxdisk,
        "disk": if g.kind == GuestKind::Lxc { s.disk } else { 0 },
        "netin": s.netin,
        "netout": s.netout,
        "diskread": s.diskread,
        "diskwrite": s.diskwrite,
    });
    if let Some(t) = g.config.get("tags") {
        item["tags"] = Value::from(t.clone());
    }
    if let Some(l) = &g.lock {
        item["lock"] = Value::from(l.clone());
    }
    item
}

/// Adds a node's figures (uptime, cpu, memory, root disk) to its list item, as
/// pve-manager's `extract_node_stats` does for callers with Sys.Audit on the node.
pub(crate) fn node_figures(item: &mut Value, n: &Node, now: f64) {
    let s = counters::node(n, counters::rrd_time(&n.name, now));
    item["uptime"] = Value::from(s.uptime);
    item["cpu"] = num(s.cpu);
    item["maxcpu"] = Value::from(n.cpus);
    item["mem"] = Value::from(s.mem_used);
    item["maxmem"] = Value::from(n.mem_total);
    item["disk"] = Value::from(s.rootfs_used);
    item["maxdisk"] = Value::from(n.rootfs_total);
}

/// A node as cluster/resources shows it; without Sys.Audit on it, only its identity, status
/// and level (pve-manager `extract_node_stats`).
fn node_item(model: &Model, i: usize, now: f64, can_audit: bool) -> Value {
    let n = &model.nodes[i];
    let mut item = json!({
        "id": format!("node/{}", n.name),
        "type": "node",
        "node": n.name,
        "status": if n.online { "online" } else { "offline" },
    });
    if n.online {
        item["level"] = Value::from(n.level.clone());
        item["cgroup-mode"] = Value::from(2);
        if can_audit {
            node_figures(&mut item, n, now);
        }
    }
    item
}

fn storage_items(call: &Call<'_>, model: &Model, out: &mut Vec<Value>) {
    for n in &model.nodes {
        for (storage, plugin, content, size) in [
            ("local", "dir", "backup,iso,vztmpl", n.rootfs_total),
            ("local-lvm", "lvmthin", "images,rootdir", n.rootfs_total * 4),
        ] {
            if !call.can(&format!("/storage/{storage}"), "Datastore.Audit") {
                continue;
            }
            let mut item = json!({
                "id": format!("storage/{}/{storage}", n.name),
                "type": "storage",
                "storage": storage,
                "node": n.name,
                "plugintype": plugin,
                "content": content,
                "shared": 0,
                "status": if n.online { "available" } else { "unknown" },
            });
            if n.online {
                item["maxdisk"] = Value::from(size);
                item["disk"] = Value::from(size / 3 + (n.seed % (size / 10 + 1)));
            }
            out.push(item);
        }
    }
}

/// All resources, or those of one type (`vm`, `node`, `storage`, `sdn`), as far as the
/// caller may see them: guests with VM.Audit, storages with Datastore.Audit, network zones
/// with SDN.Audit; nodes always, their figures with Sys.Audit.
pub(crate) fn resources(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let now = call.state.clock.now_f64();
    let filter = call.str("type");
    let want = |t: &str| filter.as_deref().is_none_or(|f| f == t);
    let mut out = Vec::new();
    if want("vm") {
        // Emitted in VMID order with the VMIDs compared as strings (100, 1000, 101).
        let mut ids: Vec<(String, u32)> =
            model.guests.keys().map(|v| (v.to_string(), *v)).collect();
        ids.sort();
        out.reserve(ids.len());
        for (_, vmid) in ids {
            if let Some(g) = model.guests.get(&vmid)
                && call.can(&format!("/vms/{vmid}"), "VM.Audit")
            {
                out.push(guest_item(&model, g, now));
            }
        }
    }
    if want("node") {
        for (i, n) in model.nodes.iter().enumerate() {
            let can_audit = call.can(&format!("/nodes/{}", n.name), "Sys.Audit");
            out.push(node_item(&model, i, now, can_audit));
        }
    }
    if want("storage") {
        storage_items(call, &model, &mut out);
    }
    // Since pve-manager 9.0.12 nodes broadcast `network` resources and their legacy `sdn`
    // items are skipped, so `type=sdn` is empty; the default `localnetwork` zone appears as a
    // `network` item for every node, in unfiltered answers only (the 9.1 schema has no
    // `type=network`).
    if filter.is_none() && call.can("/sdn/zones/localnetwork", "SDN.Audit") {
        for n in &model.nodes {
            out.push(json!({
                "id": format!("network/{}/zone/localnetwork", n.name),
                "type": "network",
                "network-type": "zone",
                "network": "localnetwork",
                "node": n.name,
                "status": "ok",
            }));
        }
    }
    Ok(Value::Array(out))
}

/// Every guest no backup job covers, as far as the caller may audit it (VM.Audit), in VMID
/// order: the simulator has no backup jobs, so that is every guest. Source: pve-manager
/// `PVE/API2/BackupInfo.pm` (`get_guests_not_in_backup`: the guests of the VM list minus
/// those any job of `jobs.cfg`/`vzdump.cron` includes, each with its VMID, type and the
/// config's `name` (QEMU) or `hostname` (LXC); Proxmox VE lists them in hash order).
pub(crate) fn not_backed_up(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let mut out = Vec::with_capacity(model.guests.len());
    for (vmid, g) in &model.guests {
        if !call.can(&format!("/vms/{vmid}"), "VM.Audit") {
            continue;
        }
        let mut item = json!({"vmid": vmid, "type": g.kind.as_str()});
        let key = match g.kind {
            GuestKind::Lxc => "hostname",
            GuestKind::Qemu => "name",
        };
        if let Some(name) = g.config.get(key) {
            item["name"] = Value::from(name.clone());
        }
        out.push(item);
    }
    Ok(Value::Array(out))
}
