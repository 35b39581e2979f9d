//! `pvekit-bench serve`: what many subscribers cost `pvekit serve`.
//!
//! The simulator and the server each run in a child process (this binary's hidden
//! `serve-sim` and `serve-server` commands), so the server's CPU and memory are its own.
//! The server child prints how many upstream requests its clients have sent, once a second.
//!
//! 1. Upstream requests per second with 1, then with N subscribers to guests' stats
//!    (GoDoxy's `/api/v1/proxmox/stats/NODE/VMID` WebSocket, pinging every 2 s, as GoDoxy's
//!    web UI does). Goal: the same (stats come from the shared inventory).
//! 2. The delay from an inventory change (a container started through the simulator's API,
//!    from the moment the simulator reports it running) to each of N subscribers of
//!    `/api/v1/events/ws` receiving it: p50 and p99 (at most one poll interval plus the
//!    server's work), and the spread between the first and the last subscriber (the
//!    fan-out alone).
//! 3. CPU (share of one core) and resident memory of the server in each phase.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use pvekit::{Action, Client};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::Child;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::inventory::{ChildSim, SimArgs};
use crate::procfs::{cpu_seconds, resident_kib};
use crate::{emit, emit_goal};

const BENCH: &str = "serve";

/// Flags of `pvekit-bench serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Subscribers in the many-subscribers phases.
    #[arg(long, default_value_t = 500)]
    pub subscribers: usize,
    /// Seconds each request-rate phase lasts.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// The server's inventory poll interval, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Inventory changes timed in the delay phase.
    #[arg(long, default_value_t = 5)]
    pub changes: usize,
    /// The simulated cluster.
    #[command(flatten)]
    pub sim: SimArgs,
}

/// Flags of the hidden `serve-server` command.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// The simulator's info line (JSON).
    #[arg(long)]
    pub sim_info: String,
    /// Inventory poll interval, milliseconds.
    #[arg(long)]
    pub interval_ms: u64,
}

/// The server child: serves the simulator's cluster, prints its ready line, then the
/// upstream requests sent so far once a second, until stdin closes.
pub async fn serve_server(a: ServerArgs) -> anyhow::Result<()> {
    let info: serde_json::Value = serde_json::from_str(&a.sim_info)?;
    let field = |k: &str| info[k].as_str().map(str::to_string).context("sim info");
    let config = pvekit::Config {
        url: field("url")?,
        token_id: Some(field("token_id")?),
        secret: Some(field("secret")?.into()),
        username: Some(field("username")?),
        password: Some(field("password")?.into()),
        fingerprint: Some(field("fingerprint")?),
        ..Default::default()
    };
    let client = Client::connect(&config).await?;
    let mut options = pvekit_serve::ServeOptions {
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    };
    options.watch.interval = Duration::from_millis(a.interval_ms);
    let running = pvekit_serve::Server::start(vec![client.clone()], options).await?;
    println!("{}", running.ready_line());
    let counting = tokio::spawn(async move {
        loop {
            println!("{{\"requests\": {}}}", client.requests_sent());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    counting.abort();
    running.shutdown().await;
    Ok(())
}

/// The server child and what it reports.
struct ChildServer {
    child: Child,
    url: String,
    token: String,
    pid: String,
    requests: Arc<AtomicU64>,
}

impl ChildServer {
    async fn start(sim: &ChildSim, interval_ms: u64) -> anyhow::Result<ChildServer> {
        let exe = std::env::current_exe().context("cannot find my own binary")?;
        let mut child = tokio::process::Command::new(exe)
            .args([
                "serve-server",
                "--sim-info",
                &sim.info.to_string(),
                "--interval-ms",
                &interval_ms.to_string(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the server")?;
        let pid = child.id().context("server pid")?.to_string();
        let mut lines = BufReader::new(child.stdout.take().context("server stdout")?).lines();
        let ready = lines
            .next_line()
            .await?
            .context("the server printed no ready line")?;
        let ready: serde_json::Value = serde_json::from_str(&ready)?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(n) = v["requests"].as_u64()
                {
                    counter.store(n, Ordering::Relaxed);
                }
            }
        });
        Ok(ChildServer {
            child,
            url: ready["url"].as_str().context("url")?.to_string(),
            token: ready["token"].as_str().context("token")?.to_string(),
            pid,
            requests,
        })
    }

    async fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(server: &ChildServer, path: &str) -> anyhow::Result<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let host = server.url.trim_start_matches("http://");
    let mut req = format!("ws://{host}{path}").into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {}", server.token).parse()?);
    let tcp = tokio::net::TcpStream::connect(host).await?;
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => {
            // The server's JSON error says why.
            let why = reqwest::Client::new()
                .get(format!("{}{path}", server.url))
                .bearer_auth(&server.token)
                .send()
                .await?
                .text()
                .await?;
            bail!("WebSocket {path}: {e}: {why}")
        }
    }
}

/// A subscriber as GoDoxy's web UI is one: reads every message, pings every 2 s. Returns
/// the messages read when `stop` fires.
async fn subscriber(mut ws: Ws, stop: tokio_util_like::Stop) -> u64 {
    let mut ping = tokio::time::interval(Duration::from_secs(2));
    let mut messages = 0;
    loop {
        tokio::select! {
            () = stop.wait() => break,
            _ = ping.tick() => {
                if ws.send(Message::Text("ping".into())).await.is_err() {
                    break;
                }
            }
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) if t.as_str() != "pong" => messages += 1,
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    let _ = ws.close(None).await;
    messages
}

/// A stop signal shared by many tasks (a watch channel).
mod tokio_util_like {
    /// Fires once for every holder.
    #[derive(Clone)]
    pub struct Stop(pub tokio::sync::watch::Receiver<bool>);
    impl Stop {
        pub async fn wait(&self) {
            let mut rx = self.0.clone();
            let _ = rx.wait_for(|v| *v).await;
        }
    }
}

/// The VMIDs of the guests a `listed` or `update` message shows running, found without
/// parsing the whole message: each row is a flat object, so the row of a `"vmid":N` runs
/// from the `{` before it to the `}` after it.
fn running_vmids(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("\"vmid\":").map(|i| i + from) {
        let digits_at = i + 7;
        let digits: String = text[digits_at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let start = text[..i].rfind('{').unwrap_or(0);
        let end = text[i..].find('}').map_or(text.len(), |e| e + i);
        if text[start..end].contains("\"status\":\"running\"")
            && let Ok(v) = digits.parse()
        {
            out.push(v);
        }
        from = digits_at;
    }
    out
}

/// The server's CPU share and resident memory over a phase.
struct Meter {
    pid: String,
    cpu0: f64,
    wall0: Instant,
    requests0: u64,
}

impl Meter {
    fn start(server: &ChildServer) -> anyhow::Result<Meter> {
        Ok(Meter {
            pid: server.pid.clone(),
            cpu0: cpu_seconds(&server.pid)?,
            wall0: Instant::now(),
            requests0: server.requests.load(Ordering::Relaxed),
        })
    }

    /// (requests per second, CPU share in percent, resident MiB).
    fn read(&self, server: &ChildServer) -> anyhow::Result<(f64, f64, f64)> {
        let wall = self.wall0.elapsed().as_secs_f64();
        let requests = server.requests.load(Ordering::Relaxed) - self.requests0;
        let cpu = (cpu_seconds(&self.pid)? - self.cpu0) / wall * 100.0;
        let rss = resident_kib(&self.pid, "VmRSS")? as f64 / 1024.0;
        Ok((requests as f64 / wall, cpu, rss))
    }
}

/// Waits until the server's inventory lists guests, and returns them.
async fn guests(server: &ChildServer) -> anyhow::Result<Vec<serde_json::Value>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    for _ in 0..200 {
        let v: serde_json::Value = http
            .get(format!("{}/api/v1/guests", server.url))
            .bearer_auth(&server.token)
            .send()
            .await?
            .json()
            .await?;
        if let Some(a) = v.as_array().filter(|a| !a.is_empty()) {
            return Ok(a.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server's inventory stayed empty")
}

/// Phase 1: requests per second with `n` stats subscribers.
async fn stats_phase(
    a: &Args,
    server: &ChildServer,
    running: &[(String, u64)],
    n: usize,
) -> anyhow::Result<(f64, f64, f64, u64)> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stop = tokio_util_like::Stop(rx);
    let mut tasks = Vec::new();
    for i in 0..n {
        let (node, vmid) = &running[i % running.len()];
        let ws = connect(server, &format!("/api/v1/proxmox/stats/{node}/{vmid}")).await?;
        tasks.push(tokio::spawn(subscriber(ws, stop.clone())));
    }
    // Let the subscriptions settle before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let meter = Meter::start(server)?;
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let (rps, cpu, rss) = meter.read(server)?;
    let _ = tx.send(true);
    let mut messages = 0;
    for t in tasks {
        messages += t.await.unwrap_or(0);
    }
    Ok((rps, cpu, rss, messages))
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    // The bench's own reqwest client (plain HTTP to the server) needs a process-wide
    // provider; pvekit brings its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = ChildSim::start(&a.sim).await?;
    let server = ChildServer::start(&sim, a.interval_ms).await?;
    let listed = guests(&server).await?;
    let running: Vec<(String, u64)> = listed
        .iter()
        .filter(|g| g["status"] == "running")
        .filter_map(|g| Some((g["node"].as_str()?.to_string(), g["vmid"].as_u64()?)))
        .collect();
    if running.is_empty() {
        bail!("no running guest to subscribe to");
    }
    let idle = Meter::start(&server)?;
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let (rps0, cpu0, rss0) = idle.read(&server)?;
    emit(
        BENCH,
        "upstream_requests_per_s_0_subscribers",
        rps0,
        "req/s",
        None,
    );
    emit(BENCH, "server_cpu_pct_0_subscribers", cpu0, "%", None);
    emit(BENCH, "server_rss_0_subscribers", rss0, "MiB", None);

    let (rps1, cpu1, rss1, m1) = stats_phase(&a, &server, &running, 1).await?;
    emit(
        BENCH,
        "upstream_requests_per_s_1_subscriber",
        rps1,
        "req/s",
        None,
    );
    emit(BENCH, "server_cpu_pct_1_subscriber", cpu1, "%", None);
    emit(BENCH, "server_rss_1_subscriber", rss1, "MiB", None);
    emit(
        BENCH,
        "stats_messages_1_subscriber",
        m1 as f64,
        "messages",
        None,
    );

    let n = a.subscribers;
    let (rpsn, cpun, rssn, mn) = stats_phase(&a, &server, &running, n).await?;
    emit_goal(
        BENCH,
        &format!("upstream_requests_per_s_{n}_subscribers"),
        rpsn,
        "req/s",
        rps1,
    );
    emit(
        BENCH,
        &format!("server_cpu_pct_{n}_subscribers"),
        cpun,
        "%",
        None,
    );
    emit(
        BENCH,
        &format!("server_rss_{n}_subscribers"),
        rssn,
        "MiB",
        None,
    );
    emit(
        BENCH,
        &format!("stats_messages_{n}_subscribers"),
        mn as f64,
        "messages",
        None,
    );

    // Phase 2: the delay from a change to every events subscriber.
    let client = Client::connect(&sim.config()?).await?;
    let stopped: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|g| {
            g["status"] == "stopped"
                && g["type"] == "lxc"
                && g["template"] == false
                && g["lock"].is_null()
        })
        .collect();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stop = tokio_util_like::Stop(rx);
    // Each subscriber records when it saw each VMID change status.
    let seen: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    // The guests that will be started: each subscriber records the first time it sees each
    // of them running.
    let targets: Arc<std::collections::HashSet<u64>> = Arc::new(
        stopped
            .iter()
            .take(a.changes)
            .filter_map(|g| g["vmid"].as_u64())
            .collect(),
    );
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut ws = connect(&server, "/api/v1/events/ws").await?;
        let seen = seen.clone();
        let stop = stop.clone();
        let targets = targets.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = std::collections::HashSet::new();
            let mut ping = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    () = stop.wait() => break,
                    _ = ping.tick() => { let _ = ws.send(Message::Text("ping".into())).await; }
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) if t.as_str() != "pong" => {
                            // Messages are large (every running guest's figures, each
                            // poll): find the started guests without parsing all of it.
                            let at = Instant::now();
                            let found: Vec<u64> = running_vmids(t.as_str())
                                .into_iter()
                                .filter(|v| targets.contains(v) && mine.insert(*v))
                                .collect();
                            if !found.is_empty() {
                                let mut seen = seen.lock().await;
                                seen.extend(found.into_iter().map(|v| (v, at)));
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
            let _ = ws.close(None).await;
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let meter = Meter::start(&server)?;
    let mut delays = Vec::new();
    let mut spreads = Vec::new();
    for g in stopped.iter().take(a.changes) {
        let (Some(node), Some(vmid)) = (g["node"].as_str(), g["vmid"].as_u64()) else {
            continue;
        };
        // From the moment the cluster reports the guest running (the action waits for it):
        // what remains is the wait for the next poll and the fan-out.
        client.node(node).lxc(vmid).action(Action::Start).await?;
        let t0 = Instant::now();
        // Wait until every subscriber saw it (or 10 s).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let times: Vec<Instant> = seen
                .lock()
                .await
                .iter()
                .filter(|(v, _)| *v == vmid)
                .map(|(_, t)| *t)
                .collect();
            if times.len() >= n || Instant::now() > deadline {
                let ms: Vec<f64> = times
                    .iter()
                    .map(|t| (*t - t0).as_secs_f64() * 1e3)
                    .collect();
                if let (Some(first), Some(last)) = (
                    ms.iter().copied().reduce(f64::min),
                    ms.iter().copied().reduce(f64::max),
                ) {
                    spreads.push(last - first);
                }
                if times.len() < n {
                    eprintln!(
                        "pvekit-bench: only {} of {n} subscribers saw {vmid} start",
                        times.len()
                    );
                }
                delays.extend(ms);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (_, cpu2, rss2) = meter.read(&server)?;
    let _ = tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    delays.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    emit(BENCH, "change_to_subscriber_p50", pct(0.5), "ms", None);
    emit(BENCH, "change_to_subscriber_p99", pct(0.99), "ms", None);
    emit(
        BENCH,
        "fanout_spread_first_to_last_max",
        spreads.iter().copied().fold(0.0, f64::max),
        "ms",
        None,
    );
    emit(
        BENCH,
        &format!("server_cpu_pct_{n}_event_subscribers"),
        cpu2,
        "%",
        None,
    );
    emit(
        BENCH,
        &format!("server_rss_{n}_event_subscribers"),
        rss2,
        "MiB",
        None,
    );
    emit(BENCH, "poll_interval", a.interval_ms as f64, "ms", None);
    server.stop().await;
    sim.stop().await;
    Ok(())
}
