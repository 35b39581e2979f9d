//! `pvekit serve`: the ready line, the API behind it, a clean stop on SIGTERM, secrets kept
//! out of the logs, the address rules, and the token helper.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::util::{pvekit, run};

/// One HTTP/1.1 request over a plain socket: (status line, body).
fn http(base: &str, path: &str, token: &str) -> (String, String) {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

#[test]
fn demo_serve_prints_its_ready_line_serves_and_stops_on_sigterm() {
    let mut child = pvekit(&[
        "--demo",
        "-vv",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "0.2",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn pvekit serve");
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the ready line");
    let ready: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let url = ready["url"].as_str().unwrap().to_string();
    let token = ready["token"].as_str().unwrap().to_string();
    let login = ready["login_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        token.starts_with("pvk_"),
        "an admin token is made when none is configured"
    );
    assert!(login.starts_with(&format!("{url}/login?code=")), "{login}");

    let (status, _) = http(&url, "/api/v1/guests", "pvk_wrong");
    assert!(status.contains(" 401 "), "{status}");
    let mut guests = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, body) = http(&url, "/api/v1/guests", &token);
        assert!(status.contains(" 200 "), "{status}");
        guests = serde_json::from_str(&body).unwrap();
        if !guests.as_array().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        guests.as_array().unwrap().len() >= 10,
        "the demo cluster's guests: {guests}"
    );

    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "stops promptly");
    let logs = logs.join().unwrap();
    // Even at debug level, the logs hold no credential.
    let code = login.rsplit('=').next().unwrap();
    for secret in [token.as_str(), code] {
        assert!(!logs.contains(secret), "a secret in the logs:\n{logs}");
    }
    assert!(logs.contains("serving"), "{logs}");
}

#[test]
fn a_public_address_without_tls_is_one_clear_error() {
    let out = run(&mut pvekit(&["--demo", "serve", "--listen", "0.0.0.0:0"]));
    let line = out.fails(1);
    assert!(
        line.contains("requires TLS") && line.contains("--tls-cert"),
        "{line}"
    );
}

#[test]
fn new_token_prints_a_token_and_the_entry_with_its_hash() {
    let out = run(&mut pvekit(&["serve", "--new-token", "viewer"]));
    let text = out.ok();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("the token line");
    let entry = text
        .lines()
        .find(|l| l.starts_with("- {"))
        .expect("the entry");
    assert!(entry.contains("role: viewer"), "{entry}");
    assert!(entry.contains(&pvekit_serve::hash_token(token)), "{entry}");
    let out = run(&mut pvekit(&["serve", "--new-token", "root"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_openapi_document_prints_without_a_cluster() {
    let out = run(&mut pvekit(&["serve", "--openapi"]));
    let doc = out.json();
    assert!(doc["paths"]["/api/v1/guests"].is_object());
}

/// `pvekit --demo serve` with its ready line read, killed on drop.
struct Served {
    child: std::process::Child,
    url: String,
    token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo_serve() -> Served {
    let mut child = pvekit(&[
        "--demo",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "0.5",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("spawn pvekit serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the ready line");
    let ready: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    Served {
        child,
        url: ready["url"].as_str().unwrap().to_string(),
        token: ready["token"].as_str().unwrap().to_string(),
    }
}

/// A GoDoxy web UI's client: opens `path`, sends `ping` every 2 s, and collects text
/// messages other than `pong` until it has `want` of them (or 30 s pass).
async fn godoxy_client(served: &Served, path: &str, want: usize) -> (Vec<String>, u32) {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let host = served.url.trim_start_matches("http://").to_string();
    let mut req = format!("ws://{host}{path}").into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", served.token).parse().unwrap(),
    );
    let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(req, tcp)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut ping = tokio::time::interval(Duration::from_secs(2));
    let (mut messages, mut pongs) = (Vec::new(), 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while messages.len() < want {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            _ = ping.tick() => ws.send(Message::Text("ping".into())).await.unwrap(),
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) if t.as_str() == "pong" => pongs += 1,
                Some(Ok(Message::Text(t))) => messages.push(t.to_string()),
                Some(Ok(_)) => {}
                other => panic!("{path} ended: {other:?}"),
            },
        }
    }
    let _ = ws.close(None).await;
    (messages, pongs)
}

#[test]
fn a_godoxy_client_streams_stats_journal_and_tail_from_demo_serve() {
    let served = demo_serve();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A running container of the demo cluster, once the inventory is in.
    let mut guest = None;
    for _ in 0..100 {
        let (_, body) = http(&served.url, "/api/v1/guests", &served.token);
        let guests: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        guest = guests.as_array().and_then(|a| {
            a.iter()
                .find(|g| g["type"] == "lxc" && g["status"] == "running" && g["template"] == false)
                .cloned()
        });
        if guest.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let guest = guest.expect("a running container");
    let (node, vmid) = (
        guest["node"].as_str().unwrap(),
        guest["vmid"].as_u64().unwrap(),
    );
    rt.block_on(async {
        // Node stats: one JSON object per second; the client's pings get pongs.
        let (stats, pongs) =
            godoxy_client(&served, &format!("/api/v1/proxmox/stats/{node}"), 3).await;
        assert_eq!(stats.len(), 3, "{stats:?}");
        let first: serde_json::Value = serde_json::from_str(&stats[0]).unwrap();
        assert!(
            first["kernel_version"].is_string() && first["mem_pct"].is_string(),
            "{first}"
        );
        assert!(pongs >= 1, "ping gets pong");
        // A guest's stats line: STATUS|CPU%|MEM USAGE/LIMIT|MEM%|NET I/O|BLOCK I/O.
        let (lines, _) =
            godoxy_client(&served, &format!("/api/v1/proxmox/stats/{node}/{vmid}"), 1).await;
        assert_eq!(lines[0].trim_end().split('|').count(), 6, "{lines:?}");
        assert!(lines[0].starts_with("running|"), "{lines:?}");
        // The container's journal and a tailed file: one message per line.
        let (journal, _) = godoxy_client(
            &served,
            &format!("/api/v1/proxmox/journalctl/{node}/{vmid}?limit=5"),
            5,
        )
        .await;
        assert_eq!(journal.len(), 5, "{journal:?}");
        let (tail, _) = godoxy_client(
            &served,
            &format!("/api/v1/proxmox/tail?node={node}&vmid={vmid}&file=/etc/hostname&limit=1"),
            1,
        )
        .await;
        assert_eq!(tail.len(), 1, "{tail:?}");
        assert!(!tail[0].trim().is_empty(), "{tail:?}");
    });
}
