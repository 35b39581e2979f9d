//! `pvekit-bench wake`: the time [`pvekit::Waker::wake`] adds to a container's own start.
//!
//! A simulated container whose start task takes `--task-ms` and whose HTTP service answers
//! `--boot-ms` after it runs is stopped, then woken with an HTTP probe, `--iterations`
//! times. The overhead is the time from the wake call to ready minus those two delays: the
//! status check, the task polls, the address lookup and the probes that pvekit adds (goal:
//! under one probe interval). A wake of the running container (status, address, one probe)
//! is timed too.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pvekit::{Client, Config, IpPolicy, Probe, WakeOptions, Waker};
use pvekit_sim::{Scenario, ScenarioGuest, ScenarioNode, ScenarioService, SimOptions, Simulator};

use crate::{emit, emit_goal, median};

/// Options of the wake benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Wakes to time.
    #[arg(long, default_value_t = 10)]
    iterations: u32,
    /// How long the simulated start task takes.
    #[arg(long, default_value_t = 300)]
    task_ms: u64,
    /// How long the container's service takes to answer once it runs.
    #[arg(long, default_value_t = 500)]
    boot_ms: u64,
    /// The wake's probe interval (also its task poll interval).
    #[arg(long, default_value_t = 100)]
    probe_interval_ms: u64,
    /// Latency the simulator adds to every answer.
    #[arg(long, default_value_t = 2)]
    latency_ms: u64,
}

const IP: Ipv4Addr = Ipv4Addr::new(127, 81, 0, 1);

pub async fn run(a: Args) -> anyhow::Result<()> {
    if a.iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let port = std::net::TcpListener::bind((IP, 0))
        .and_then(|l| l.local_addr())
        .context("no free port on a loopback address")?
        .port();
    let web = ScenarioGuest::lxc(101, "pve1")
        .with_name("web")
        .with_net(
            0,
            format!("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:0B:01,ip={IP}/8,type=veth"),
        )
        .with_service(ScenarioService::http(port).with_ready_after_ms(a.boot_ms));
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse()?,
        scenario_inline: Some(Scenario {
            cluster: None,
            nodes: vec![ScenarioNode::new("pve1")],
            guests: vec![web],
            users: Vec::new(),
        }),
        task_duration: Duration::from_millis(a.task_ms),
        latency: Duration::from_millis(a.latency_ms),
        ..Default::default()
    })
    .await?;
    let info = sim.info();
    let client = Client::connect(&Config {
        url: info.url.clone(),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        fingerprint: Some(info.fingerprint.clone()),
        ..Default::default()
    })
    .await?;
    let guest = client.node("pve1").lxc(101);
    let interval = Duration::from_millis(a.probe_interval_ms);
    let options = WakeOptions {
        probe: Probe::Http {
            port,
            path: "/".into(),
        },
        probe_interval: interval,
        timeout: Duration::from_secs(60),
        // The simulated container's address is a loopback one.
        ip_policy: IpPolicy {
            private_only: false,
        },
        ..Default::default()
    };
    let waker = Waker::new();
    let own = Duration::from_millis(a.task_ms + a.boot_ms);
    let (mut overhead, mut running) = (Vec::new(), Vec::new());
    for _ in 0..a.iterations {
        if guest.is_running().await? {
            guest.stop().await?;
        }
        let t = Instant::now();
        let ready = waker.wake(&guest, options.clone()).ready().await?;
        let took = t.elapsed();
        if !ready.started {
            bail!("the container was running before the wake");
        }
        overhead.push(took.saturating_sub(own).as_secs_f64() * 1000.0);
        let t = Instant::now();
        waker.wake(&guest, options.clone()).ready().await?;
        running.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let max = overhead.iter().copied().fold(0.0, f64::max);
    emit("wake", "iterations", f64::from(a.iterations), "count", None);
    emit(
        "wake",
        "start_and_boot_ms",
        own.as_secs_f64() * 1000.0,
        "ms",
        None,
    );
    emit_goal(
        "wake",
        "overhead_ms_median",
        median(overhead),
        "ms",
        interval.as_secs_f64() * 1000.0,
    );
    emit("wake", "overhead_ms_max", max, "ms", None);
    emit(
        "wake",
        "already_running_ms_median",
        median(running),
        "ms",
        None,
    );
    sim.shutdown().await;
    Ok(())
}
