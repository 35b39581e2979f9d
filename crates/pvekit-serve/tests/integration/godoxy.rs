//! GoDoxy's `/api/v1/proxmox` routes over real HTTP and WebSockets, against the simulator,
//! with a client that speaks GoDoxy's WebSocket protocol (a `ping` text every 2 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pvekit_serve::{ConfiguredToken, Role, ServeOptions, Server, hash_token};
use pvekit_sim::{Scenario, SimOptions, Simulator};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::util::{Lab, fast, lab, lab_with, password_config};

/// What the socket received, pongs aside.
#[derive(Debug)]
enum Got {
    Text(String),
    Closed(Option<CloseFrame>),
}

/// A GoDoxy-protocol WebSocket client: sends `ping` every 2 s (unless told not to), counts
/// the `pong`s, and hands every other message over.
struct GoDoxyWs {
    rx: mpsc::UnboundedReceiver<Got>,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    pongs: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

/// How a WebSocket request was refused: its status and JSON body.
#[derive(Debug)]
struct Refused {
    status: u16,
    body: Value,
}

async fn ws_connect(
    lab: &Lab,
    path: &str,
    token: &str,
    origin: Option<&str>,
    ping: bool,
) -> Result<GoDoxyWs, Refused> {
    let ws_url = format!("{}{path}", lab.url.replacen("http://", "ws://", 1));
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    let addr = lab.url.trim_start_matches("http://").to_string();
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let (mut ws, _) = match tokio_tungstenite::client_async(req, tcp).await {
        Ok(ok) => ok,
        Err(tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            return Err(Refused { status, body });
        }
        Err(e) => panic!("websocket handshake: {e}"),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let (close_tx, mut close_rx) = tokio::sync::oneshot::channel::<()>();
    let pongs = Arc::new(AtomicU64::new(0));
    let pongs2 = pongs.clone();
    let task = tokio::spawn(async move {
        use futures_util::{SinkExt as _, StreamExt as _};
        let mut every = tokio::time::interval(Duration::from_secs(2));
        let mut closing = false;
        loop {
            tokio::select! {
                _ = every.tick(), if ping && !closing => {
                    if ws.send(Message::text("ping")).await.is_err() {
                        let _ = tx.send(Got::Closed(None));
                        return;
                    }
                }
                _ = &mut close_rx, if !closing => {
                    closing = true;
                    let _ = ws.close(None).await;
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) if t.as_str() == "pong" => {
                        pongs2.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Ok(Message::Text(t))) => {
                        let _ = tx.send(Got::Text(t.to_string()));
                    }
                    Some(Ok(Message::Close(f))) => {
                        let _ = tx.send(Got::Closed(f));
                        // Let the library finish the closing handshake.
                        while let Some(Ok(_)) = ws.next().await {}
                        return;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        let _ = tx.send(Got::Closed(None));
                        return;
                    }
                },
            }
        }
    });
    Ok(GoDoxyWs {
        rx,
        close: Some(close_tx),
        pongs,
        task,
    })
}

impl GoDoxyWs {
    /// The next text message (panics on a close or after 15 s).
    async fn text(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(15), self.rx.recv()).await {
            Ok(Some(Got::Text(t))) => t,
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Waits for the close frame (within `within`).
    async fn closed(&mut self, within: Duration) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(within, self.rx.recv()).await {
                Ok(Some(Got::Text(_))) => continue,
                Ok(Some(Got::Closed(f))) => return f,
                Ok(None) => return None,
                Err(_) => panic!("the socket was not closed within {within:?}"),
            }
        }
    }

    /// Closes from the client side and waits for the task to end.
    async fn close(mut self) {
        if let Some(c) = self.close.take() {
            let _ = c.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn godoxy_stats_over_plain_http_and_websockets() {
    let lab = lab().await;
    lab.ready().await;

    // Node stats: GoDoxy's NodeStats JSON.
    let r = lab.get("/api/v1/proxmox/stats/pve1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
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
        assert!(v[key].is_string(), "{key} in {v}");
    }

    // Guest stats: the seed's line, text/plain, newline-terminated as GoDoxy writes it.
    let r = lab
        .get("/api/v1/proxmox/stats/pve1/100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let line = r.text().await.unwrap();
    assert!(line.starts_with("running|31.1%|256MiB/"), "{line}");
    assert!(line.ends_with('\n'));
    assert_eq!(line.trim_end().split('|').count(), 6, "{line}");

    // WebSockets: a JSON object per message, a line per message, pings answered.
    let mut node = ws_connect(&lab, "/api/v1/proxmox/stats/pve1", &lab.token, None, true)
        .await
        .unwrap();
    let mut guest = ws_connect(
        &lab,
        "/api/v1/proxmox/stats/pve1/100",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let v: Value = serde_json::from_str(&node.text().await).unwrap();
        assert!(v["cpu_usage"].as_str().unwrap().ends_with('%'));
        let line = guest.text().await;
        assert!(line.starts_with("running|"), "{line}");
    }
    // A stopped container streams too.
    let mut stopped = ws_connect(
        &lab,
        "/api/v1/proxmox/stats/pve1/101",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    assert!(stopped.text().await.starts_with("stopped|"));
    // Outlive a ping or two.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(node.pongs.load(Ordering::Relaxed) >= 1);
    assert!(lab.server().telemetry_websockets() >= 3);
    node.close().await;
    guest.close().await;
    stopped.close().await;
    let server = lab.server();
    wait_until("every socket is closed", || {
        server.telemetry_websockets() == 0
    })
    .await;
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_errors_are_json_with_godoxy_texts() {
    let lab = lab().await;
    lab.ready().await;
    for (path, status, message) in [
        ("/api/v1/proxmox/stats/nope", 404, "node not found"),
        ("/api/v1/proxmox/stats/nope/100", 404, "node not found"),
        ("/api/v1/proxmox/stats/pve1/abc", 400, "invalid request"),
        ("/api/v1/proxmox/stats/pve1/0", 400, "invalid request"),
        ("/api/v1/proxmox/stats/pve1/999", 404, "guest not found"),
        ("/api/v1/proxmox/stats/pve2/100", 404, "guest not found"),
        ("/api/v1/proxmox/journalctl/pve1", 400, "websocket required"),
        ("/api/v1/proxmox/journalctl", 400, "websocket required"),
        (
            "/api/v1/proxmox/tail?node=pve1&file=/etc/hostname",
            400,
            "websocket required",
        ),
    ] {
        let (s, body) = json_of(lab.get(path).send().await.unwrap()).await;
        assert_eq!(s.as_u16(), status, "{path}: {body}");
        assert_eq!(body["message"], message, "{path}: {body}");
    }
    for (path, status, message) in [
        ("/api/v1/proxmox/lxc/pve1/abc/start", 400, "invalid request"),
        ("/api/v1/proxmox/lxc/nope/100/start", 404, "node not found"),
        ("/api/v1/proxmox/lxc/pve2/200/start", 404, "guest not found"),
    ] {
        let (s, body) = json_of(lab.post(path).send().await.unwrap()).await;
        assert_eq!(s.as_u16(), status, "{path}: {body}");
        assert_eq!(body["message"], message, "{path}: {body}");
    }
    // Bad input on WebSocket requests is refused before the upgrade, never a 500.
    for path in [
        "/api/v1/proxmox/journalctl",
        "/api/v1/proxmox/journalctl/pve1?limit=0",
        "/api/v1/proxmox/journalctl/pve1?limit=1001",
        "/api/v1/proxmox/journalctl/pve1?limit=ten",
        "/api/v1/proxmox/journalctl/pve1/x1",
        "/api/v1/proxmox/journalctl/pve1?service=x%3Breboot",
        "/api/v1/proxmox/journalctl/pve1/100/%24(id)",
        "/api/v1/proxmox/journalctl/pve2/200",
        "/api/v1/proxmox/tail?node=pve1",
        "/api/v1/proxmox/tail?file=/etc/hostname",
        "/api/v1/proxmox/tail?node=pve1&file=",
        "/api/v1/proxmox/tail?node=pve1&file=/etc/hostname&limit=0",
        "/api/v1/proxmox/tail?node=pve1&file=a%7Cb",
        "/api/v1/proxmox/tail?node=pve1&vmid=-3&file=/etc/hostname",
    ] {
        let refused = ws_connect(&lab, path, &lab.token, None, true)
            .await
            .err()
            .unwrap_or_else(|| panic!("{path} was upgraded"));
        assert_eq!(refused.status, 400, "{path}: {:?}", refused.body);
        assert_eq!(refused.body["message"], "invalid request", "{path}");
    }
    let refused = ws_connect(
        &lab,
        "/api/v1/proxmox/journalctl/nope",
        &lab.token,
        None,
        true,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        (refused.status, refused.body["message"].as_str()),
        (404, Some("node not found"))
    );
    assert_eq!(lab.sim.terminal_sessions(), 0, "no session was opened");
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_a_node_name_in_two_clusters_is_ambiguous() {
    crate::util::install_provider();
    let one = crate::util::sim().await;
    let two = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        strict: true,
        scenario_inline: Some(
            Scenario::from_yaml(
                "cluster: other\nnodes:\n  - name: pve1\nguests:\n  - {type: lxc, vmid: 300, node: pve1, name: x}\n",
            )
            .unwrap(),
        ),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut clients = Vec::new();
    for sim in [&one, &two] {
        clients.push(
            pvekit::Client::connect(&password_config(sim))
                .await
                .unwrap(),
        );
    }
    let server = Server::start(clients, fast()).await.unwrap();
    let token = {
        use secrecy::ExposeSecret as _;
        server.admin_token().unwrap().expose_secret().to_string()
    };
    let http = reqwest::Client::new();
    for path in ["stats/pve1", "stats/pve1/100"] {
        let r = http
            .get(format!("{}/api/v1/proxmox/{path}", server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (s, body) = json_of(r).await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["message"], "node name is ambiguous");
    }
    // pvekit's optional `cluster` names the one meant.
    for (path, status) in [
        ("stats/pve1?cluster=other", StatusCode::OK),
        ("stats/pve1/300?cluster=other", StatusCode::OK),
        ("stats/pve1/300?cluster=lab", StatusCode::NOT_FOUND),
        ("stats/pve1?cluster=nope", StatusCode::NOT_FOUND),
    ] {
        let r = http
            .get(format!("{}/api/v1/proxmox/{path}", server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    // A node only one cluster has is found.
    let r = http
        .get(format!("{}/api/v1/proxmox/stats/pve2", server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn godoxy_keepalive_closes_a_client_that_never_pings() {
    // GoDoxy's clients ping every 2-3 s; a 2.5 s timeout keeps the pinging one open.
    let lab = lab_with(ServeOptions {
        ping_timeout: Duration::from_millis(2500),
        ..fast()
    })
    .await;
    lab.ready().await;
    let path = "/api/v1/proxmox/stats/pve1/100";
    let mut silent = ws_connect(&lab, path, &lab.token, None, false)
        .await
        .unwrap();
    let mut pinging = ws_connect(&lab, path, &lab.token, None, true)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let frame = silent
        .closed(Duration::from_secs(6))
        .await
        .expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    assert!(started.elapsed() >= Duration::from_millis(2000));
    // The pinging client is still served well past the timeout.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, pinging.rx.recv()).await {}
    assert!(pinging.text().await.starts_with("running|"));
    assert!(pinging.pongs.load(Ordering::Relaxed) >= 2);
    pinging.close().await;
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_a_pinging_client_outlives_the_keepalive_timeout() {
    let lab = lab_with(ServeOptions {
        ping_timeout: Duration::from_millis(3000),
        ..fast()
    })
    .await;
    lab.ready().await;
    let mut ws = ws_connect(&lab, "/api/v1/proxmox/stats/pve1", &lab.token, None, true)
        .await
        .unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(7);
    while std::time::Instant::now() < until {
        ws.text().await;
    }
    assert!(ws.pongs.load(Ordering::Relaxed) >= 3);
    ws.close().await;
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_refuses_a_foreign_origin() {
    let lab = lab().await;
    lab.ready().await;
    let refused = ws_connect(
        &lab,
        "/api/v1/proxmox/stats/pve1/100",
        &lab.token,
        Some("https://evil.example"),
        true,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["message"], "forbidden");
    let ok = ws_connect(
        &lab,
        "/api/v1/proxmox/stats/pve1/100",
        &lab.token,
        Some("http://localhost:3000"),
        true,
    )
    .await
    .unwrap();
    ok.close().await;
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_roles_viewers_read_stats_operators_act() {
    let (admin, viewer, operator) = ("pvk_admin-test", "pvk_viewer-test", "pvk_operator-test");
    let token = |name: &str, role, t: &str| ConfiguredToken {
        name: name.into(),
        role,
        sha256: hash_token(t),
    };
    let mut lab = lab_with(ServeOptions {
        tokens: vec![
            token("admin", Role::Admin, admin),
            token("grafana", Role::Viewer, viewer),
            token("ops", Role::Operator, operator),
        ],
        ..fast()
    })
    .await;
    lab.token = admin.to_string();
    lab.ready().await;
    let as_viewer = |path: &str| {
        lab.http
            .get(format!("{}{path}", lab.url))
            .bearer_auth(viewer)
    };
    let r = as_viewer("/api/v1/proxmox/stats/pve1/100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ws = ws_connect(&lab, "/api/v1/proxmox/stats/pve1", viewer, None, true)
        .await
        .unwrap();
    ws.close().await;
    for path in [
        "/api/v1/proxmox/journalctl/pve1",
        "/api/v1/proxmox/tail?node=pve1&file=/etc/hostname",
    ] {
        let refused = ws_connect(&lab, path, viewer, None, true)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.status, 403, "{path}");
        // Checked before anything else: even the plain request is refused for the role.
        assert_eq!(as_viewer(path).send().await.unwrap().status(), 403);
    }
    let r = lab
        .http
        .post(format!("{}/api/v1/proxmox/lxc/pve1/101/start", lab.url))
        .bearer_auth(viewer)
        .send()
        .await
        .unwrap();
    let (s, body) = json_of(r).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(lab.sim.terminal_sessions(), 0);
    // An operator may follow a journal.
    let mut ws = ws_connect(
        &lab,
        "/api/v1/proxmox/journalctl/pve1?limit=2",
        operator,
        None,
        true,
    )
    .await
    .unwrap();
    ws.text().await;
    ws.close().await;
    lab.stop().await;
}

/// The container's state as the simulator reports it now.
async fn ct_status(lab: &Lab, vmid: u64) -> String {
    let c = pvekit::Client::connect(&crate::util::token_config(&lab.sim))
        .await
        .unwrap();
    c.node("pve1")
        .lxc(vmid)
        .status()
        .await
        .unwrap()
        .status
        .to_string()
}

#[tokio::test]
async fn godoxy_lxc_start_stop_restart_reach_the_state() {
    let lab = lab().await;
    lab.ready().await;
    let act = |path: String| lab.post(&path).send();
    for (action, message, state) in [
        ("start", "container started", "running"),
        ("restart", "container restarted", "running"),
        ("stop", "container stopped", "stopped"),
    ] {
        let r = act(format!("/api/v1/proxmox/lxc/pve1/101/{action}"))
            .await
            .unwrap();
        let (s, body) = json_of(r).await;
        assert_eq!(
            (s, &body),
            (StatusCode::OK, &serde_json::json!({ "message": message })),
            "{action}"
        );
        assert_eq!(ct_status(&lab, 101).await, state, "{action}");
    }
    // `stop` is PVE's shutdown, `restart` its reboot.
    let posted: Vec<String> = lab
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/nodes/pve1/lxc/101/status/"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        posted,
        [
            "/nodes/pve1/lxc/101/status/start",
            "/nodes/pve1/lxc/101/status/reboot",
            "/nodes/pve1/lxc/101/status/shutdown"
        ]
    );
    // A template's start fails in its task: the task's own error comes back.
    let (s, body) = json_of(
        act("/api/v1/proxmox/lxc/pve1/102/start".into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["message"], "failed to start container");
    assert!(
        body["error"].as_str().unwrap().contains("template"),
        "{body}"
    );
    // Stopping a stopped container is refused by the server at once.
    let (s, body) = json_of(
        act("/api/v1/proxmox/lxc/pve1/101/stop".into())
            .await
            .unwrap(),
    )
    .await;
    assert!(s.is_client_error() || s.is_server_error(), "{s} {body}");
    assert_eq!(body["message"], "failed to stop container");
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_journal_and_tail_stream_lines_and_end_their_session_on_close() {
    let lab = lab().await;
    lab.ready().await;
    // A node's journal: the last 5 lines first, one message each, then new ones.
    let mut journal = ws_connect(
        &lab,
        "/api/v1/proxmox/journalctl/pve1?limit=5&service=pveproxy",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    for _ in 0..7 {
        let line = journal.text().await;
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
    }
    assert_eq!(lab.sim.terminal_sessions(), 1);
    journal.close().await;
    let sim = &lab.sim;
    wait_until("the terminal session ends", || sim.terminal_sessions() == 0).await;

    // Query form, in a container.
    let mut ct = ws_connect(
        &lab,
        "/api/v1/proxmox/journalctl?node=pve1&vmid=100&limit=3",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    for _ in 0..3 {
        ct.text().await;
    }
    // A tail of one file; of several (with tail's `==> name <==` headers, which GoDoxy's
    // `tail -q` leaves out).
    let mut tail = ws_connect(
        &lab,
        "/api/v1/proxmox/tail?node=pve1&file=/etc/hostname&limit=1",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    assert_eq!(tail.text().await, "pve1\n");
    let mut tails = ws_connect(
        &lab,
        "/api/v1/proxmox/tail?node=pve1&file=/etc/hostname&file=/etc/hosts&limit=1",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    while !seen.contains(&"pve1\n".to_string()) {
        seen.push(tails.text().await);
    }
    assert_eq!(lab.sim.terminal_sessions(), 3);
    tails.close().await;
    // A client that simply goes away (no close frame) ends its session too.
    tail.task.abort();
    drop(tail);
    ct.close().await;
    wait_until("every terminal session ends", || {
        sim.terminal_sessions() == 0
    })
    .await;
    let server = lab.server();
    wait_until("every socket is closed", || {
        server.telemetry_websockets() == 0
    })
    .await;
    lab.stop().await;
}

#[tokio::test]
async fn godoxy_shutdown_closes_streams_with_a_close_frame() {
    let lab = lab().await;
    lab.ready().await;
    let mut ws = ws_connect(
        &lab,
        "/api/v1/proxmox/journalctl/pve1?limit=1",
        &lab.token,
        None,
        true,
    )
    .await
    .unwrap();
    ws.text().await;
    let Lab {
        sim, mut server, ..
    } = lab;
    let stopping = tokio::spawn(server.take().unwrap().shutdown());
    let frame = ws
        .closed(Duration::from_secs(5))
        .await
        .expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001);
    stopping.await.unwrap();
    wait_until("the terminal session ends", || sim.terminal_sessions() == 0).await;
}

/// Requests the simulator received from `from` on, whose path matches.
fn requests_since(lab: &Lab, from: usize, f: impl Fn(&str) -> bool) -> usize {
    lab.sim.requests()[from..]
        .iter()
        .filter(|r| f(&r.path))
        .count()
}

#[tokio::test]
async fn godoxy_many_stats_sockets_cost_what_one_costs() {
    let lab = lab().await;
    lab.ready().await;
    let window = Duration::from_secs(2);
    let is_node_status = |p: &str| p == "/nodes/pve1/status";
    let is_guest = |p: &str| p.contains("/lxc/100") || p.contains("/qemu/200");

    // One guest socket and one node socket.
    let mut one = vec![
        ws_connect(
            &lab,
            "/api/v1/proxmox/stats/pve1/100",
            &lab.token,
            None,
            true,
        )
        .await
        .unwrap(),
        ws_connect(&lab, "/api/v1/proxmox/stats/pve1", &lab.token, None, true)
            .await
            .unwrap(),
    ];
    for ws in &mut one {
        ws.text().await;
    }
    let from = lab.sim.requests().len();
    tokio::time::sleep(window).await;
    let all_one = requests_since(&lab, from, |_| true);
    let node_one = requests_since(&lab, from, is_node_status);
    let guest_one = requests_since(&lab, from, is_guest);
    for ws in one {
        ws.close().await;
    }

    // 120 guest sockets and 20 node sockets.
    let mut many = Vec::new();
    for i in 0..120 {
        let path = if i % 2 == 0 {
            "/api/v1/proxmox/stats/pve1/100"
        } else {
            "/api/v1/proxmox/stats/pve2/200"
        };
        many.push(
            ws_connect(&lab, path, &lab.token, None, true)
                .await
                .unwrap(),
        );
    }
    for _ in 0..20 {
        many.push(
            ws_connect(&lab, "/api/v1/proxmox/stats/pve1", &lab.token, None, true)
                .await
                .unwrap(),
        );
    }
    for ws in &mut many {
        ws.text().await;
    }
    assert_eq!(lab.server().telemetry_websockets(), 140);
    // 20 node sockets on one node: one poll, as /metrics says.
    let own = lab
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        own.lines().any(|l| l == "pvekit_node_stats_polls 1"),
        "{own}"
    );
    let from = lab.sim.requests().len();
    tokio::time::sleep(window).await;
    for ws in &mut many[..5] {
        ws.text().await;
    }
    let all_many = requests_since(&lab, from, |_| true);
    let node_many = requests_since(&lab, from, is_node_status);
    let guest_many = requests_since(&lab, from, is_guest);

    // Guest stats cost nothing; one node poll serves every node socket (every 200 ms).
    assert_eq!((guest_one, guest_many), (0, 0));
    assert!((2..=13).contains(&node_one), "{node_one}");
    assert!(node_many <= node_one + 2, "{node_many} vs {node_one}");
    assert!(
        all_many <= all_one + all_one / 2 + 4,
        "{all_many} vs {all_one}"
    );
    for ws in many {
        ws.close().await;
    }
    // The node poll stops with its last subscriber.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let from = lab.sim.requests().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(requests_since(&lab, from, is_node_status), 0);
    let own = lab
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        own.lines().any(|l| l == "pvekit_node_stats_polls 0"),
        "{own}"
    );
    lab.stop().await;
}
