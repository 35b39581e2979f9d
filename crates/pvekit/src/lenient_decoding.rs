//! Every response type the library decodes reads the same with numbers and booleans sent as
//! JSON numbers or as strings, as Proxmox VE's Perl encoder may send either (see
//! [`pvekit_core::perl`]).
//!
//! Each sample goes through the library's one decoding path (`perl::from_value`, what
//! `Client::decode` uses) three times: as written, with every number and boolean turned into
//! a string (`5900` → `"5900"`, `true` → `"1"`), and with every boolean turned into `1`/`0`.
//! The three results must be equal, and every sample must hold numbers, so no check passes
//! by having nothing to compare.
//!
//! Then every real capture in `tests/captures/` (responses of real Proxmox VE 6.2 to 9.2
//! servers, published by other projects; see `SOURCES.md` there) is decoded into the type
//! the library reads it as, and every number the decoded value holds is compared with the
//! capture's own figure, however the capture spelled it.

use std::fmt::Debug;

use pvekit_core::perl;
use pvekit_core::types::{
    ClusterResource, ClusterStatusItem, GuestStatus, LxcInterface, NodeListItem, NodeStatus,
    ResourceKind, ResourceStatus, RrdPoint, Version,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::TicketResponse;
use crate::guest::AgentReply;
use crate::task::{TaskLogLine, TaskStatus};
use crate::terminal::TermProxy;

/// Turns every number and boolean into the string Perl would send.
fn stringify(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(if *b { "1" } else { "0" }.into()),
        Value::Array(a) => Value::Array(a.iter().map(stringify).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), stringify(v))).collect())
        }
        other => other.clone(),
    }
}

/// Turns every JSON boolean into Perl's `1`/`0`.
fn perl_bools(v: &Value) -> Value {
    match v {
        Value::Bool(b) => json!(u8::from(*b)),
        Value::Array(a) => Value::Array(a.iter().map(perl_bools).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), perl_bools(v))).collect())
        }
        other => other.clone(),
    }
}

fn count_numbers(v: &Value) -> usize {
    match v {
        Value::Number(_) => 1,
        Value::Array(a) => a.iter().map(count_numbers).sum(),
        Value::Object(o) => o.values().map(count_numbers).sum(),
        _ => 0,
    }
}

/// Decodes `sample` in its three spellings and returns the decoded value's `Debug` text.
fn check<T: DeserializeOwned + Debug>(what: &str, sample: Value) -> String {
    assert!(
        count_numbers(&sample) > 0,
        "{what}: the sample has no numbers"
    );
    let plain: T = perl::from_value(sample.clone())
        .unwrap_or_else(|e| panic!("{what}: the sample does not decode: {e}"));
    let strings: T = perl::from_value(stringify(&sample))
        .unwrap_or_else(|e| panic!("{what}: numbers as strings do not decode: {e}"));
    let bools: T = perl::from_value(perl_bools(&sample))
        .unwrap_or_else(|e| panic!("{what}: 0/1 booleans do not decode: {e}"));
    let plain = format!("{plain:?}");
    assert_eq!(plain, format!("{strings:?}"), "{what}: numbers as strings");
    assert_eq!(plain, format!("{bools:?}"), "{what}: booleans as 0/1");
    // The client decodes bytes, without a `Value` tree: it must read the same.
    for (spelling, v) in [
        ("as written", sample.clone()),
        ("numbers as strings", stringify(&sample)),
        ("0/1", perl_bools(&sample)),
    ] {
        let bytes = serde_json::to_vec(&v).unwrap();
        let streamed: T = perl::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{what} ({spelling}) does not decode from bytes: {e}"));
        assert_eq!(
            plain,
            format!("{streamed:?}"),
            "{what}: from bytes, {spelling}"
        );
    }
    plain
}

#[test]
fn every_response_type_reads_numbers_sent_as_strings() {
    check::<Version>(
        "GET /version (a release that Perl used as a number)",
        json!({"version": "9.1.1", "release": 9.1, "repoid": "42e5d2a0"}),
    );
    check::<Vec<ClusterStatusItem>>(
        "GET /cluster/status",
        json!([
            {"type": "cluster", "id": "cluster", "name": "lab", "nodes": 3, "version": 7, "quorate": 1},
            {"type": "node", "id": "node/pve1", "name": "pve1", "nodeid": 1, "online": 1,
             "local": 1, "ip": "192.168.1.11", "level": ""},
            {"type": "node", "id": "node/pve2", "name": "pve2", "nodeid": 2, "online": 0,
             "local": 0, "ip": "192.168.1.12", "level": "c"}
        ]),
    );
    check::<Vec<ClusterResource>>(
        "GET /cluster/resources",
        json!([
            {"id": "lxc/101", "type": "lxc", "vmid": 101, "name": "web", "node": "pve1",
             "status": "running", "template": 0, "cpu": 0.0123, "maxcpu": 2, "mem": 104857600,
             "maxmem": 536870912, "disk": 1073741824u64, "maxdisk": 8589934592u64, "netin": 123456,
             "netout": 654321, "diskread": 1000, "diskwrite": 2000, "uptime": 3600,
             "tags": "web;prod", "hastate": "started"},
            {"id": "qemu/100", "type": "qemu", "vmid": 100, "name": "vm", "node": "pve2",
             "status": "stopped", "template": 1, "maxcpu": 4, "maxmem": 4294967296u64},
            {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online",
             "cpu": 0.05, "maxcpu": 8, "mem": 3221225472u64, "maxmem": 16777216000u64,
             "uptime": 86400, "level": "", "cgroup-mode": 2},
            {"id": "storage/pve1/local", "type": "storage", "node": "pve1", "storage": "local",
             "status": "available", "disk": 5, "maxdisk": 10, "shared": 0, "content": "iso"}
        ]),
    );
    check::<Vec<NodeListItem>>(
        "GET /nodes",
        json!([{"node": "pve1", "status": "online", "cpu": 0.01, "maxcpu": 8,
                "mem": 2147483648u64, "maxmem": 17179869184u64, "uptime": 4242,
                "level": "", "ssl_fingerprint": "AA:BB", "id": "node/pve1", "type": "node"}]),
    );
    check::<NodeStatus>(
        "GET /nodes/{node}/status",
        json!({
            "uptime": 86400, "cpu": 0.0215, "wait": 0.0011,
            "loadavg": ["0.15", "0.10", "0.05"],
            "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2",
            "pveversion": "pve-manager/9.1.1/42e5d2a0",
            "cpuinfo": {"model": "AMD EPYC", "cpus": 8, "cores": 4, "sockets": 1,
                        "mhz": "3200.000", "hvm": "1", "flags": "fpu"},
            "memory": {"total": 16777216000u64, "used": 3221225472u64, "free": 13555990528u64,
                       "available": 13000000000u64},
            "rootfs": {"total": 100000000000u64, "used": 5000000000u64,
                       "free": 95000000000u64, "avail": 90000000000u64}
        }),
    );
    check::<GuestStatus>(
        "GET /nodes/{node}/lxc/{vmid}/status/current",
        json!({"vmid": 101, "status": "running", "name": "web", "type": "lxc", "cpus": 2,
               "cpu": 0.003, "mem": 52428800, "maxmem": 536870912, "swap": 0,
               "maxswap": 536870912, "disk": 400000000, "maxdisk": 8589934592u64,
               "netin": 1234, "netout": 4321, "diskread": 10, "diskwrite": 20,
               "uptime": 777, "pid": 4242, "ha": {"managed": 0}, "template": "",
               "pressurecpusome": "0.00", "pressurememoryfull": 0}),
    );
    check::<Vec<GuestStatus>>(
        "GET /nodes/{node}/qemu",
        json!([{"vmid": 100, "status": "running", "name": "vm", "cpus": 4, "cpu": 0.25,
                "mem": 2147483648u64, "maxmem": 4294967296u64, "uptime": 99, "pid": 1234,
                "qmpstatus": "running", "running-machine": "pc-i440fx-9.2+pve1",
                "serial": 1, "template": 0}]),
    );
    check::<Vec<LxcInterface>>(
        "GET /nodes/{node}/lxc/{vmid}/interfaces",
        json!([
            {"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8",
             "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "inet", "prefix": 8}]},
            {"name": "eth0", "hwaddr": "bc:24:11:00:00:01", "inet": "10.0.0.5/24",
             "ip-addresses": [{"ip-address": "10.0.0.5", "ip-address-type": "inet", "prefix": 24}]}
        ]),
    );
    // The agent's reply is read as `{"result": ...}`, then its interfaces like LXC's.
    let agent = json!({"result": [{"name": "ens18", "hardware-address": "bc:24:11:00:00:02",
        "ip-addresses": [{"ip-address": "10.0.0.6", "ip-address-type": "ipv4", "prefix": 24}],
        "statistics": {"rx-bytes": 1, "rx-packets": 2, "tx-bytes": 3, "tx-errs": 0}}]});
    let reply: AgentReply = perl::from_value(stringify(&agent)).unwrap();
    assert_eq!(reply.interfaces().unwrap()[0].ip_addresses[0].prefix, 24);
    check::<Vec<LxcInterface>>(
        "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces (result)",
        agent["result"].clone(),
    );
    check::<Vec<RrdPoint>>(
        "GET /nodes/{node}/lxc/{vmid}/rrddata",
        json!([{"time": 1764300000u64, "cpu": 0.01, "maxcpu": 2, "mem": 1000, "maxmem": 2000,
                "disk": 3, "maxdisk": 4, "netin": 5.5, "netout": 6.5, "diskread": 7,
                "diskwrite": 8}, {"time": 1764300060u64}]),
    );
    check::<TaskStatus>(
        "GET /nodes/{node}/tasks/{upid}/status",
        json!({"status": "stopped", "exitstatus": "OK", "pid": 12345, "pstart": 9876543,
               "starttime": 1764300000u64, "type": "vzstart", "id": "101", "node": "pve1",
               "user": "root@pam", "upid": "UPID:pve1:00003039:0096B43F:69290A60:vzstart:101:root@pam:"}),
    );
    check::<Vec<TaskLogLine>>(
        "GET /nodes/{node}/tasks/{upid}/log",
        json!([{"n": 1, "t": "starting"}, {"n": 2, "t": "TASK OK"}]),
    );
    let proxy = check::<TermProxy>(
        "POST /nodes/{node}/termproxy",
        json!({"port": 5900, "ticket": "PVEVNC:6929...", "upid": "UPID:pve1:...", "user": "root@pam"}),
    );
    assert!(proxy.contains("port: 5900"), "{proxy}");
    check::<TicketResponse>(
        "POST /access/ticket",
        json!({"username": "root@pam", "ticket": "PVE:root@pam:...", "CSRFPreventionToken": "x",
               "cap": {"vms": {"VM.Audit": 1}}, "clustername": "lab", "NeedTFA": 1}),
    );
}

#[test]
fn garbage_is_still_an_error() {
    for bad in [
        &br#"{"port": "59x0", "ticket": "t", "upid": "u", "user": "u"}"#[..],
        br#"{"port": "70000", "ticket": "t", "upid": "u", "user": "u"}"#,
        br#"{"port": 5900, "ticket": "t", "upid": "u", "user": "u"} trailing"#,
    ] {
        assert!(perl::from_slice::<TermProxy>(bad).is_err());
    }
    assert!(
        perl::from_value::<TermProxy>(
            json!({"port": "59x0", "ticket": "t", "upid": "u", "user": "u"})
        )
        .is_err()
    );
    assert!(
        perl::from_value::<TermProxy>(
            json!({"port": "70000", "ticket": "t", "upid": "u", "user": "u"})
        )
        .is_err()
    );
    assert!(perl::from_value::<GuestStatus>(json!({"vmid": "-1", "status": "running"})).is_err());
    assert!(
        perl::from_value::<Vec<ClusterStatusItem>>(json!([{"type": "node", "online": "yes"}]))
            .is_err()
    );
}

/// The captures of one endpoint: file name and the `data` payload.
fn captures(endpoint: &str) -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/captures")
        .join(endpoint);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Files named `data-only` hold the payload without the envelope.
        let data = if name.contains("data-only") {
            raw
        } else {
            raw.get("data")
                .cloned()
                .unwrap_or_else(|| panic!("{name}: no data"))
        };
        out.push((name, data));
    }
    assert!(!out.is_empty(), "no captures for {endpoint}");
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A number as Perl may spell it: a JSON number, a numeric string, or a 0/1 boolean.
fn figure(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => Some(0.0),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Compares every number and boolean of `decoded` (re-serialized) with the capture's figure
/// under the same key; returns how many were compared.
fn same_figures(what: &str, decoded: &Value, raw: &Value) -> usize {
    match (decoded, raw) {
        (Value::Object(d), Value::Object(r)) => d
            .iter()
            .filter_map(|(k, dv)| {
                r.get(k)
                    .map(|rv| same_figures(&format!("{what}.{k}"), dv, rv))
            })
            .sum(),
        (Value::Array(d), Value::Array(r)) => d
            .iter()
            .zip(r)
            .enumerate()
            .map(|(i, (dv, rv))| same_figures(&format!("{what}[{i}]"), dv, rv))
            .sum(),
        (Value::Number(_) | Value::Bool(_), _) => {
            let (want, got) = (figure(raw), figure(decoded));
            assert!(
                want.is_some() && got.is_some(),
                "{what}: capture {raw}, decoded {decoded}"
            );
            let (want, got) = (want.unwrap_or_default(), got.unwrap_or_default());
            assert!(
                (want - got).abs() <= want.abs() * 1e-12,
                "{what}: capture {raw}, decoded {decoded}"
            );
            1
        }
        _ => 0,
    }
}

/// Decodes every capture of `endpoint` as `T` and checks its figures; returns the values.
fn decode_captures<T: DeserializeOwned + Serialize>(endpoint: &str) -> Vec<(String, T)> {
    captures(endpoint)
        .into_iter()
        .map(|(name, data)| {
            let decoded: T = perl::from_value(data.clone())
                .unwrap_or_else(|e| panic!("{endpoint}/{name} does not decode: {e}"));
            let streamed: T = perl::from_slice(&serde_json::to_vec(&data).unwrap())
                .unwrap_or_else(|e| panic!("{endpoint}/{name} does not decode from bytes: {e}"));
            let again = serde_json::to_value(&decoded).unwrap();
            assert_eq!(
                again,
                serde_json::to_value(&streamed).unwrap(),
                "{endpoint}/{name}"
            );
            let compared = same_figures(&format!("{endpoint}/{name}"), &again, &data);
            assert!(
                compared > 0 || count_numbers(&data) == 0,
                "{endpoint}/{name}: no figures compared"
            );
            (name, decoded)
        })
        .collect()
}

/// Decodes every capture of `endpoint` as a type without `Serialize`.
fn decode_captures_opaque<T: DeserializeOwned>(endpoint: &str) -> Vec<(String, Value, T)> {
    captures(endpoint)
        .into_iter()
        .map(|(name, data)| {
            let decoded: T = perl::from_value(data.clone())
                .unwrap_or_else(|e| panic!("{endpoint}/{name} does not decode: {e}"));
            (name, data, decoded)
        })
        .collect()
}

#[test]
fn real_captures_decode_with_the_right_figures() {
    for (_, v) in decode_captures::<Version>("version") {
        assert!(v.version.starts_with('9'), "{v:?}");
    }
    for (name, data) in captures("cluster-status") {
        let mut members = 0;
        for item in data.as_array().into_iter().flatten() {
            if let Some("cluster" | "node") = item["type"].as_str() {
                let decoded: ClusterStatusItem =
                    perl::from_value(item.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
                let again = serde_json::to_value(&decoded).unwrap();
                assert!(same_figures(&name, &again, item) > 0, "{name}: {item}");
                members += 1;
            }
        }
        assert!(members > 1, "{name}");
    }
    for (name, items) in decode_captures::<Vec<ClusterResource>>("cluster-resources") {
        assert!(!items.is_empty(), "{name}");
        for r in &items {
            // Every type and status the real servers sent is one the library names (only
            // network and SDN items report a free-form `ok`).
            assert!(
                !r.id.is_empty() && !matches!(r.kind, ResourceKind::Other(_)),
                "{name}: {r:?}"
            );
            let free_form = matches!(r.kind, ResourceKind::Network | ResourceKind::Sdn);
            assert!(
                free_form || !matches!(r.status, Some(ResourceStatus::Other(_))),
                "{name}: {r:?}"
            );
            assert_eq!(
                r.guest_kind().is_some(),
                r.vmid.is_some(),
                "{name}: guests and only guests have a vmid: {r:?}"
            );
        }
    }
    for (name, nodes) in decode_captures::<Vec<NodeListItem>>("nodes") {
        assert!(!nodes.is_empty(), "{name}");
    }
    for (name, s) in decode_captures::<NodeStatus>("node-status") {
        assert!(s.memory.total > 0 && s.cpuinfo.cpus > 0, "{name}: {s:?}");
        // loadavg is an array of strings on every version (regex captures in pve-common's
        // ProcFSTools); the generic check above compared each figure.
        assert!(
            s.loadavg.iter().all(|l| *l >= 0.0),
            "{name}: {:?}",
            s.loadavg
        );
    }
    for endpoint in ["lxc-status", "qemu-status"] {
        for (name, s) in decode_captures::<GuestStatus>(endpoint) {
            assert!(pvekit_core::names::is_vmid(s.vmid), "{name}");
        }
    }
    for (name, list) in decode_captures::<Vec<GuestStatus>>("lxc-list") {
        assert!(
            list.iter().all(|g| pvekit_core::names::is_vmid(g.vmid)),
            "{name}"
        );
    }
    for (name, ifaces) in decode_captures::<Vec<LxcInterface>>("lxc-interfaces") {
        assert!(ifaces.iter().any(|i| i.name == "eth0"), "{name}");
    }
    for (name, points) in decode_captures::<Vec<RrdPoint>>("rrddata") {
        assert!(points.iter().any(RrdPoint::has_data), "{name}");
    }
    for (name, raw, reply) in decode_captures_opaque::<AgentReply>("agent-network-get-interfaces") {
        let ifaces = reply.interfaces().unwrap();
        if raw["result"].is_array() {
            assert!(!ifaces.is_empty(), "{name}");
            let again = serde_json::to_value(&ifaces).unwrap();
            assert!(same_figures(&name, &again, &raw["result"]) > 0, "{name}");
        } else {
            assert!(ifaces.is_empty(), "{name}: an agent error is no interfaces");
        }
    }
    for (name, raw, status) in decode_captures_opaque::<TaskStatus>("task-status") {
        assert_eq!(
            Some(status.status.as_str()),
            raw["status"].as_str(),
            "{name}"
        );
        assert_eq!(
            status.exitstatus.as_deref(),
            raw["exitstatus"].as_str(),
            "{name}"
        );
    }
    for (name, raw, lines) in decode_captures_opaque::<Vec<TaskLogLine>>("task-log") {
        assert_eq!(lines.len(), raw.as_array().map_or(0, Vec::len), "{name}");
        for (l, r) in lines.iter().zip(raw.as_array().into_iter().flatten()) {
            assert_eq!(Some(l.n as f64), figure(&r["n"]), "{name}");
        }
    }
    for (name, raw, proxy) in decode_captures_opaque::<TermProxy>("termproxy") {
        assert_eq!(Some(f64::from(proxy.port)), figure(&raw["port"]), "{name}");
        assert!(
            raw["port"].is_string(),
            "{name}: the capture sends port as a string"
        );
    }
    for (name, raw, ticket) in decode_captures_opaque::<TicketResponse>("access-ticket") {
        assert_eq!(
            Some(ticket.need_tfa),
            raw.get("NeedTFA")
                .map(|v| figure(v) == Some(1.0))
                .or(Some(false)),
            "{name}"
        );
    }
    // Config values stay as sent (the library reads the keys it needs leniently itself).
    for (name, raw, config) in
        decode_captures_opaque::<std::collections::BTreeMap<String, Value>>("lxc-config")
    {
        assert_eq!(serde_json::to_value(&config).unwrap(), raw, "{name}");
    }
}
