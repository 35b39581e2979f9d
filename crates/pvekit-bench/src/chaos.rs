//! `pvekit-bench chaos --seconds N`: the library under a random fault schedule.
//!
//! A simulated three-node cluster (in this process, so its control handle can change the
//! faults) serves, while faults come and go: an inventory polled every `--poll-ms` (the
//! watcher's machinery), a watcher stream, 20 stats loops, a loop of exec calls, journal
//! follows and power actions. Every operation has a timeout; one that neither finished nor
//! failed within it is a hang. The faults are drawn from the simulator's schedule kinds
//! (latency spikes, stalls, resets, truncated and malformed answers, 502/503/595/596, tickets
//! invalidated, terminal drops, termproxy without OK, a node's listener stopped), each for a
//! few seconds, then cleared.
//!
//! Printed (JSON lines, as the other benches): operations by kind and outcome, panics (goal
//! 0), hangs (goal 0), snapshots lost (the inventory empty after it had guests; goal 0),
//! polls until recovery after each fault cleared (goal 1), and tokio tasks, file descriptors
//! and resident memory at start and end (goal: no growth beyond a small constant).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
use futures_util::StreamExt;
use pvekit::{
    Action, Client, Config, Inventory, InventoryOptions, JournalOptions, WatchConfig, watcher,
};
use pvekit_sim::{
    Fault, FaultKind, RunningSim, Scenario, ScenarioGuest, ScenarioNode, SimOptions, Simulator,
};
use rand::{Rng, SeedableRng};

use crate::emit;

/// Options of the chaos soak.
#[derive(clap::Args)]
pub struct Args {
    /// How long the soak runs.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// The inventory's poll interval.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// Seed of the fault schedule (and of the simulator).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Exit with status 1 when a zero goal is missed (for the test suite).
    #[arg(long)]
    pub check: bool,
}

/// Outcomes by operation kind.
#[derive(Default)]
struct Tally {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    hangs: AtomicU64,
}

impl Tally {
    fn add(&self, op: &'static str, outcome: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((op, outcome))
            .or_default() += 1;
        if outcome == "hang" {
            self.hangs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Runs `fut` within `limit`, counting its outcome.
    async fn run<T>(
        &self,
        op: &'static str,
        limit: Duration,
        fut: impl Future<Output = pvekit::Result<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(v)) => {
                self.add(op, "ok");
                Some(v)
            }
            Ok(Err(e)) => {
                tracing_log(op, &e);
                self.add(op, "error");
                None
            }
            Err(_) => {
                self.add(op, "hang");
                None
            }
        }
    }
}

static PANICS: AtomicU64 = AtomicU64::new(0);

fn scenario() -> Scenario {
    let nodes = ["pve1", "pve2", "pve3"];
    let mut guests = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for j in 0..4u32 {
            let vmid = 100 + (i as u32) * 10 + j;
            let ip = format!("10.{}.0.{}", i + 1, j + 10);
            let mut g = ScenarioGuest::lxc(vmid, *node)
                .with_name(format!("ct{vmid}"))
                .with_net(
                    0,
                    format!("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:{i:02X}:{j:02X},ip={ip}/24,type=veth"),
                );
            if j < 3 {
                g = g.running();
            }
            guests.push(g);
        }
    }
    Scenario {
        cluster: Some("chaos".into()),
        nodes: nodes.iter().map(|n| ScenarioNode::new(*n)).collect(),
        guests,
        users: Vec::new(),
    }
}

/// A random fault, by kind (the node listener stop is handled apart).
fn random_fault(rng: &mut rand::rngs::StdRng) -> (String, Fault) {
    let p = rng.random_range(0.1..0.6);
    let (name, kind) = match rng.random_range(0..11) {
        0 => (
            "latency",
            FaultKind::Latency {
                ms: rng.random_range(200..1500),
                jitter_ms: 200,
            },
        ),
        1 => ("stall", FaultKind::Stall),
        2 => ("reset", FaultKind::Reset),
        3 => (
            "reset_mid_body",
            FaultKind::ResetMidBody { after_bytes: None },
        ),
        4 => ("truncate", FaultKind::Truncate { after_bytes: None }),
        5 => ("malformed_json", FaultKind::MalformedJson),
        6 => (
            "status_502",
            FaultKind::Status {
                code: 502,
                reason: None,
            },
        ),
        7 => (
            "status_595",
            FaultKind::Status {
                code: 595,
                reason: Some("No route to host".into()),
            },
        ),
        8 => (
            "status_596",
            FaultKind::Status {
                code: 596,
                reason: Some("Broken pipe".into()),
            },
        ),
        9 => (
            "websocket_drop",
            FaultKind::WebsocketDrop {
                after_bytes: Some(rng.random_range(1..4096)),
                after_ms: None,
            },
        ),
        _ => ("termproxy_no_ok", FaultKind::TermproxyNoOk),
    };
    let fault = Fault::new(kind).probability(p);
    (name.to_string(), fault)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        default_hook(info);
    }));
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse()?,
        scenario_inline: Some(scenario()),
        task_duration: Duration::from_millis(300),
        seed: a.seed,
        ..Default::default()
    })
    .await?;
    let info = sim.info();
    // Every node's address, each pinned: the client moves on when one stops answering.
    let config = Config {
        url: info.url.clone(),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        username: Some(info.username.clone()),
        password: Some(info.password.clone().into()),
        fingerprint: Some(info.fingerprint.clone()),
        endpoints: info
            .nodes
            .iter()
            .skip(1)
            .map(|n| pvekit::Endpoint {
                url: n.url.clone(),
                fingerprint: Some(n.fingerprint.clone()),
            })
            .collect(),
        ..Default::default()
    };
    let client = Client::connect(&config).await?;
    let tally = Arc::new(Tally::default());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.seconds);
    // Let the runtime settle before the start figures.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tasks0 = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let (fds0, rss0) = (open_fds(), rss_kib());

    let mut workers = tokio::task::JoinSet::new();
    // The inventory, polled as the watcher does, with the recovery bookkeeping.
    let recovery = Arc::new(Mutex::new(Recovery::default()));
    let lost = Arc::new(AtomicU64::new(0));
    {
        let (client, tally, recovery, lost) = (
            client.clone(),
            tally.clone(),
            recovery.clone(),
            lost.clone(),
        );
        let interval = Duration::from_millis(a.poll_ms);
        workers.spawn(async move {
            let inv = Inventory::new(client, InventoryOptions::default());
            let mut had = 0;
            while tokio::time::Instant::now() < deadline {
                let started = tokio::time::Instant::now();
                let ok = tally
                    .run("inventory_poll", Duration::from_secs(30), inv.refresh())
                    .await
                    .is_some();
                let n = inv.snapshot().guests().len();
                if had > 0 && n == 0 {
                    lost.fetch_add(1, Ordering::Relaxed);
                }
                had = had.max(n);
                recovery
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .poll(started, ok);
                tokio::time::sleep(interval).await;
            }
        });
    }
    // A watcher stream, read continuously.
    {
        let (client, tally) = (client.clone(), tally.clone());
        workers.spawn(async move {
            let mut events = Box::pin(watcher(client, WatchConfig::default()));
            while tokio::time::Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_secs(60), events.next()).await {
                    Ok(Some(Ok(_))) => tally.add("watch_event", "ok"),
                    Ok(Some(Err(_))) => tally.add("watch_event", "error"),
                    Ok(None) => {
                        tally.add("watch_event", "ended");
                        break;
                    }
                    // No change for a minute is not a hang: nothing may have changed.
                    Err(_) => {}
                }
            }
        });
    }
    // 20 stats loops over the running containers.
    for i in 0..20u32 {
        let (client, tally) = (client.clone(), tally.clone());
        workers.spawn(async move {
            let node = format!("pve{}", i % 3 + 1);
            let vmid = 100 + u64::from(i % 3) * 10 + u64::from(i % 3);
            let guest = client.node(&node).lxc(vmid);
            while tokio::time::Instant::now() < deadline {
                tally
                    .run("stats", Duration::from_secs(30), guest.stats_line())
                    .await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    // Exec calls on a node and in a container.
    {
        let (client, tally) = (client.clone(), tally.clone());
        workers.spawn(async move {
            let node = client.node("pve1");
            let ct = node.lxc(100);
            let mut n = 0u64;
            while tokio::time::Instant::now() < deadline {
                n += 1;
                let run = async {
                    let stream = if n.is_multiple_of(2) {
                        node.command("echo ok").await?
                    } else {
                        ct.command("echo ok").await?
                    };
                    stream.output().await
                };
                if let Some((out, status)) = tally.run("exec", Duration::from_secs(60), run).await
                    && (out != b"ok\n" || status != 0)
                {
                    tally.add("exec", "wrong_output");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    // Journal follows, each read for a while and dropped.
    {
        let (client, tally) = (client.clone(), tally.clone());
        workers.spawn(async move {
            let ct = client.node("pve2").lxc(110);
            while tokio::time::Instant::now() < deadline {
                let follow = async {
                    let mut journal = ct.journal(&JournalOptions::last(5).follow()).await?;
                    let until = tokio::time::Instant::now() + Duration::from_secs(2);
                    while let Ok(Some(chunk)) = tokio::time::timeout_at(until, journal.next()).await
                    {
                        chunk?;
                    }
                    Ok(())
                };
                tally.run("journal", Duration::from_secs(60), follow).await;
            }
        });
    }
    // Power actions on a container kept for them.
    {
        let (client, tally) = (client.clone(), tally.clone());
        workers.spawn(async move {
            let ct = client.node("pve3").lxc(123);
            while tokio::time::Instant::now() < deadline {
                // From the state the server reports (an action that failed on the way back
                // may still have been done).
                let Some(running) = tally
                    .run("power_status", Duration::from_secs(30), ct.is_running())
                    .await
                else {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                };
                let action = if running { Action::Stop } else { Action::Start };
                let act = async {
                    ct.begin(action)
                        .await?
                        .options(pvekit::WaitOptions {
                            timeout: Duration::from_secs(30),
                            ..Default::default()
                        })
                        .wait()
                        .await
                };
                tally.run("power", Duration::from_secs(60), act).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    // The fault schedule.
    let faults = chaos(&sim, a.seed, deadline, recovery.clone()).await;

    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined
            && e.is_panic()
        {
            // Counted by the hook.
        }
    }
    drop(client);
    // Closed sessions and pooled connections wind down.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tasks1 = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let (fds1, rss1) = (open_fds(), rss_kib());
    sim.shutdown().await;

    let counts = tally
        .counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for ((op, outcome), n) in &counts {
        emit(
            "chaos",
            &format!("{op}_{outcome}"),
            *n as f64,
            "count",
            None,
        );
    }
    let recovery = recovery.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let panics = PANICS.load(Ordering::Relaxed);
    let hangs = tally.hangs.load(Ordering::Relaxed);
    let lost = lost.load(Ordering::Relaxed);
    emit("chaos", "seconds", a.seconds as f64, "s", None);
    emit("chaos", "faults", faults as f64, "count", None);
    emit("chaos", "panics", panics as f64, "count", None);
    emit("chaos", "hangs", hangs as f64, "count", None);
    emit("chaos", "snapshots_lost", lost as f64, "count", None);
    let worst = recovery.polls.iter().copied().max().unwrap_or(0);
    emit(
        "chaos",
        "recoveries",
        recovery.polls.len() as f64,
        "count",
        None,
    );
    emit(
        "chaos",
        "polls_until_recovery_max",
        worst as f64,
        "polls",
        None,
    );
    emit("chaos", "tasks_start", tasks0 as f64, "count", None);
    emit("chaos", "tasks_end", tasks1 as f64, "count", None);
    emit("chaos", "fds_start", fds0 as f64, "count", None);
    emit("chaos", "fds_end", fds1 as f64, "count", None);
    emit("chaos", "rss_start", rss0 as f64 / 1024.0, "MiB", None);
    emit("chaos", "rss_end", rss1 as f64 / 1024.0, "MiB", None);
    if a.check {
        let mut missed = Vec::new();
        if panics > 0 {
            missed.push(format!("{panics} panics"));
        }
        if hangs > 0 {
            missed.push(format!("{hangs} hangs"));
        }
        if lost > 0 {
            missed.push(format!("{lost} snapshots lost"));
        }
        if worst > 1 {
            missed.push(format!("a recovery took {worst} polls"));
        }
        // The soak did its work: every kind of operation succeeded at least once.
        for op in ["inventory_poll", "stats", "exec", "journal", "power"] {
            if !counts.contains_key(&(op, "ok")) {
                missed.push(format!("no {op} succeeded"));
            }
        }
        // A few tasks and descriptors may belong to the runtime's own housekeeping.
        if tasks1 > tasks0 + 5 {
            missed.push(format!("tasks grew from {tasks0} to {tasks1}"));
        }
        if fds1 > fds0 + 10 {
            missed.push(format!("file descriptors grew from {fds0} to {fds1}"));
        }
        if !missed.is_empty() {
            bail!("chaos goals missed: {}", missed.join(", "));
        }
    }
    Ok(())
}

/// Polls started after each fault cleared, until the inventory's first good one (a poll
/// that was in flight when the fault cleared does not count).
#[derive(Debug, Default, Clone)]
struct Recovery {
    /// When the last fault cleared, which it was, and the polls counted since.
    counting: Option<(tokio::time::Instant, String, u32)>,
    polls: Vec<u32>,
}

impl Recovery {
    fn cleared(&mut self, fault: String) {
        self.counting = Some((tokio::time::Instant::now(), fault, 0));
    }

    fn poll(&mut self, started: tokio::time::Instant, ok: bool) {
        if let Some((since, fault, n)) = self.counting.as_mut()
            && started >= *since
        {
            *n += 1;
            if ok {
                if *n > 1 {
                    eprintln!("chaos: recovery from {fault} took {n} polls");
                }
                self.polls.push(*n);
                self.counting = None;
            }
        }
    }
}

/// Adds a random fault for 1 to 4 s, clears it, waits 1 to 3 s, until the deadline; the
/// number of faults.
async fn chaos(
    sim: &RunningSim,
    seed: u64,
    deadline: tokio::time::Instant,
    recovery: Arc<Mutex<Recovery>>,
) -> u64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let control = sim.control();
    let mut n = 0;
    loop {
        let calm = Duration::from_millis(rng.random_range(1000..3000));
        if tokio::time::Instant::now() + calm + Duration::from_secs(5) >= deadline {
            break;
        }
        tokio::time::sleep(calm).await;
        let on = Duration::from_millis(rng.random_range(1000..4000));
        n += 1;
        match rng.random_range(0..8) {
            // A node's pveproxy down, any of the three (the client knows every address).
            0 => {
                let node = ["pve1", "pve2", "pve3"][rng.random_range(0..3)];
                let _ = control.stop_listener(node).await;
                tokio::time::sleep(on).await;
                let _ = control.start_listener(node);
                recovery
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .cleared(format!("listener_{node}"));
                continue;
            }
            1 => {
                control.invalidate_tickets();
                tokio::time::sleep(on).await;
                recovery
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .cleared("invalidate_tickets".into());
                continue;
            }
            _ => {
                let (name, fault) = random_fault(&mut rng);
                if control.faults().add(fault).is_err() {
                    continue;
                }
                tokio::time::sleep(on).await;
                control.faults().clear();
                recovery
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .cleared(name);
            }
        }
    }
    n
}

/// With `PVEKIT_CHAOS_ERRORS` set, each failed operation's error on stderr.
fn tracing_log(op: &str, e: &pvekit::Error) {
    if std::env::var_os("PVEKIT_CHAOS_ERRORS").is_some() {
        eprintln!("{op}: {e}");
    }
}
