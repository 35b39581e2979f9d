//! `pvekit-bench steady`: the inventory at steady state on a large cluster (10,000 guests on
//! 20 nodes by default), with the simulator in a child process so only the watching process
//! is measured.
//!
//! Phase 2 runs first, on a heap that only the connection has used.
//!
//! 1. **Requests per poll**, averaged over several IP-sweep and TTL periods. Waiting out
//!    periods of minutes at a 3 s interval would take an hour, so this phase polls faster
//!    (`--fast-interval-ms`, 100 ms) with the TTL shortened by the same factor
//!    (`--fast-ip-ttl-ms`, 2 s: 60 s at 3 s polls is 20 polls, as here). The sweep is
//!    counted in polls ([`pvekit::InventoryOptions::ip_sweep_polls`]), so its share per
//!    poll does not depend on the interval. Polls are timed from start to start, as the
//!    library's poller does, and the first TTL period after the cold refresh is not counted.
//! 2. **CPU and resident memory**: a [`pvekit::watcher`] at the real 3 s interval, its events
//!    read as `pvekit watch` does, over `--steady-seconds`. The TTL is shortened to one poll
//!    (`--steady-ip-ttl-s`, 3 s) so that the sweep runs during the whole window, as it does
//!    once the default 60 s have passed. CPU is the process's user plus system time
//!    (`/proc/self/stat`, in the kernel's fixed 100 ticks per second) over wall time;
//!    resident memory is `VmRSS` of `/proc/self/status`, sampled at each event and at the
//!    end, and `VmHWM`, the peak since start (the cold refresh included). The bench's counting
//!    allocator is switched off for this command.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use pvekit::{Client, Inventory, InventoryOptions, WatchConfig, watcher};

use crate::inventory::{ChildSim, SimArgs};
use crate::{emit, emit_goal};

/// Options of the steady-state benchmark.
#[derive(clap::Args)]
pub struct Args {
    /// Containers in the cluster.
    #[arg(long, default_value_t = 10_000)]
    containers: usize,
    /// VMs in the cluster.
    #[arg(long, default_value_t = 0)]
    vms: usize,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Latency the simulator adds to every answer.
    #[arg(long, default_value_t = 2)]
    latency_ms: u64,
    /// Phase 1: the poll interval (3 s in use).
    #[arg(long, default_value_t = 100)]
    fast_interval_ms: u64,
    /// Phase 1: the IP time-to-live (60 s in use).
    #[arg(long, default_value_t = 2000)]
    fast_ip_ttl_ms: u64,
    /// Phase 1: how many sweep periods to average over.
    #[arg(long, default_value_t = 3)]
    sweep_periods: u32,
    /// Phase 2: seconds of watching at the 3 s interval over which CPU and memory are
    /// measured (0 skips the phase).
    #[arg(long, default_value_t = 60)]
    steady_seconds: u64,
    /// Phase 2: the IP time-to-live.
    #[arg(long, default_value_t = 3)]
    steady_ip_ttl_s: u64,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    crate::alloc::stop_counting();
    let sim = ChildSim::start(&SimArgs {
        containers: a.containers,
        vms: a.vms,
        nodes: a.nodes,
        latency_ms: a.latency_ms,
        seed: 1,
    })
    .await?;
    let client = Client::connect(&sim.config()?).await?;
    emit(
        "steady",
        "rss_connected",
        crate::procfs::resident_kib("self", "VmRSS")? as f64 / 1024.0,
        "MiB",
        None,
    );
    // Memory first, before the fast polls have churned the heap.
    if a.steady_seconds > 0 {
        cpu_and_memory(&a, &client).await?;
    }
    requests_per_poll(&a, &client).await?;
    sim.stop().await;
    Ok(())
}

async fn requests_per_poll(a: &Args, client: &Client) -> anyhow::Result<()> {
    let interval = Duration::from_millis(a.fast_interval_ms.max(1));
    let ip_ttl = Duration::from_millis(a.fast_ip_ttl_ms);
    let options = InventoryOptions {
        ip_ttl,
        ..Default::default()
    };
    let inv = Inventory::new(client.clone(), options);
    let t = Instant::now();
    inv.refresh().await?;
    let cold_ms = t.elapsed().as_secs_f64() * 1000.0;
    let guests = inv.snapshot().guests().len();
    if guests == 0 {
        bail!("the simulated cluster has no guests");
    }
    emit("steady", "guests", guests as f64, "count", None);
    emit("steady", "cold_refresh_ms", cold_ms, "ms", None);

    let ttl_polls = ip_ttl.as_nanos().div_ceil(interval.as_nanos()) as u32;
    let sweep_polls = options.ip_sweep_polls.max(1);
    let measured = a.sweep_periods.max(1) * sweep_polls.max(ttl_polls);
    let mut counts = Vec::new();
    let mut poll_ms = Vec::new();
    let mut next = tokio::time::Instant::now();
    for poll in 0..ttl_polls + measured {
        next += interval;
        tokio::time::sleep_until(next).await;
        let before = client.requests_sent();
        let t = Instant::now();
        inv.refresh().await?;
        if poll >= ttl_polls {
            counts.push(client.requests_sent() - before);
            poll_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        // A poll longer than the interval delays the next one (as the poller does).
        next = next.max(tokio::time::Instant::now());
    }
    let polls = counts.len() as f64;
    let mean = counts.iter().sum::<u64>() as f64 / polls;
    let max = counts.iter().copied().max().unwrap_or(0);
    emit("steady", "polls_averaged", polls, "count", None);
    emit_goal(
        "steady",
        "requests_per_poll",
        mean,
        "requests",
        1.0 + guests as f64 / 100.0,
    );
    emit(
        "steady",
        "requests_per_poll_max",
        max as f64,
        "requests",
        None,
    );
    emit(
        "steady",
        "poll_ms_median",
        crate::median(poll_ms),
        "ms",
        None,
    );
    Ok(())
}

async fn cpu_and_memory(a: &Args, client: &Client) -> anyhow::Result<()> {
    let config = WatchConfig {
        inventory: InventoryOptions {
            ip_ttl: Duration::from_secs(a.steady_ip_ttl_s),
            ..Default::default()
        },
        ..Default::default()
    };
    let interval = config.interval;
    let mut events = Box::pin(watcher(client.clone(), config));
    // The first event is the cold listing; the window starts one poll after it.
    events.next().await.context("the watcher ended")??;
    let warm_up = tokio::time::Instant::now() + interval + interval / 2;
    let mut changes = 0usize;
    while let Ok(event) = tokio::time::timeout_at(warm_up, events.next()).await {
        event.context("the watcher ended")??;
    }
    let window = Duration::from_secs(a.steady_seconds);
    let (cpu0, wall0) = (crate::procfs::cpu_seconds("self")?, Instant::now());
    let requests0 = client.requests_sent();
    let end = tokio::time::Instant::now() + window;
    let mut rss_max = crate::procfs::resident_kib("self", "VmRSS")?;
    while let Ok(event) = tokio::time::timeout_at(end, events.next()).await {
        if let pvekit::WatchEvent::Changed { changes: c, .. } =
            event.context("the watcher ended")??
        {
            changes += c.len();
        }
        rss_max = rss_max.max(crate::procfs::resident_kib("self", "VmRSS")?);
    }
    let (cpu, wall) = (
        crate::procfs::cpu_seconds("self")? - cpu0,
        wall0.elapsed().as_secs_f64(),
    );
    let rss = crate::procfs::resident_kib("self", "VmRSS")?;
    emit("steady", "watch_seconds", wall, "s", None);
    // The watcher waits the interval after each poll, so a period is a little longer.
    emit(
        "steady",
        "watch_requests_per_second",
        (client.requests_sent() - requests0) as f64 / wall,
        "requests/s",
        None,
    );
    emit("steady", "watch_changes", changes as f64, "count", None);
    // CPU time per poll interval of wall time (a poll and its wait take a little longer).
    emit(
        "steady",
        "cpu_ms_per_interval",
        1000.0 * cpu / wall * interval.as_secs_f64(),
        "ms",
        None,
    );
    emit_goal("steady", "cpu", 100.0 * cpu / wall, "% of a core", 1.0);
    emit_goal("steady", "rss", rss as f64 / 1024.0, "MiB", 20.0);
    emit("steady", "rss_max", rss_max as f64 / 1024.0, "MiB", None);
    // What `rss` is made of: the heap and stacks, and the pages of the binary and libraries
    // (the same for 10 guests as for 10,000).
    emit(
        "steady",
        "rss_anon",
        crate::procfs::resident_kib("self", "RssAnon")? as f64 / 1024.0,
        "MiB",
        None,
    );
    emit(
        "steady",
        "rss_file",
        crate::procfs::resident_kib("self", "RssFile")? as f64 / 1024.0,
        "MiB",
        None,
    );
    emit(
        "steady",
        "rss_peak_since_start",
        crate::procfs::resident_kib("self", "VmHWM")? as f64 / 1024.0,
        "MiB",
        None,
    );
    Ok(())
}
