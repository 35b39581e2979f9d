//! `pvekit-bench inventory`: cold refresh time against its lower bound and next to a raw
//! client's (see [`crate::raw_inventory`]) in the same run, requests per steady-state poll,
//! heap bytes per guest.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pvekit::{Client, Config, Inventory, InventoryOptions};
use pvekit_sim::{SimOptions, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::raw_inventory::RawInventory;
use crate::{alloc, emit, emit_goal, median};

/// Options of the inventory benchmark.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sim: SimArgs,
    /// Cold refreshes to time (the median is reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// The simulated cluster.
#[derive(clap::Args, Clone)]
pub struct SimArgs {
    /// Containers in the cluster.
    #[arg(long, default_value_t = 1000)]
    pub containers: usize,
    /// VMs in the cluster.
    #[arg(long, default_value_t = 0)]
    pub vms: usize,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Latency the simulator adds to every answer.
    #[arg(long, default_value_t = 2)]
    pub latency_ms: u64,
    /// Seed of the generated cluster.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs the simulator until stdin closes (the parent exited) and prints its JSON line.
pub async fn serve_sim(a: SimArgs) -> anyhow::Result<()> {
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse()?,
        nodes: a.nodes,
        containers: a.containers,
        vms: a.vms,
        seed: a.seed,
        latency: Duration::from_millis(a.latency_ms),
        ..Default::default()
    })
    .await?;
    println!("{}", serde_json::to_string(sim.info())?);
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    sim.shutdown().await;
    Ok(())
}

/// A simulator in a child process; it exits when this handle is dropped (stdin closes).
pub struct ChildSim {
    child: tokio::process::Child,
    /// The simulator's info line.
    pub info: serde_json::Value,
}

impl ChildSim {
    /// Starts `pvekit-bench serve-sim` with these options and reads its info line.
    pub async fn start(sim: &SimArgs) -> anyhow::Result<ChildSim> {
        let exe = std::env::current_exe().context("cannot find my own binary")?;
        let mut child = tokio::process::Command::new(exe)
            .args([
                "serve-sim",
                "--containers",
                &sim.containers.to_string(),
                "--vms",
                &sim.vms.to_string(),
                "--nodes",
                &sim.nodes.to_string(),
                "--latency-ms",
                &sim.latency_ms.to_string(),
                "--seed",
                &sim.seed.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the simulator")?;
        let stdout = child.stdout.take().context("no simulator stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        let info: serde_json::Value =
            serde_json::from_str(&line).context("simulator did not print its JSON line")?;
        Ok(ChildSim { child, info })
    }

    /// A field of the info line.
    pub fn field(&self, k: &str) -> anyhow::Result<String> {
        self.info[k]
            .as_str()
            .map(str::to_string)
            .context("missing field in simulator info")
    }

    /// Token auth, plus the root@pam login (terminals need it), certificate pinned.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config {
            url: self.field("url")?,
            token_id: Some(self.field("token_id")?),
            secret: Some(self.field("secret")?.into()),
            username: Some(self.field("username")?),
            password: Some(self.field("password")?.into()),
            fingerprint: Some(self.field("fingerprint")?),
            ..Default::default()
        })
    }

    /// Stops the simulator.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let sim = ChildSim::start(&a.sim).await?;
    let config = sim.config()?;
    let client = Client::connect(&config).await?;
    let raw = RawInventory::new(&sim)?;
    let options = InventoryOptions::default();
    let latency = a.sim.latency_ms as f64;
    // The raw client keeps as many requests in flight as the library.
    let k = options.max_in_flight;

    // Both clients refresh in turns in the same run, after one refresh each that is not
    // counted (it opens the connections a warm client keeps).
    let (mut lib_times, mut raw_times) = (Vec::new(), Vec::new());
    let (mut guests, mut requests, mut with_ips) = (0, 0, 0);
    let (mut raw_guests, mut raw_requests, mut raw_with_ips) = (0, 0, 0);
    for round in 0..=a.rounds.max(1) {
        let inv = Inventory::new(client.clone(), options);
        let sent = client.requests_sent();
        let t = Instant::now();
        inv.refresh().await?;
        let lib_ms = t.elapsed().as_secs_f64() * 1000.0;
        requests = client.requests_sent() - sent;
        let snapshot = inv.snapshot();
        guests = snapshot.guests().len();
        with_ips = snapshot
            .guests()
            .iter()
            .filter(|g| !g.ips.is_empty())
            .count();
        drop((inv, snapshot));

        let sent = raw.requests_sent();
        let t = Instant::now();
        let found = raw.refresh(k).await?;
        let raw_ms = t.elapsed().as_secs_f64() * 1000.0;
        raw_requests = raw.requests_sent() - sent;
        raw_guests = found.guests;
        raw_with_ips = found.with_ips;
        if round > 0 {
            lib_times.push(lib_ms);
            raw_times.push(raw_ms);
        }
    }
    if guests == 0 {
        bail!("the simulated cluster has no guests");
    }
    if (guests, requests, with_ips) != (raw_guests, raw_requests, raw_with_ips) {
        bail!(
            "the clients did not do the same work: the library found IPs for {with_ips} of {guests} guests in {requests} requests, the raw client for {raw_with_ips} of {raw_guests} in {raw_requests}"
        );
    }
    let lib = median(lib_times);
    let raw_ms = median(raw_times);
    // One /cluster/resources, then the IP requests with at most K in flight: no client can
    // be faster than that many round trips of the injected latency.
    let ip_requests = requests.saturating_sub(1);
    let bound = latency * (1.0 + (ip_requests as f64 / k as f64).ceil());
    emit("inventory", "cold_refresh_ms", lib, "ms", Some(bound));
    emit(
        "inventory",
        "raw_cold_refresh_ms",
        raw_ms,
        "ms",
        Some(bound),
    );
    emit_goal(
        "inventory",
        "cold_refresh_vs_raw",
        lib / raw_ms,
        "ratio",
        1.1,
    );
    emit("inventory", "guests", guests as f64, "count", None);
    emit(
        "inventory",
        "cold_refresh_requests",
        requests as f64,
        "requests",
        None,
    );
    emit("inventory", "ip_lookups_in_flight", k as f64, "count", None);

    // Steady state: nothing changed, so one poll is one request.
    let inv = Inventory::new(client.clone(), options);
    inv.refresh().await?;
    let before = client.requests_sent();
    inv.refresh().await?;
    let steady = client.requests_sent() - before;
    emit(
        "inventory",
        "steady_poll_requests",
        steady as f64,
        "requests",
        Some(1.0),
    );
    // What the inventory holds: the heap in use with it, less the heap in use once it is
    // dropped (the client and its connections stay). Fixed costs, such as the event
    // channel, count too, spread over the guests.
    let (held, held_chunks) = (alloc::live_bytes(), alloc::live_chunk_bytes());
    drop(inv);
    let per_guest = (held - alloc::live_bytes()) as f64 / guests as f64;
    let per_guest_malloc = (held_chunks - alloc::live_chunk_bytes()) as f64 / guests as f64;
    emit_goal(
        "inventory",
        "memory_per_guest",
        per_guest.max(0.0),
        "bytes",
        1024.0,
    );
    emit_goal(
        "inventory",
        "memory_per_guest_with_malloc_overhead",
        per_guest_malloc.max(0.0),
        "bytes",
        1024.0,
    );
    sim.stop().await;
    Ok(())
}
