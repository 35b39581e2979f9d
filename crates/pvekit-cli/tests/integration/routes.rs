//! `pvekit wake` and `pvekit resolve` against a scenario simulator whose container serves a
//! real port on a loopback address (127.79.0.1; only loopback is ever probed).

use std::net::Ipv4Addr;

use crate::util::{Sim, args, pvekit, run};

const IP: Ipv4Addr = Ipv4Addr::new(127, 79, 0, 1);

fn free_port() -> u16 {
    std::net::TcpListener::bind((IP, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port on a loopback address")
        .port()
}

fn lab(port: u16) -> Sim {
    Sim::scenario(&format!(
        r#"
nodes:
  - {{name: pve1}}
guests:
  - {{type: lxc, vmid: 101, node: pve1, name: web, task_secs: 0.2,
     config: {{net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:09:01,ip={IP}/8,type=veth"}},
     services: [{{port: {port}, http: true, ready_after_ms: 300}}]}}
  - {{type: lxc, vmid: 102, node: pve1, name: db, status: running, task_secs: 0.2}}
"#
    ))
}

#[test]
fn wake_starts_the_container_and_exits_zero_once_it_answers() {
    let port = free_port();
    let sim = lab(port);
    let base = sim.token_args();
    let p = port.to_string();
    let out = run(&mut pvekit(&args(
        &base,
        &[
            "wake",
            "web",
            "--http",
            "/",
            "--port",
            &p,
            "--all-addresses",
        ],
    )));
    let stdout = out.ok();
    assert!(
        stdout.contains(&format!("is ready at {IP}:{port}")),
        "{stdout}"
    );
    // The steps, as GoDoxy names them, on stderr.
    for step in ["starting", "container_woke", "waiting_ready", "ready"] {
        assert!(
            out.stderr.contains(&format!(" {step}: ")),
            "{step}: {}",
            out.stderr
        );
    }
    // Woken again: already running.
    let again = run(&mut pvekit(&args(
        &base,
        &["wake", "101", "--port", &p, "--all-addresses", "-o", "json"],
    )));
    let events: Vec<serde_json::Value> = again
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["starting", "container_woke", "waiting_ready", "ready"]
    );
    assert!(
        events[1]["message"]
            .as_str()
            .unwrap()
            .contains("already running")
    );
}

#[test]
fn wake_fails_with_one_line_when_the_probe_never_passes() {
    let port = free_port();
    let closed = free_port();
    let sim = lab(port);
    let base = sim.token_args();
    let c = closed.to_string();
    let out = run(&mut pvekit(&args(
        &base,
        &[
            "wake",
            "web",
            "--port",
            &c,
            "--all-addresses",
            "--timeout",
            "1",
            "-o",
            "json",
        ],
    )));
    let line = out.fails(1);
    assert!(line.contains("waiting for the probe"), "{line}");
    assert!(line.contains("refused"), "{line}");
    // The private-only default finds no address on a loopback-only container.
    let out = run(&mut pvekit(&args(
        &base,
        &["wake", "db", "--timeout", "1", "-o", "json"],
    )));
    assert!(out.fails(1).contains("no address"), "{}", out.stderr);
}

#[test]
fn resolve_shows_what_a_node_config_binds_to() {
    let port = free_port();
    let sim = lab(port);
    let base = sim.token_args();
    let dir = tempfile::tempdir().unwrap();
    let route = dir.path().join("route.yml");
    std::fs::write(&route, "proxmox:\n  node: pve1\n  service: nginx\n").unwrap();
    let route = route.to_str().unwrap();
    let v = run(&mut pvekit(&args(
        &base,
        &["resolve", route, "--hostname", "web.lan", "-o", "json"],
    )))
    .json();
    assert_eq!(
        (v["vmid"].as_u64(), v["vmname"].as_str()),
        (Some(101), Some("web"))
    );
    assert_eq!(v["config"]["vmid"], 101);
    assert_eq!(v["services"][0], "nginx");
    let ip = IP.to_string();
    let v = run(&mut pvekit(&args(
        &base,
        &[
            "resolve",
            "--node",
            "pve1",
            "--ip",
            &ip,
            "--all-addresses",
            "-o",
            "json",
        ],
    )))
    .json();
    assert_eq!(v["vmid"], 101);
    let v = run(&mut pvekit(&args(
        &base,
        &["resolve", "--node", "pve1", "--vmid", "0", "-o", "json"],
    )))
    .json();
    assert_eq!(
        (v["vmid"].as_u64(), v["type"].as_str()),
        (Some(0), Some("node"))
    );
    let table = run(&mut pvekit(&args(
        &base,
        &["resolve", "--node", "pve1", "--vmid", "102"],
    )));
    assert!(table.ok().contains("db"), "{}", table.stdout);
    let line = run(&mut pvekit(&args(
        &base,
        &["resolve", "--node", "pve9", "--vmid", "101"],
    )))
    .fails(1)
    .to_string();
    assert!(
        line.contains("node 'pve9' not found; available nodes: pve1"),
        "{line}"
    );
    let line = run(&mut pvekit(&args(
        &base,
        &["resolve", "--node", "pve1", "--hostname", "nothing"],
    )))
    .fails(1)
    .to_string();
    assert!(
        line.contains("resource not found: hostname nothing"),
        "{line}"
    );
}
