//! Every response type the library decodes reads the same with numbers and booleans sent as
//! JSON numbers or as strings, as Proxmox VE's Perl encoder may send either (see
//! [`pvekit_core::perl`]).
//!
//! Each sample goes through the library's one decoding path (`perl::from_value`, what
//! `Client::decode` uses) three times: as written, with every number and boolean turned into
//! a string (`5900` → `"5900"`, `true` → `"1"`), and with every boolean turned into `1`/`0`.
//! The three results must be equal, and every sample must hold numbers, so no check passes
//! by having nothing to compare.

use std::fmt::Debug;

use pvekit_core::perl;
use pvekit_core::types::{
    ClusterResource, ClusterStatusItem, GuestStatus, LxcInterface, NodeListItem, NodeStatus,
    RrdPoint, Version,
};
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
    check::<AgentReply>(
        "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces",
        json!({"result": [{"name": "ens18", "hardware-address": "bc:24:11:00:00:02",
            "ip-addresses": [{"ip-address": "10.0.0.6", "ip-address-type": "ipv4", "prefix": 24}],
            "statistics": {"rx-bytes": 1, "rx-packets": 2, "tx-bytes": 3, "tx-errs": 0}}]}),
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
