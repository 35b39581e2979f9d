//! `/pve` against prometheus-pve-exporter itself, and `/metrics`.
//!
//! The exporter (the PyPI package `prometheus-pve-exporter`, from the venv that
//! `scripts/test` makes) runs against the same simulator as the server; both outputs are
//! read by the official Python client's text-format parser (`tests/pve_exporter/parse.py`)
//! and compared: families (name, type, help), samples (name and label set, so every `id`),
//! and values. The simulator's clock is frozen first, so its figures (uptimes, counters, CPU,
//! memory) stand still and the exporter's requests and the server's polls read the same
//! values: every value must be equal.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pvekit::{Client, Config};
use pvekit_serve::{ConfiguredToken, Role, ServeOptions, Server, hash_token, new_token};
use pvekit_sim::{RunningSim, Scenario, SimOptions, Simulator};
use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use serde_json::Value;

use crate::util::{fast, install_provider, password_config, token_config};

/// The util cluster plus what the exporter's metrics have more of: a third node that is
/// offline (its guest's status unknown, no figures), locks, tags, and a name whose quotes,
/// backslash and newline must be escaped in a label value (not a name Proxmox VE would take,
/// but the simulator does: it tests the format).
const CLUSTER: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
  - name: pve3
    online: false
guests:
  - {type: lxc, vmid: 100, node: pve1, name: web, status: running, tags: "prod;web",
     config: {net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.100/24,type=veth"},
     counters: {cpu: 0.311, mem: 268435456, netin: 123456789, netout: 98765432, diskread: 5555555, diskwrite: 4444444}}
  - {type: lxc, vmid: 101, node: pve1, name: db, lock: backup,
     config: {net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:01,ip=10.0.0.101/24,type=veth"}}
  - {type: lxc, vmid: 102, node: pve1, name: tpl, template: true}
  - {type: lxc, vmid: 106, node: pve2, name: busy, status: running, lock: snapshot,
     config: {memory: 1024, cores: 2, net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:06:01,ip=192.168.6.6/24,type=veth"}}
  - {type: qemu, vmid: 200, node: pve2, name: vm-agent, status: running, agent: true}
  - {type: qemu, vmid: 201, node: pve1, name: "odd \"quoted\" back\\slash\nnewline", tags: "a\"b;c\\d"}
  - {type: lxc, vmid: 300, node: pve3, name: far}
"#;

/// The exporter's collectors compared here; the others are turned off: `config`
/// (`pve_onboot_status`, per-guest config reads pvekit does not serve), `replication`,
/// `subscription` and `qdevice` (not served by pvekit).
const EXPORTER_FLAGS: &[&str] = &[
    "--collector.status",
    "--collector.version",
    "--collector.node",
    "--collector.cluster",
    "--collector.resources",
    "--collector.backup-info",
    "--no-collector.config",
    "--no-collector.replication",
    "--no-collector.subscription",
    "--no-collector.qdevice",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv with prometheus-pve-exporter and prometheus-client: `$PVEKIT_VENV`, else the
/// workspace's `.venv`. Missing is a failure, never a skip.
fn venv() -> PathBuf {
    let venv = std::env::var_os("PVEKIT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv"));
    for tool in ["bin/pve_exporter", "bin/python"] {
        assert!(
            venv.join(tool).is_file(),
            "{} is missing: run scripts/test, which installs prometheus-pve-exporter and \
             prometheus-client into the venv (or set PVEKIT_VENV to a venv that has them)",
            venv.join(tool).display()
        );
    }
    venv
}

/// A running prometheus-pve-exporter, killed when dropped (also when the test fails).
struct Exporter {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // The exporter is gunicorn: a master and its worker, in a process group of their own.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    /// Starts the exporter on a free loopback port with the simulator's token, and waits
    /// until it answers.
    async fn start(sim: &RunningSim, dir: &Path) -> Exporter {
        let info = sim.info();
        let (user, token) = info
            .token_id
            .split_once('!')
            .expect("the simulator's token id is user!name");
        let config = dir.join("pve.yml");
        std::fs::write(
            &config,
            format!(
                "default:\n  user: {user}\n  token_name: {token}\n  token_value: {}\n  verify_ssl: false\n",
                info.secret
            ),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("exporter.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(venv().join("bin/pve_exporter"))
            .arg("--config.file")
            .arg(&config)
            .arg("--web.listen-address")
            .arg(format!("127.0.0.1:{port}"))
            .args(EXPORTER_FLAGS)
            .stdin(Stdio::null())
            .process_group(0)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("pve_exporter starts");
        let exporter = Exporter {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(&exporter.url).send().await
                && r.status().is_success()
            {
                return exporter;
            }
            assert!(
                Instant::now() < deadline,
                "pve_exporter did not answer within 60 s:\n{}",
                exporter.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /pve?target=HOST:PORT` of the simulator.
    async fn scrape(&self, sim: &RunningSim) -> String {
        let target = sim.addr().to_string();
        let r = reqwest::get(format!("{}/pve?target={target}", self.url))
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(
            status.is_success(),
            "pve_exporter answered {status}: {body}\n{}",
            self.log_text()
        );
        body
    }
}

/// One sample as the parser read it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SampleKey {
    name: String,
    labels: BTreeMap<String, String>,
}

/// A family as the parser read it: (name, type) -> help and samples.
#[derive(Debug, Clone, PartialEq)]
struct Family {
    help: String,
    samples: BTreeMap<SampleKey, f64>,
}

type Families = BTreeMap<(String, String), Family>;

/// Parses text-format files with prometheus_client's parser (tests/pve_exporter/parse.py).
fn parse(dir: &Path, texts: &[(&str, &str)]) -> Vec<Families> {
    let mut paths = Vec::new();
    for (name, text) in texts {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = Command::new(venv().join("bin/python"))
        .arg(workspace().join("tests/pve_exporter/parse.py"))
        .args(&paths)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the text-format parser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    paths
        .iter()
        .map(|p| {
            let mut families = Families::new();
            for f in v[p.to_str().unwrap()].as_array().unwrap() {
                let mut samples = BTreeMap::new();
                for s in f["samples"].as_array().unwrap() {
                    let labels = s["labels"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    let key = SampleKey {
                        name: s["name"].as_str().unwrap().to_string(),
                        labels,
                    };
                    let value: f64 = s["value"].as_str().unwrap().parse().unwrap();
                    assert!(
                        samples.insert(key.clone(), value).is_none(),
                        "{key:?} twice in {}",
                        p.display()
                    );
                }
                let key = (
                    f["name"].as_str().unwrap().to_string(),
                    f["type"].as_str().unwrap().to_string(),
                );
                let family = Family {
                    help: f["documentation"].as_str().unwrap().to_string(),
                    samples,
                };
                assert!(
                    families.insert(key.clone(), family).is_none(),
                    "{key:?} twice in {}",
                    p.display()
                );
            }
            families
        })
        .collect()
}

/// A simulator of [`CLUSTER`] whose clock stands still.
async fn frozen_sim() -> RunningSim {
    install_provider();
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        strict: true,
        scenario_inline: Some(Scenario::from_yaml(CLUSTER).unwrap()),
        ..Default::default()
    })
    .await
    .expect("simulator starts");
    sim.freeze_clock();
    sim
}

async fn client_of(sim: &RunningSim) -> Client {
    let mut config: Config = password_config(sim);
    let token = token_config(sim);
    config.token_id = token.token_id;
    config.secret = token.secret;
    Client::connect(&config).await.expect("client connects")
}

/// A server over `sim` with a viewer token (the role `/pve` and `/metrics` need).
struct Served {
    server: pvekit_serve::Running,
    client: Client,
    viewer: String,
    http: reqwest::Client,
}

impl Served {
    async fn start(sim: &RunningSim, options: ServeOptions) -> Served {
        install_provider();
        let client = client_of(sim).await;
        let viewer = new_token().expose_secret().to_string();
        let options = ServeOptions {
            tokens: vec![ConfiguredToken {
                name: "grafana".into(),
                role: Role::Viewer,
                sha256: hash_token(&viewer),
            }],
            ..options
        };
        let server = Server::start(vec![client.clone()], options)
            .await
            .expect("server starts");
        Served {
            server,
            client,
            viewer,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.server.url()))
            .bearer_auth(&self.viewer)
            .send()
            .await
            .unwrap()
    }

    /// `/pve?target=lab`, once the inventory and the facts are in.
    async fn pve(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.get("/pve?target=lab").await;
            let status = r.status();
            let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
            let body = r.text().await.unwrap();
            if status == StatusCode::OK {
                assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
                return body;
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
            assert!(Instant::now() < deadline, "/pve not ready: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn metrics(&self) -> String {
        let r = self.get("/metrics").await;
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.unwrap()
    }
}

#[tokio::test]
async fn pve_serves_what_prometheus_pve_exporter_serves() {
    let dir = tempfile::tempdir().unwrap();
    let sim = frozen_sim().await;
    let exporter = Exporter::start(&sim, dir.path()).await;
    let served = Served::start(&sim, fast()).await;
    let ours = served.pve().await;
    let theirs = exporter.scrape(&sim).await;
    let parsed = parse(
        dir.path(),
        &[("pvekit.txt", &ours), ("exporter.txt", &theirs)],
    );
    let (ours_f, theirs_f) = (&parsed[0], &parsed[1]);

    // The same families: names, types and help texts.
    let names = |f: &Families| f.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        names(ours_f),
        names(theirs_f),
        "families differ\n--- pvekit\n{ours}\n--- exporter\n{theirs}"
    );
    assert!(ours_f.len() >= 26, "{:?}", names(ours_f));
    assert!(ours_f.contains_key(&("pve_not_backed_up_info".to_string(), "gauge".to_string())));
    for (key, theirs_family) in theirs_f {
        let ours_family = &ours_f[key];
        assert_eq!(ours_family.help, theirs_family.help, "help of {key:?}");
        // The same samples: names and label sets (so the same ids), and the same values.
        let ours_keys: BTreeSet<_> = ours_family.samples.keys().collect();
        let theirs_keys: BTreeSet<_> = theirs_family.samples.keys().collect();
        assert_eq!(
            ours_keys,
            theirs_keys,
            "samples of {key:?}: only pvekit: {:?}; only the exporter: {:?}",
            ours_keys.difference(&theirs_keys).collect::<Vec<_>>(),
            theirs_keys.difference(&ours_keys).collect::<Vec<_>>()
        );
        for (sample, theirs_value) in &theirs_family.samples {
            let ours_value = ours_family.samples[sample];
            assert!(
                ours_value == *theirs_value || (ours_value.is_nan() && theirs_value.is_nan()),
                "{sample:?}: pvekit {ours_value}, exporter {theirs_value}"
            );
        }
    }

    // Every id format is there, and the odd name came through the parser intact.
    let ids: BTreeSet<String> = ours_f[&("pve_up".to_string(), "gauge".to_string())]
        .samples
        .keys()
        .map(|k| k.labels["id"].clone())
        .collect();
    for id in [
        "cluster/lab",
        "node/pve1",
        "node/pve3",
        "lxc/100",
        "qemu/200",
        "lxc/300",
        "storage/pve1/local",
        "storage/pve2/local-lvm",
    ] {
        assert!(ids.contains(id), "no {id} in {ids:?}");
    }
    let info = &ours_f[&("pve_guest_info".to_string(), "gauge".to_string())];
    let odd = info
        .samples
        .keys()
        .find(|k| k.labels["id"] == "qemu/201")
        .unwrap();
    assert_eq!(odd.labels["name"], "odd \"quoted\" back\\slash\nnewline");
    assert_eq!(odd.labels["tags"], "a\"b;c\\d");
    // Figures that move with time are compared too (the frozen clock makes them equal).
    let uptime = &ours_f[&("pve_uptime_seconds".to_string(), "gauge".to_string())];
    assert!(
        uptime
            .samples
            .iter()
            .any(|(k, v)| k.labels["id"] == "node/pve1" && *v > 0.0)
    );

    // The exporter and pvekit sent only what Proxmox VE accepts.
    let rejections = sim.rejections();
    assert!(
        rejections.is_empty(),
        "requests the simulator refused: {rejections:?}"
    );
    served.server.shutdown().await;
    drop(exporter);
}

/// Waits until the client has sent nothing for `quiet` (the first listing's burst is over).
async fn settle(client: &Client, quiet: Duration) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = client.requests_sent();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let now = client.requests_sent();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return now;
        }
        assert!(Instant::now() < deadline, "the client never went quiet");
    }
}

#[tokio::test]
async fn scrapes_of_pve_and_metrics_send_nothing_upstream() {
    let sim = frozen_sim().await;
    // Polls far apart: between two of them, nothing else may reach the cluster.
    let options = ServeOptions {
        watch: pvekit::WatchConfig {
            interval: Duration::from_secs(60),
            ..Default::default()
        },
        ..fast()
    };
    let served = Served::start(&sim, options).await;
    let first = served.pve().await;
    let before = settle(&served.client, Duration::from_millis(500)).await;
    let recorded = sim.requests().len();
    for _ in 0..25 {
        assert_eq!(served.pve().await, first);
        served.metrics().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        served.client.requests_sent(),
        before,
        "25 scrapes of /pve and /metrics sent requests upstream"
    );
    assert_eq!(sim.requests().len(), recorded);
    // /metrics reports the same count.
    let metrics = served.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("pvekit_upstream_requests_total{{cluster=\"lab\"}} {before}")),
        "{metrics}"
    );
    served.server.shutdown().await;
}

#[tokio::test]
async fn metrics_has_the_servers_own_figures_and_they_move() {
    let dir = tempfile::tempdir().unwrap();
    let sim = frozen_sim().await;
    let served = Served::start(&sim, fast()).await;
    served.pve().await;
    let first = served.metrics().await;
    // Activity: scrapes (HTTP requests) and time (inventory polls every 200 ms).
    for _ in 0..5 {
        served.pve().await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = served.metrics().await;
    let parsed = parse(
        dir.path(),
        &[("first.txt", &first), ("second.txt", &second)],
    );
    let value = |f: &Families, family: &str, kind: &str, sample: &str, labels: &[(&str, &str)]| {
        let key = SampleKey {
            name: sample.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        f.get(&(family.to_string(), kind.to_string()))
            .unwrap_or_else(|| panic!("no family {family} ({kind})"))
            .samples
            .get(&key)
            .copied()
            .unwrap_or_else(|| panic!("no sample {key:?}"))
    };
    for f in &parsed {
        for (family, kind) in [
            ("pvekit_action_tasks", "counter"),
            ("pvekit_websockets_open", "gauge"),
            ("pvekit_terminal_sessions_open", "gauge"),
            ("pvekit_event_streams_open", "gauge"),
        ] {
            assert!(
                f.contains_key(&(family.to_string(), kind.to_string())),
                "{family}"
            );
        }
        assert_eq!(
            value(
                f,
                "pvekit_websockets_open",
                "gauge",
                "pvekit_websockets_open",
                &[]
            ),
            0.0
        );
        assert!(
            value(
                f,
                "pvekit_inventory_age_seconds",
                "gauge",
                "pvekit_inventory_age_seconds",
                &[("cluster", "lab")]
            ) >= 0.0
        );
        assert!(
            value(
                f,
                "pvekit_upstream_answers",
                "counter",
                "pvekit_upstream_answers_total",
                &[("cluster", "lab"), ("status", "200")]
            ) > 0.0
        );
        assert!(
            value(
                f,
                "pvekit_facts_poll_duration_seconds",
                "gauge",
                "pvekit_facts_poll_duration_seconds",
                &[("cluster", "lab")]
            ) > 0.0
        );
    }
    let (a, b) = (&parsed[0], &parsed[1]);
    let moved = |family: &str, sample: &str, labels: &[(&str, &str)]| {
        let x = value(a, family, "counter", sample, labels);
        let y = value(b, family, "counter", sample, labels);
        assert!(y > x, "{sample} did not grow: {x} -> {y}");
    };
    moved("pvekit_http_requests", "pvekit_http_requests_total", &[]);
    moved(
        "pvekit_inventory_polls",
        "pvekit_inventory_polls_total",
        &[("cluster", "lab"), ("result", "ok")],
    );
    moved(
        "pvekit_upstream_requests",
        "pvekit_upstream_requests_total",
        &[("cluster", "lab")],
    );
    moved(
        "pvekit_facts_polls",
        "pvekit_facts_polls_total",
        &[("cluster", "lab"), ("result", "ok")],
    );
    served.server.shutdown().await;
}

#[tokio::test]
async fn pve_needs_a_known_target_and_answers_json_errors() {
    let sim = frozen_sim().await;
    let served = Served::start(&sim, fast()).await;
    for (path, status) in [
        ("/pve", StatusCode::BAD_REQUEST),
        ("/pve?module=default", StatusCode::BAD_REQUEST),
        ("/pve?target=nope", StatusCode::NOT_FOUND),
        ("/pve?target=%22%0A", StatusCode::NOT_FOUND),
    ] {
        let r = served.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"].is_string(), "{path}: {body}");
    }
    // The exporter's cluster=0 turns the cluster collectors off: nothing to serve.
    served.pve().await;
    let r = served.get("/pve?target=lab&cluster=0&node=1").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");
    // Without credentials: 401 (the auth layer).
    let r = served
        .http
        .get(format!("{}/pve?target=lab", served.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    served.server.shutdown().await;
}
