//! `pvekit-bench inventory`: cold refresh time against its lower bound, requests per
//! steady-state poll, heap bytes per guest.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pvekit::{Client, Config, Inventory, InventoryOptions};
use pvekit_sim::{SimOptions, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::{alloc, emit};

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
    let options = InventoryOptions::default();
    let latency = a.sim.latency_ms as f64;

    let mut times = Vec::new();
    let mut guests = 0;
    let mut requests = 0;
    for _ in 0..a.rounds.max(1) {
        let inv = Inventory::new(client.clone(), options);
        let sent = client.requests_sent();
        let t = Instant::now();
        inv.refresh().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        requests = client.requests_sent() - sent;
        guests = inv.snapshot().guests().len();
    }
    if guests == 0 {
        bail!("the simulated cluster has no guests");
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    // One /cluster/resources, then the IP requests with at most K in flight: no client can
    // be faster than that many round trips of the injected latency.
    let k = options.max_in_flight;
    let ip_requests = requests.saturating_sub(1);
    let bound = latency * (1.0 + (ip_requests as f64 / k as f64).ceil());
    emit("inventory", "cold_refresh_ms", median, "ms", Some(bound));
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
    let before_mem = alloc::live_bytes();
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
    let after_mem = alloc::live_bytes();
    let per_guest = (after_mem - before_mem) as f64 / guests as f64;
    emit(
        "inventory",
        "memory_per_guest",
        per_guest.max(0.0),
        "bytes",
        None,
    );
    drop(inv);
    sim.stop().await;
    Ok(())
}
