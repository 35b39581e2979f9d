//! Guest commands against a scenario simulator: targets, status, power actions and tasks,
//! IPs, shutdown timeout, stats, node stats, lookup, watch.

use std::time::Duration;

use crate::util::{Bg, Sim, args, pvekit, run};

pub const LAB: &str = r#"
cluster: lab
nodes:
  - {name: pve1, ip: 10.10.10.1}
  - {name: pve2, ip: 10.10.10.2}
guests:
  - {type: lxc, vmid: 100, node: pve1, name: web, status: running, task_secs: 0.2,
     config: {startup: "order=2,up=10",
              net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.100/24,type=veth",
              net1: "name=eth1,bridge=vmbr1,hwaddr=BC:24:11:00:00:02,ip=203.0.113.10/24,type=veth"}}
  - {type: lxc, vmid: 101, node: pve1, name: db, task_secs: 0.2,
     config: {net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:01,ip=192.168.1.101/24,type=veth"}}
  - {type: lxc, vmid: 102, node: pve2, name: twin, task_secs: 0.2}
  - {type: qemu, vmid: 200, node: pve2, name: twin, status: running, task_secs: 0.2}
  - {type: lxc, vmid: 104, node: pve2, name: broken, task_secs: 0.2,
     start_error: "startup for container '104' failed"}
  - {type: lxc, vmid: 106, node: pve2, name: busy, status: running, task_secs: 0.2,
     config: {memory: 1024},
     counters: {cpu: 0.311, mem: 268435456, netin: 123456789, netout: 98765432,
                diskread: 5555555, diskwrite: 4444444}}
"#;

/// The seed's line for guest 106's pinned counters.
const BUSY_LINE: &str = "running|31.1%|256MiB/1GiB|25.00%|117.7MiB/94.2MiB|5.3MiB/4.2MiB";

fn lab() -> (Sim, Vec<String>) {
    let sim = Sim::scenario(LAB);
    let base = sim.token_args();
    (sim, base)
}

fn status_of(base: &[String], target: &str) -> String {
    let v = run(&mut pvekit(&args(base, &["status", target, "-o", "json"]))).json();
    v["status"].as_str().unwrap().to_string()
}

#[test]
fn targets_resolve_by_vmid_name_and_node() {
    let (_sim, base) = lab();
    for (target, vmid) in [
        ("101", 101),
        ("db", 101),
        ("DB", 101),
        ("pve2/102", 102),
        ("lab/pve2/200", 200),
    ] {
        let v = run(&mut pvekit(&args(&base, &["status", target, "-o", "json"]))).json();
        assert_eq!(v["vmid"], vmid, "{target}");
    }
    let v = run(&mut pvekit(&args(&base, &["status", "web", "-o", "json"]))).json();
    assert_eq!(v["name"], "web");
    assert_eq!(v["node"], "pve1");
    assert_eq!(v["type"], "lxc");
    assert_eq!(v["status"], "running");
    assert_eq!(v["cluster"], "lab");
    for k in ["uptime", "cpu", "cpus", "mem", "maxmem"] {
        assert!(v[k].is_number(), "{k}: {v}");
    }
    let text = run(&mut pvekit(&args(&base, &["status", "web"])))
        .ok()
        .to_string();
    assert!(text.contains("status:  running"), "{text}");
    assert!(text.contains("node:    pve1"), "{text}");
}

#[test]
fn ambiguous_and_unknown_targets_are_clear_errors() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(&base, &["status", "twin"])));
    let line = out.fails(1);
    assert!(line.contains("'twin' is ambiguous"), "{line}");
    assert!(
        line.contains("pve2/102 (lxc, twin)") && line.contains("pve2/200 (qemu, twin)"),
        "{line}"
    );
    let out = run(&mut pvekit(&args(&base, &["start", "nope"])));
    assert_eq!(
        out.fails(1),
        "pvekit: no guest 'nope' in cluster lab; `pvekit ls` lists the guests this login may see (those it has VM.Audit on); names are compared ignoring case"
    );
    let out = run(&mut pvekit(&args(&base, &["status", "999"])));
    assert!(out.fails(1).contains("no guest '999'"));
    let out = run(&mut pvekit(&args(&base, &["status", "pve1/db"])));
    assert!(out.fails(2).contains("not a VMID"));
}

#[test]
fn power_actions_follow_their_task() {
    let (_sim, base) = lab();
    assert_eq!(status_of(&base, "db"), "stopped");
    let out = run(&mut pvekit(&args(&base, &["start", "db"])));
    out.ok();
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        !out.stderr.contains('⠋'),
        "no spinner without a terminal: {}",
        out.stderr
    );
    assert_eq!(status_of(&base, "db"), "running");
    run(&mut pvekit(&args(&base, &["reboot", "db"]))).ok();
    assert_eq!(status_of(&base, "db"), "running");
    run(&mut pvekit(&args(&base, &["suspend", "db"]))).ok();
    assert_eq!(
        status_of(&base, "db"),
        "stopped",
        "a suspended CT is stopped"
    );
    run(&mut pvekit(&args(&base, &["resume", "db"]))).ok();
    assert_eq!(status_of(&base, "db"), "running");
    run(&mut pvekit(&args(&base, &["shutdown", "db"]))).ok();
    assert_eq!(status_of(&base, "db"), "stopped");
    run(&mut pvekit(&args(
        &base,
        &["start", "101", "--timeout", "30"],
    )))
    .ok();
    run(&mut pvekit(&args(&base, &["stop", "pve1/101"]))).ok();
    assert_eq!(status_of(&base, "db"), "stopped");
    // VMs too: a paused VM still reads running.
    run(&mut pvekit(&args(&base, &["suspend", "200"]))).ok();
    assert_eq!(status_of(&base, "200"), "running");
    run(&mut pvekit(&args(&base, &["resume", "200"]))).ok();
    run(&mut pvekit(&args(&base, &["stop", "200"]))).ok();
    assert_eq!(status_of(&base, "200"), "stopped");
}

#[test]
fn task_failures_and_refusals_exit_non_zero_with_the_servers_text() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(&base, &["start", "broken"])));
    let line = out.fails(1);
    assert!(
        line.contains("startup for container '104' failed"),
        "{line}"
    );
    assert!(line.contains(":vzstart:104:"), "names the task: {line}");
    // Refused at once: already running.
    let out = run(&mut pvekit(&args(&base, &["start", "web"])));
    let line = out.fails(1);
    assert!(line.contains("already running"), "{line}");
}

#[test]
fn no_wait_prints_the_upid_at_once() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(&base, &["start", "db", "--no-wait"])));
    let upid = out.ok().trim().to_string();
    assert!(upid.starts_with("UPID:pve1:"), "{upid}");
    assert!(upid.contains(":vzstart:101:"), "{upid}");
    let v = run(&mut pvekit(&args(
        &base,
        &["stop", "web", "--no-wait", "-o", "json"],
    )))
    .json();
    assert!(v["upid"].as_str().unwrap().contains(":vzstop:100:"), "{v}");
}

#[test]
fn ips_are_private_unless_all() {
    let (_sim, base) = lab();
    // Running: from its interfaces; private only by default.
    let out = run(&mut pvekit(&args(&base, &["ips", "web"])));
    assert_eq!(out.ok(), "10.0.0.100\n");
    let out = run(&mut pvekit(&args(&base, &["ips", "web", "--all"])));
    let all: Vec<&str> = out.ok().lines().collect();
    assert!(
        all.contains(&"10.0.0.100") && all.contains(&"203.0.113.10"),
        "{all:?}"
    );
    // Stopped: from its config.
    let v = run(&mut pvekit(&args(&base, &["ips", "db", "-o", "json"]))).json();
    assert_eq!(v, serde_json::json!(["192.168.1.101"]));
    // ls shows them too.
    let out = run(&mut pvekit(&args(&base, &["ls"])));
    let web = out
        .ok()
        .lines()
        .find(|l| l.contains(" web "))
        .unwrap()
        .to_string();
    assert!(web.ends_with("10.0.0.100"), "{web}");
    assert!(out.stdout.lines().next().unwrap().ends_with("IPS"));
    let v = run(&mut pvekit(&args(&base, &["ls", "-o", "json"]))).json();
    let db = v
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == 101)
        .unwrap();
    assert_eq!(db["ips"], serde_json::json!(["192.168.1.101"]));
}

#[test]
fn shutdown_timeout_shows_up_in_the_config() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(
        &base,
        &["set-shutdown-timeout", "web", "45"],
    )));
    assert_eq!(out.ok(), "startup: order=2,up=10,down=45\n");
    // A second process sees it, and the rest of the setting is kept.
    let out = run(&mut pvekit(&args(
        &base,
        &["set-shutdown-timeout", "web", "30"],
    )));
    assert_eq!(out.ok(), "startup: order=2,up=10,down=30\n");
    let out = run(&mut pvekit(&args(
        &base,
        &["set-shutdown-timeout", "db", "7"],
    )));
    assert_eq!(out.ok(), "startup: down=7\n");
    // VMs are refused before anything is sent, with what to do instead.
    let out = run(&mut pvekit(&args(
        &base,
        &["set-shutdown-timeout", "lab/pve2/200", "7"],
    )));
    assert!(out.fails(1).contains("qm set 200 --startup down=N"));
}

#[test]
fn stats_line_of_pinned_counters_is_exact() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(&base, &["stats", "busy"])));
    assert_eq!(out.ok(), format!("{BUSY_LINE}\n"));
    let out = run(&mut pvekit(&args(&base, &["stats", "db"])));
    assert!(out.ok().starts_with("stopped|0.0%|"), "{}", out.stdout);
    // Streaming: a line at once, then one per interval, until Ctrl-C.
    let mut bg = Bg::spawn(&mut pvekit(&args(
        &base,
        &["stats", "106", "--stream", "--interval", "0.2"],
    )));
    for _ in 0..3 {
        assert_eq!(bg.wait_line(Duration::from_secs(10), |_| true), BUSY_LINE);
    }
    assert!(bg.interrupt(Duration::from_secs(5)).success());
}

#[test]
fn stats_table_once() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(&base, &["stats", "--once", "--running"])));
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("VMID  NAME  NODE  STATUS"), "{text}");
    assert!(lines[0].ends_with("BLOCK I/O"), "{text}");
    assert_eq!(lines.len(), 4, "header + the 3 running guests:\n{text}");
    let busy = lines.iter().find(|l| l.contains("busy")).unwrap();
    let cells: Vec<&str> = busy
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        [
            "106",
            "busy",
            "pve2",
            "running",
            "31.1%",
            "256MiB / 1GiB",
            "25.00%",
            "117.7MiB / 94.2MiB",
            "5.3MiB / 4.2MiB"
        ],
        "{text}"
    );
    let v = run(&mut pvekit(&args(
        &base,
        &["stats", "--once", "-o", "json"],
    )))
    .json();
    assert_eq!(v.as_array().unwrap().len(), 6, "every guest by default");
    // Not a terminal, not --once: one snapshot per interval until Ctrl-C.
    let mut bg = Bg::spawn(&mut pvekit(&args(&base, &["stats", "--interval", "0.2"])));
    for _ in 0..2 {
        bg.wait_line(Duration::from_secs(10), |l| l.starts_with("VMID"));
    }
    assert!(bg.interrupt(Duration::from_secs(5)).success());
}

#[test]
fn node_stats_json() {
    let (_sim, base) = lab();
    let v = run(&mut pvekit(&args(&base, &["node-stats", "pve1"]))).json();
    for k in [
        "kernel_version",
        "pve_version",
        "cpu_usage",
        "cpu_model",
        "mem_usage",
        "mem_total",
        "mem_pct",
        "rootfs_usage",
        "rootfs_total",
        "rootfs_pct",
        "uptime",
        "load_avg_1m",
        "load_avg_5m",
        "load_avg_15m",
    ] {
        assert!(v[k].is_string(), "{k}: {v}");
    }
    assert_eq!(v.as_object().unwrap().len(), 14);
    let mut bg = Bg::spawn(&mut pvekit(&args(
        &base,
        &["node-stats", "pve2", "--stream", "--interval", "0.2"],
    )));
    for _ in 0..2 {
        let line = bg.wait_line(Duration::from_secs(10), |_| true);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v["cpu_usage"].as_str().unwrap().ends_with('%'));
    }
    assert!(bg.interrupt(Duration::from_secs(5)).success());
    let out = run(&mut pvekit(&args(&base, &["node-stats", "pve9"])));
    assert!(out.fails(1).contains("available nodes: pve1, pve2"));
}

#[test]
fn lookup_by_ip_hostname_alias_and_nodes() {
    let (_sim, base) = lab();
    let v = run(&mut pvekit(&args(
        &base,
        &["lookup", "--ip", "10.0.0.100", "-o", "json"],
    )))
    .json();
    assert_eq!(v["vmid"], 100);
    assert_eq!(v["ips"], serde_json::json!(["10.0.0.100"]));
    let v = run(&mut pvekit(&args(
        &base,
        &["lookup", "--hostname", "db.lan", "-o", "json"],
    )))
    .json();
    assert_eq!(v["vmid"], 101);
    let out = run(&mut pvekit(&args(&base, &["lookup", "--alias", "busy"])));
    assert!(
        out.ok().lines().nth(1).unwrap().starts_with(" 106  busy"),
        "{}",
        out.stdout
    );
    let out = run(&mut pvekit(&args(&base, &["lookup", "--ip", "10.9.9.9"])));
    assert!(out.fails(1).contains("no guest matches ip 10.9.9.9"));
    let out = run(&mut pvekit(&args(
        &base,
        &["lookup", "--node", "--hostname", "pve2.lan"],
    )));
    assert_eq!(out.ok(), "pve2\n");
    let out = run(&mut pvekit(&args(
        &base,
        &["lookup", "--node", "--ip", "10.10.10.1"],
    )));
    assert_eq!(out.ok(), "pve1\n");
    let out = run(&mut pvekit(&args(&base, &["lookup"])));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn watch_shows_a_guest_started_elsewhere() {
    let (_sim, base) = lab();
    let mut watch = Bg::spawn(&mut pvekit(&args(&base, &["watch", "--interval", "0.3"])));
    let first = watch.wait_line(Duration::from_secs(20), |l| l.starts_with("added lxc/101"));
    assert_eq!(first, "added lxc/101 db on pve1 stopped ips=192.168.1.101");
    run(&mut pvekit(&args(&base, &["start", "db"]))).ok();
    watch.wait_line(Duration::from_secs(20), |l| {
        l == "status lxc/101 db on pve1 stopped -> running"
    });
    assert!(watch.interrupt(Duration::from_secs(5)).success());
    // JSON lines.
    let mut watch = Bg::spawn(&mut pvekit(&args(
        &base,
        &["watch", "--interval", "0.3", "-o", "json"],
    )));
    let line = watch.wait_line(Duration::from_secs(20), |l| l.contains("\"vmid\":106"));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["event"], "added");
    assert_eq!(v["cluster"], "lab");
    run(&mut pvekit(&args(&base, &["stop", "busy"]))).ok();
    let line = watch.wait_line(Duration::from_secs(20), |l| l.contains("status_changed"));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["vmid"].as_u64(), v["from"].as_str()),
        (Some(106), Some("running"))
    );
    assert_eq!(v["status"], "stopped");
}

#[test]
fn demo_stats_once_and_usage_errors() {
    let out = run(&mut pvekit(&["--demo", "stats", "--once"]));
    assert!(out.ok().starts_with("VMID"), "{}", out.stdout);
    let out = run(&mut pvekit(&["--demo", "stats", "--stream"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&mut pvekit(&["--demo", "stats", "100", "--once"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&mut pvekit(&["--demo", "start", "100", "--timeout", "0"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_missing_privilege_is_one_line_naming_it() {
    let yaml = format!(
        "{LAB}users:\n  - userid: ops@pve\n    acl: [{{path: /, role: PVEAuditor}}]\n    tokens: [{{name: ro, secret: ro-secret, privsep: false}}]\n"
    );
    let mut sim = Sim::scenario(&yaml);
    sim.expect_rejections();
    let mut base = sim.token_args();
    base[3] = "ops@pve!ro".into();
    base[5] = "ro-secret".into();
    // An auditor lists and reads...
    let v = run(&mut pvekit(&args(&base, &["ls", "-o", "json"]))).json();
    assert_eq!(v.as_array().unwrap().len(), 6, "{v}");
    assert_eq!(status_of(&base, "db"), "stopped");
    // ...and is told exactly what it lacks when it acts.
    let out = run(&mut pvekit(&args(&base, &["start", "db"])));
    let line = out.fails(1);
    assert!(
        line.contains("Permission check failed (/vms/101, VM.PowerMgmt)"),
        "{line}"
    );
    assert!(line.contains("needs VM.PowerMgmt on /vms/101"), "{line}");
    assert_eq!(status_of(&base, "db"), "stopped");
}

#[test]
fn history_shows_the_rrd_slots() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(&base, &["history", "busy"])));
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 61, "header + 60 one-minute slots:\n{text}");
    assert!(lines[0].starts_with("TIME (UTC)") && lines[0].contains("NET IN"));
    assert!(
        lines[60].contains("/s") && lines[60].contains('%'),
        "{}",
        lines[60]
    );
    let v = run(&mut pvekit(&args(
        &base,
        &[
            "history",
            "pve2/106",
            "--timeframe",
            "week",
            "--max",
            "-o",
            "json",
        ],
    )))
    .json();
    let slots = v.as_array().unwrap();
    assert_eq!(slots.len(), 336);
    assert_eq!(
        slots[1]["time"].as_u64().unwrap() - slots[0]["time"].as_u64().unwrap(),
        1800
    );
    let out = run(&mut pvekit(&args(
        &base,
        &["history", "busy", "--timeframe", "decade"],
    )));
    assert!(out.fails(2).contains("hour, day, week, month or year"));
}
