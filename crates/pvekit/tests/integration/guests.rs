//! Guests against the simulator: power actions with task tracking, IPs, stats.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::StreamExt;
use pvekit::types::RunState;
use pvekit::{Action, ActionOptions, Client, Error, IpPolicy};
use pvekit_sim::{RunningSim, Scenario, SimOptions};

use crate::util::{self, assert_clean, password_config, token_config};

pub const CLUSTER: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
guests:
  - {type: lxc, vmid: 100, node: pve1, name: web, status: running,
     config: {startup: "order=2,up=10", net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.100/24,type=veth"}}
  - {type: lxc, vmid: 101, node: pve1, name: db,
     config: {net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:01,ip=dhcp,ip6=auto,type=veth",
              net1: "name=eth1,bridge=vmbr1,hwaddr=BC:24:11:00:01:02,ip=203.0.113.7/24,ip6=fd00::101/64,type=veth"}}
  - {type: lxc, vmid: 102, node: pve1, name: tpl, template: true}
  - {type: lxc, vmid: 103, node: pve1, name: locked, status: running, lock: backup}
  - {type: lxc, vmid: 104, node: pve2, name: broken, start_error: "startup for container '104' failed"}
  - {type: lxc, vmid: 105, node: pve2, name: slow, task_secs: 600}
  - {type: lxc, vmid: 106, node: pve2, name: busy, status: running, docker: true,
     config: {memory: 1024, net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:06:01,ip=192.168.6.6/24,type=veth"},
     counters: {cpu: 0.311, mem: 268435456, netin: 123456789, netout: 98765432, diskread: 5555555, diskwrite: 4444444}}
  - {type: lxc, vmid: 107, node: pve1, name: alpine, status: running, config: {ostype: alpine}}
  - {type: qemu, vmid: 200, node: pve2, name: vm-agent, status: running, agent: true}
  - {type: qemu, vmid: 201, node: pve2, name: vm-plain, status: running}
"#;

pub async fn lab() -> RunningSim {
    util::sim_with(SimOptions {
        scenario_inline: Some(Scenario::from_yaml(CLUSTER).unwrap()),
        task_duration: Duration::from_millis(150),
        ..Default::default()
    })
    .await
}

pub async fn client(sim: &RunningSim) -> Client {
    Client::connect(&token_config(sim)).await.unwrap()
}

fn node(client: &Client, name: &str) -> pvekit::Node {
    client
        .nodes()
        .into_iter()
        .find(|n| n.name() == name)
        .unwrap()
}

const FAST: ActionOptions = ActionOptions {
    poll: Duration::from_millis(50),
    timeout: Duration::from_secs(10),
    log: false,
};

#[tokio::test]
async fn start_and_shutdown_follow_the_task_to_the_final_state() {
    let sim = lab().await;
    let c = client(&sim).await;
    let ct = node(&c, "pve1").lxc(101);
    assert!(ct.is_stopped().await.unwrap());
    ct.action_with(Action::Start, FAST).await.unwrap();
    assert_eq!(ct.status().await.unwrap().status, RunState::Running);
    ct.action_with(Action::Reboot, FAST).await.unwrap();
    assert!(ct.is_running().await.unwrap());
    ct.action_with(Action::Shutdown, FAST).await.unwrap();
    assert!(ct.is_stopped().await.unwrap());
    assert_clean(&sim);
}

#[tokio::test]
async fn actions_work_with_ticket_auth_too() {
    let sim = lab().await;
    let c = Client::connect(&password_config(&sim)).await.unwrap();
    let ct = node(&c, "pve1").lxc(101);
    ct.action_with(Action::Start, FAST).await.unwrap();
    ct.action_with(Action::Stop, FAST).await.unwrap();
    assert_clean(&sim);
}

#[tokio::test]
async fn the_task_is_a_real_upid_and_ends_ok() {
    let sim = lab().await;
    let c = client(&sim).await;
    let action = node(&c, "pve1")
        .lxc(101)
        .begin(Action::Start)
        .await
        .unwrap();
    assert_eq!(action.upid().worker_type, "vzstart");
    assert_eq!(action.upid().id, "101");
    assert_eq!(action.upid().node, "pve1");
    let status = action
        .task()
        .wait(ActionOptions {
            timeout: Duration::from_secs(5),
            ..FAST
        })
        .await
        .unwrap();
    assert_eq!(status.exitstatus.as_deref(), Some("OK"));
    assert!(
        action
            .task()
            .log()
            .await
            .unwrap()
            .last()
            .is_some_and(|l| l == "TASK OK")
    );
}

#[tokio::test]
async fn an_action_is_a_progress_stream_that_ends_in_the_new_state() {
    use futures_util::StreamExt;
    let sim = lab().await;
    let c = client(&sim).await;
    let ct = node(&c, "pve1").lxc(101);
    let progress = ct
        .begin(Action::Start)
        .await
        .unwrap()
        .options(ActionOptions { log: true, ..FAST })
        .progress();
    let items: Vec<_> = progress.collect().await;
    let items: Vec<pvekit::TaskProgress> = items.into_iter().map(Result::unwrap).collect();
    let last = items.last().expect("at least the final poll");
    assert!(last.status.is_ok(), "{last:?}");
    assert!(items.iter().any(|p| p.last_line.is_some()), "{items:?}");
    assert!(items.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
    // The stream ended only once the container ran.
    assert!(ct.is_running().await.unwrap());
    // A refused start is an error item, then the end.
    let err = ct.begin(Action::Start).await.unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
}

#[tokio::test]
async fn refusals_carry_the_server_text() {
    let sim = lab().await;
    let c = client(&sim).await;
    let pve1 = node(&c, "pve1");
    // Refused at once.
    let err = pve1
        .lxc(100)
        .action_with(Action::Start, FAST)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CT 100 already running"), "{err}");
    assert_eq!(err.status(), Some(500));
    // Refused inside the task.
    let err = pve1
        .lxc(102)
        .action_with(Action::Start, FAST)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TaskFailed { message, .. } if message.contains("template")),
        "{err}"
    );
    let err = pve1
        .lxc(103)
        .action_with(Action::Stop, FAST)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TaskFailed { message, .. } if message == "CT is locked (backup)"),
        "{err}"
    );
    let err = node(&c, "pve2")
        .lxc(104)
        .action_with(Action::Start, FAST)
        .await
        .unwrap_err();
    let Error::TaskFailed { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(message, "startup for container '104' failed");
    assert!(node(&c, "pve2").lxc(104).is_stopped().await.unwrap());
    // A guest that is not on the node.
    let err = node(&c, "pve2").lxc(100).status().await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_slow_task_times_out_at_the_callers_deadline() {
    let sim = lab().await;
    let c = client(&sim).await;
    let opts = ActionOptions {
        timeout: Duration::from_millis(400),
        ..FAST
    };
    let started = std::time::Instant::now();
    let err = node(&c, "pve2")
        .lxc(105)
        .action_with(Action::Start, opts)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the deadline was not respected"
    );
}

#[tokio::test]
async fn suspend_and_resume_converge_on_what_the_server_reports() {
    let sim = lab().await;
    let c = client(&sim).await;
    let ct = node(&c, "pve1").lxc(100);
    ct.action_with(Action::Suspend, FAST).await.unwrap();
    assert!(
        ct.is_stopped().await.unwrap(),
        "a suspended container is checkpointed and stopped"
    );
    ct.action_with(Action::Resume, FAST).await.unwrap();
    assert!(ct.is_running().await.unwrap());
    let vm = node(&c, "pve2").qemu(201);
    vm.action_with(Action::Suspend, FAST).await.unwrap();
    let s = vm.status().await.unwrap();
    assert_eq!(
        (s.status, s.qmpstatus.as_deref()),
        (RunState::Running, Some("paused"))
    );
    vm.action_with(Action::Resume, FAST).await.unwrap();
    assert_eq!(
        vm.status().await.unwrap().qmpstatus.as_deref(),
        Some("running")
    );
    assert_clean(&sim);
}

#[tokio::test]
async fn shutdown_timeout_is_set_and_the_rest_kept() {
    let sim = lab().await;
    let c = client(&sim).await;
    let ct = node(&c, "pve1").lxc(100);
    ct.set_shutdown_timeout(Duration::from_secs(45))
        .await
        .unwrap();
    let cfg = ct.config().await.unwrap();
    assert_eq!(cfg["startup"], "order=2,up=10,down=45");
    let fresh = node(&c, "pve1").lxc(101);
    fresh
        .set_shutdown_timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(fresh.config().await.unwrap()["startup"], "down=5");
    assert_clean(&sim);
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test]
async fn ips_come_from_config_when_stopped_and_interfaces_when_running() {
    let sim = lab().await;
    let c = client(&sim).await;
    let db = node(&c, "pve1").lxc(101);
    // Stopped: the config's static addresses; dhcp/auto yield nothing; public ones only on request.
    assert_eq!(
        db.ips(IpPolicy::default()).await.unwrap(),
        ips(&["fd00::101"])
    );
    assert_eq!(
        db.ips(IpPolicy {
            private_only: false
        })
        .await
        .unwrap(),
        ips(&["203.0.113.7", "fd00::101"])
    );
    assert!(
        db.ips_from_interfaces(IpPolicy::default())
            .await
            .unwrap()
            .is_empty()
    );
    // Running: the live interfaces, with the DHCP lease that appeared at start.
    db.action_with(Action::Start, FAST).await.unwrap();
    let live = db.ips_from_interfaces(IpPolicy::default()).await.unwrap();
    assert!(
        live.iter().any(|ip| ip.is_ipv4()),
        "a DHCP address appears after start: {live:?}"
    );
    assert!(live.iter().all(pvekit::ip::is_private));
    // Docker's bridges and veths are skipped.
    let busy = node(&c, "pve2").lxc(106);
    assert_eq!(
        busy.ips(IpPolicy::default()).await.unwrap(),
        ips(&["192.168.6.6"])
    );
    // A VM's addresses come from its guest agent; without one there are none.
    let vm = node(&c, "pve2").qemu(200);
    assert!(
        !vm.ips(IpPolicy {
            private_only: false
        })
        .await
        .unwrap()
        .is_empty()
    );
    assert!(
        node(&c, "pve2")
            .qemu(201)
            .ips(IpPolicy::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn stats_lines_have_the_seed_format() {
    let sim = lab().await;
    let c = client(&sim).await;
    let busy = node(&c, "pve2").lxc(106);
    assert_eq!(
        busy.stats_line().await.unwrap(),
        "running|31.1%|256MiB/1GiB|25.00%|117.7MiB/94.2MiB|5.3MiB/4.2MiB"
    );
    assert_eq!(
        node(&c, "pve1").lxc(101).stats_line().await.unwrap(),
        "stopped|0.0%|0B/512MiB|0.00%|0B/0B|0B/0B"
    );
    // Streaming: one line at once, then one per interval, until dropped.
    let started = std::time::Instant::now();
    let lines: Vec<String> = busy
        .stats_stream(Duration::from_millis(100))
        .take(3)
        .map(|l| l.unwrap())
        .collect()
        .await;
    assert_eq!(lines.len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_clean(&sim);
}

#[tokio::test]
async fn node_stats_are_formatted() {
    let sim = lab().await;
    let c = client(&sim).await;
    let n = node(&c, "pve1");
    let stats = n.stats().await.unwrap();
    assert!(
        !stats.kernel_version.contains(' ') && stats.kernel_version.contains("pve"),
        "{stats:?}"
    );
    assert!(
        stats
            .pve_version
            .starts_with(|ch: char| ch.is_ascii_digit()),
        "{stats:?}"
    );
    assert!(stats.cpu_usage.ends_with('%') && stats.mem_pct.ends_with('%'));
    assert!(stats.uptime.ends_with('m'));
    let json = serde_json::to_value(&stats).unwrap();
    for key in [
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
        assert!(
            json.get(key).is_some_and(|v| v.is_string()),
            "{key} missing in {json}"
        );
    }
    let two: Vec<_> = n
        .stats_stream(Duration::from_millis(50))
        .take(2)
        .collect()
        .await;
    assert!(two.iter().all(|s| s.is_ok()));
}

#[tokio::test]
async fn rrd_history_of_containers_and_vms() {
    use pvekit::types::{RrdCf, RrdTimeframe};
    let sim = lab().await;
    let c = client(&sim).await;
    let web = node(&c, "pve1").lxc(100);
    let hour = web
        .rrddata(RrdTimeframe::Hour, RrdCf::Average)
        .await
        .unwrap();
    assert_eq!(hour.len(), 60);
    assert!(hour.windows(2).all(|w| w[1].time - w[0].time == 60));
    let last = hour.last().unwrap();
    assert!(last.has_data());
    assert!(
        last.cpu.unwrap() > 0.0 && last.maxmem.unwrap() > 0.0,
        "{last:?}"
    );
    let week = web.rrddata(RrdTimeframe::Week, RrdCf::Max).await.unwrap();
    assert!(week.windows(2).all(|w| w[1].time - w[0].time == 1800));
    // A VM's history comes from the same per-VMID file.
    let vm = node(&c, "pve2")
        .qemu(200)
        .rrddata(RrdTimeframe::Hour, RrdCf::Average)
        .await
        .unwrap();
    assert!(vm.last().unwrap().has_data());
    // No history for an unknown VMID: the server's RRD error.
    match node(&c, "pve1")
        .lxc(999)
        .rrddata(RrdTimeframe::Hour, RrdCf::Average)
        .await
    {
        Err(Error::Api {
            status, message, ..
        }) => {
            assert_eq!(status, 500);
            assert!(message.starts_with("RRD error: opening"), "{message}");
        }
        other => panic!("expected the RRD error, got {other:?}"),
    }
    // The 500 for VMID 999 is the server's answer, not a rejected request.
    assert_clean(&sim);
}
