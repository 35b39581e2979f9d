//! Faults and per-node listeners, observed from raw HTTPS clients: every node answers on its
//! own listener with its own certificate; a stopped listener refuses and drops connections and
//! starts again on its port; calls proxied to a down node fail as pveproxy relays them; the
//! scheduled faults (statuses, resets, truncation, malformed JSON, stalls, latency, node
//! offline, tickets invalidated, terminal websocket dropped, termproxy without OK) by count,
//! probability, pattern and node. Every wait here has a timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pvekit_sim::{Fault, FaultKind, Scenario, SimOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::termutil::{Who, open_ws, port, term_opts, termproxy};
use crate::util::{Sim, opts, start};

const CLUSTER: &str = r#"
cluster: lab
nodes: [{name: pve1}, {name: pve2}, {name: pve3}]
guests:
  - {type: lxc, vmid: 100, node: pve1, status: running}
  - {type: lxc, vmid: 200, node: pve2, status: running}
  - {type: qemu, vmid: 300, node: pve3, status: running}
"#;

fn cluster_opts() -> SimOptions {
    SimOptions {
        scenario_inline: Some(Scenario::from_yaml(CLUSTER).expect("scenario")),
        ..opts()
    }
}

fn tls(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to `addr` trusting the simulator's CA.
async fn connect(s: &Sim, addr: SocketAddr) -> std::io::Result<Tls> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(tls(s.sim.ca_pem()))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
}

/// How a raw exchange ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// A clean close (TLS close_notify, then EOF).
    Closed,
    /// EOF without close_notify.
    UnexpectedEof,
    /// TCP reset.
    Reset,
    /// Nothing more within the timeout, connection still open.
    Timeout,
    Other(String),
}

/// A raw answer: status line, header block, body bytes, and how the connection ended.
#[derive(Debug)]
struct Raw {
    status_line: String,
    head: String,
    body: Vec<u8>,
    end: End,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Reads everything until the connection ends or `within` passes.
async fn read_all(conn: &mut Tls, within: Duration) -> (Vec<u8>, End) {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return (out, End::Timeout),
            Ok(Ok(0)) => return (out, End::Closed),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => {
                let end = match e.kind() {
                    std::io::ErrorKind::ConnectionReset => End::Reset,
                    std::io::ErrorKind::UnexpectedEof => End::UnexpectedEof,
                    _ => End::Other(e.to_string()),
                };
                return (out, end);
            }
        }
    }
}

fn split(out: Vec<u8>, end: End) -> Raw {
    let text_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..text_end]).to_string();
    let body = out.get(text_end + 4..).unwrap_or_default().to_vec();
    Raw {
        status_line: head.lines().next().unwrap_or("").to_string(),
        head,
        body,
        end,
    }
}

/// One request with token auth and `Connection: close` to `addr`; reads the whole answer.
async fn raw_at(s: &Sim, addr: SocketAddr, method: &str, path: &str, within: Duration) -> Raw {
    let mut conn = connect(s, addr).await.expect("connect");
    let req = format!(
        "{method} /api2/json{path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        s.token_header()
    );
    conn.write_all(req.as_bytes()).await.expect("write");
    let (out, end) = read_all(&mut conn, within).await;
    split(out, end)
}

async fn raw(s: &Sim, path: &str) -> Raw {
    raw_at(s, s.sim.addr(), "GET", path, Duration::from_secs(5)).await
}

fn addr_of(url: &str) -> SocketAddr {
    url.strip_prefix("https://")
        .expect("https URL")
        .parse()
        .expect("address")
}

fn sha256_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// GET with token auth through the listener at `url`.
async fn get_at(s: &Sim, url: &str, path: &str) -> (u16, Value) {
    let r = s
        .send(
            s.http
                .get(format!("{url}/api2/json{path}"))
                .header("Authorization", s.token_header()),
        )
        .await;
    (r.status, r.json())
}

#[tokio::test]
async fn every_node_has_its_own_listener_and_certificate() {
    let s = start(cluster_opts()).await;
    let nodes = s.sim.info().nodes.clone();
    assert_eq!(
        nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["pve1", "pve2", "pve3"]
    );
    assert_eq!(nodes[0].url, s.sim.info().url);
    assert_eq!(nodes[0].fingerprint, s.sim.info().fingerprint);
    let listed = s.data("/nodes").await;
    for n in &nodes {
        assert!(addr_of(&n.url).ip().is_loopback(), "{}", n.url);
        // /version answers on each; /cluster/status marks the node answering as local.
        let (status, v) = get_at(&s, &n.url, "/version").await;
        assert_eq!(status, 200, "{v}");
        assert!(v["data"]["version"].is_string(), "{v}");
        let (_, cs) = get_at(&s, &n.url, "/cluster/status").await;
        let local: Vec<&str> = cs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["local"] == 1)
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(local, [n.name.as_str()]);
        // The certificate served is the node's own, and GET /nodes shows its fingerprint.
        let conn = connect(&s, addr_of(&n.url)).await.expect("tls");
        let der = conn.get_ref().1.peer_certificates().expect("certs")[0].clone();
        assert_eq!(sha256_hex(&der), n.fingerprint);
        let shown = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["node"] == n.name.as_str())
            .unwrap();
        assert_eq!(shown["ssl_fingerprint"], n.fingerprint.as_str());
    }
    assert_ne!(nodes[1].fingerprint, nodes[2].fingerprint);
    // A call about another node is proxied: pve2's guest through pve3's listener.
    let (status, _) = get_at(&s, &nodes[2].url, "/nodes/pve2/lxc/200/status/current").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_stopped_listener_refuses_and_drops_then_restarts_on_its_port() {
    let s = start(cluster_opts()).await;
    let ctl = s.sim.control();
    let pve2 = s.sim.info().nodes[1].clone();
    let addr = addr_of(&pve2.url);
    // A keep-alive connection open before the stop.
    let mut open = connect(&s, addr).await.expect("connect");
    let req = format!(
        "GET /api2/json/version HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\r\n",
        s.token_header()
    );
    open.write_all(req.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = open.read(&mut buf).await.expect("answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    ctl.stop_listener("pve2").await.expect("stop");
    assert!(!ctl.listener_running("pve2"));
    let refused = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let (_, end) = read_all(&mut open, Duration::from_secs(5)).await;
    assert_ne!(end, End::Timeout, "the open connection was dropped");
    // The others still serve; a call proxied to pve2 fails as pveproxy relays the refused
    // connect.
    let (status, _) = get_at(&s, &s.sim.info().nodes[2].url, "/version").await;
    assert_eq!(status, 200);
    let r = raw(&s, "/nodes/pve2/status").await;
    assert_eq!(r.status_line, "HTTP/1.1 595 Connection refused");
    assert!(r.body.is_empty());
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    // pve2 is still online in the cluster.
    let st = s.data("/cluster/status").await;
    assert!(
        st.as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "pve2" && i["online"] == 1)
    );

    assert_eq!(ctl.start_listener("pve2").expect("start"), addr);
    let (status, _) = get_at(&s, &pve2.url, "/version").await;
    assert_eq!(status, 200);
    assert_eq!(s.get("/nodes/pve2/status").await.status, 200);
}

#[tokio::test]
async fn an_offline_node_shows_unknown_guests_and_proxied_calls_fail() {
    let s = start(cluster_opts()).await;
    let ctl = s.sim.control();
    ctl.set_node_online("pve3", false).expect("offline");
    let res = s.data("/cluster/resources?type=vm").await;
    let g = res
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == 300)
        .unwrap();
    assert_eq!(g["status"], "unknown");
    // Through pve1: AnyEvent::HTTP's connect error, relayed without a body.
    let r = raw(&s, "/nodes/pve3/qemu/300/status/current").await;
    assert_eq!(r.status_line, "HTTP/1.1 595 No route to host", "{r:?}");
    assert!(r.body.is_empty());
    // pveproxy sends no Content-Length for the empty body; hyper sends 0 (the same to
    // clients), both close the connection.
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    // pve3's own listener still answers its local calls.
    let url = s.sim.info().nodes[2].url.clone();
    assert_eq!(get_at(&s, &url, "/nodes/pve3/status").await.0, 200);
    ctl.set_node_online("pve3", true).expect("online");
    assert_eq!(
        s.get("/nodes/pve3/qemu/300/status/current").await.status,
        200
    );

    // The same as a scheduled fault: pve2 goes offline at the 2nd GET /version, for 300 ms.
    ctl.faults()
        .add(
            Fault::new(FaultKind::NodeOffline {
                node: "pve2".into(),
                for_ms: Some(300),
            })
            .matching("GET /version")
            .nth(2),
        )
        .expect("fault");
    s.data("/version").await;
    assert_eq!(s.get("/nodes/pve2/status").await.status, 200);
    s.data("/version").await;
    assert_eq!(s.get("/nodes/pve2/status").await.status, 595);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.get("/nodes/pve2/status").await.status, 200);
}

#[tokio::test]
async fn status_faults_with_their_real_bodies_by_count() {
    let s = start(opts()).await;
    let faults = s.sim.control().faults();
    let status = |code| FaultKind::Status { code, reason: None };
    faults
        .add(Fault::new(status(503)).matching("GET /version").nth(2))
        .unwrap();
    faults
        .add(Fault::new(status(502)).matching("/cluster/*").every(2))
        .unwrap();
    faults
        .add(Fault::new(status(595)).matching("GET /nodes").between(2, 3))
        .unwrap();
    faults
        .add(
            Fault::new(FaultKind::Status {
                code: 596,
                reason: None,
            })
            .matching("GET /nodes/*/status"),
        )
        .unwrap();

    let lines = |v: Vec<Raw>| v.into_iter().map(|r| r.status_line).collect::<Vec<_>>();
    let mut v = Vec::new();
    for _ in 0..3 {
        v.push(raw(&s, "/version").await);
    }
    assert_eq!(v[1].header("server").as_deref(), Some("nginx"));
    let page = String::from_utf8_lossy(&v[1].body).to_string();
    assert!(
        page.contains("<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>"),
        "{page}"
    );
    assert_eq!(
        lines(v),
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 503 Service Temporarily Unavailable",
            "HTTP/1.1 200 OK"
        ]
    );
    let mut v = Vec::new();
    for _ in 0..4 {
        v.push(raw(&s, "/cluster/resources").await);
    }
    assert_eq!(
        lines(v),
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 502 Bad Gateway",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 502 Bad Gateway"
        ]
    );
    let mut v = Vec::new();
    for _ in 0..4 {
        v.push(raw(&s, "/nodes").await);
    }
    assert!(v[1].body.is_empty() && v[1].header("connection").as_deref() == Some("close"));
    assert_eq!(
        lines(v),
        [
            "HTTP/1.1 200 OK",
            "HTTP/1.1 595 Connection refused",
            "HTTP/1.1 595 Connection refused",
            "HTTP/1.1 200 OK"
        ]
    );
    let r = raw(&s, "/nodes/pve1/status").await;
    assert_eq!(r.status_line, "HTTP/1.1 596 Broken pipe");
    assert!(r.body.is_empty());
    // The faulted requests are recorded with the status answered.
    assert!(
        s.sim
            .requests()
            .iter()
            .any(|r| r.path == "/version" && r.status == 503)
    );

    faults.clear();
    assert!(faults.list().is_empty());
    assert_eq!(
        raw(&s, "/nodes/pve1/status").await.status_line,
        "HTTP/1.1 200 OK"
    );
}

#[tokio::test]
async fn resets_truncated_and_malformed_bodies() {
    let s = start(opts()).await;
    let faults = s.sim.control().faults();
    faults
        .add(Fault::new(FaultKind::Reset).matching("GET /version"))
        .unwrap();
    faults
        .add(
            Fault::new(FaultKind::ResetMidBody {
                after_bytes: Some(10),
            })
            .matching("GET /nodes"),
        )
        .unwrap();
    faults
        .add(
            Fault::new(FaultKind::Truncate { after_bytes: None })
                .matching("GET /cluster/resources"),
        )
        .unwrap();
    faults
        .add(Fault::new(FaultKind::MalformedJson).matching("GET /cluster/status"))
        .unwrap();

    let r = raw(&s, "/version").await;
    assert_eq!(r.end, End::Reset, "{r:?}");
    assert!(r.status_line.is_empty(), "nothing of the answer: {r:?}");

    let r = raw(&s, "/nodes").await;
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.body.len(), 10, "{r:?}");
    assert_eq!(r.end, End::Reset);

    let r = raw(&s, "/cluster/resources").await;
    let announced: usize = r.header("content-length").unwrap().parse().unwrap();
    assert_eq!(r.body.len(), announced / 2, "{r:?}");
    assert_eq!(r.end, End::UnexpectedEof);

    let r = raw(&s, "/cluster/status").await;
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        r.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        r.body.len()
    );
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    // reqwest sees the same: errors, not answers.
    assert!(s.http.get(s.url("/version")).send().await.is_err());
    let body = s
        .http
        .get(s.url("/cluster/resources"))
        .header("Authorization", s.token_header())
        .send()
        .await
        .expect("headers arrive")
        .bytes()
        .await;
    assert!(body.is_err());
}

#[tokio::test]
async fn a_stall_holds_until_the_client_gives_up_or_the_sim_stops() {
    let s = start(opts()).await;
    s.sim
        .control()
        .faults()
        .add(Fault::new(FaultKind::Stall).matching("GET /version"))
        .unwrap();
    let client_gives_up = tokio::time::timeout(Duration::from_millis(300), s.get("/version")).await;
    assert!(client_gives_up.is_err());
    // Other calls are served meanwhile.
    assert_eq!(s.get("/nodes").await.status, 200);

    let mut conn = connect(&s, s.sim.addr()).await.expect("connect");
    let req = format!(
        "GET /api2/json/version HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\r\n",
        s.token_header()
    );
    conn.write_all(req.as_bytes()).await.expect("write");
    let (out, end) = read_all(&mut conn, Duration::from_millis(300)).await;
    assert!(out.is_empty() && end == End::Timeout);
    let Sim { sim, .. } = s;
    let stopping = tokio::spawn(sim.shutdown());
    let (out, end) = read_all(&mut conn, Duration::from_secs(5)).await;
    assert!(out.is_empty());
    assert_ne!(end, End::Timeout, "the stall ends with the simulator");
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("shutdown ends")
        .expect("shutdown");
}

#[tokio::test]
async fn latency_jitter_and_seeded_probability() {
    let s = start(opts()).await;
    s.sim
        .control()
        .faults()
        .add(
            Fault::new(FaultKind::Latency {
                ms: 150,
                jitter_ms: 50,
            })
            .matching("GET /version"),
        )
        .unwrap();
    let t = Instant::now();
    assert_eq!(s.get("/version").await.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    assert_eq!(s.get("/nodes").await.status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );

    // The same seed and the same requests give the same draws.
    let run = |seed| async move {
        let s = start(SimOptions {
            seed,
            faults_inline: vec![
                Fault::new(FaultKind::Status {
                    code: 503,
                    reason: None,
                })
                .matching("GET /version")
                .probability(0.5),
            ],
            ..opts()
        })
        .await;
        let mut v = Vec::new();
        for _ in 0..24 {
            v.push(s.get("/version").await.status);
        }
        v
    };
    let (a, b) = (run(7).await, run(7).await);
    assert_eq!(a, b);
    assert!(a.contains(&200) && a.contains(&503), "{a:?}");
}

#[tokio::test]
async fn faults_per_node_listener_and_from_yaml() {
    let yaml = format!(
        "{CLUSTER}faults:\n  - match: \"GET /version\"\n    node: pve2\n    fault: {{status: {{code: 503}}}}\n  - match: \"/nodes/**\"\n    nth: 1\n    fault: {{latency: {{ms: 1, jitter_ms: 1}}}}\n  - fault: {{reset_mid_body: {{after_bytes: 3}}}}\n    nth: 1000\n  - {{fault: stall, nth: 1000}}\n  - {{fault: reset, nth: 1000}}\n  - {{fault: {{truncate: {{}}}}, nth: 1000}}\n  - {{fault: malformed_json, nth: 1000}}\n  - {{fault: invalidate_tickets, nth: 1000}}\n  - {{fault: {{node_offline: {{node: pve3, for_ms: 10}}}}, nth: 1000}}\n  - {{fault: {{websocket_drop: {{after_bytes: 5}}}}, nth: 1000}}\n  - {{fault: termproxy_no_ok, nth: 1000}}\n"
    );
    let (_, faults) = Scenario::from_yaml_with_faults(&yaml).expect("faults parse");
    assert_eq!(faults.len(), 11);
    assert!(
        Scenario::from_yaml(&yaml).is_err(),
        "a Scenario value has no faults"
    );
    // As a scenario file, and the same list as a faults file.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, &yaml).expect("write");
    let s = start(SimOptions {
        scenario: Some(path),
        ..opts()
    })
    .await;
    let faults_path = dir.path().join("faults.yaml");
    std::fs::write(
        &faults_path,
        "faults:\n  - {match: GET /version, nth: 1, fault: {status: {code: 502}}}\n",
    )
    .expect("write");
    let f = start(SimOptions {
        faults: Some(faults_path.clone()),
        ..opts()
    })
    .await;
    assert_eq!(f.get("/version").await.status, 502);
    assert_eq!(f.get("/version").await.status, 200);
    std::fs::write(&faults_path, "faults: [{fault: stall, node: nope}]\n").expect("write");
    let refused = pvekit_sim::Simulator::start(SimOptions {
        faults: Some(faults_path),
        ..opts()
    })
    .await;
    assert!(matches!(refused, Err(pvekit_sim::SimError::Faults { .. })));
    let nodes = s.sim.info().nodes.clone();
    assert_eq!(get_at(&s, &nodes[0].url, "/version").await.0, 200);
    assert_eq!(get_at(&s, &nodes[1].url, "/version").await.0, 503);
    assert_eq!(get_at(&s, &nodes[2].url, "/version").await.0, 200);

    // Bad faults are refused with a reason.
    for bad in [
        "nodes: [{name: a}]\nfaults: [{fault: stall, probability: 2}]",
        "nodes: [{name: a}]\nfaults: [{fault: stall, match: version}]",
        "nodes: [{name: a}]\nfaults: [{fault: stall, node: b}]",
        "nodes: [{name: a}]\nfaults: [{fault: explode}]",
    ] {
        assert!(Scenario::from_yaml_with_faults(bad).is_err(), "{bad}");
    }
    assert!(
        s.sim
            .control()
            .faults()
            .add(Fault::new(FaultKind::Stall).on_node("nope"))
            .is_err()
    );
}

#[tokio::test]
async fn invalidated_tickets_get_401() {
    let s = start(opts()).await;
    let login = s.login().await;
    let with_ticket = || {
        s.http
            .get(s.url("/version"))
            .header("Cookie", format!("PVEAuthCookie={}", login.ticket))
    };
    assert_eq!(s.send(with_ticket()).await.status, 200);
    s.sim.control().invalidate_tickets();
    assert_eq!(s.send(with_ticket()).await.status, 401);
    assert_eq!(s.get("/version").await.status, 200, "tokens still work");
    let fresh = s.login().await;
    let r = s
        .send(
            s.http
                .get(s.url("/version"))
                .header("Cookie", format!("PVEAuthCookie={}", fresh.ticket)),
        )
        .await;
    assert_eq!(r.status, 200);

    // As a fault: at the 2nd GET /nodes.
    s.sim
        .control()
        .faults()
        .add(
            Fault::new(FaultKind::InvalidateTickets)
                .matching("GET /nodes")
                .nth(2),
        )
        .unwrap();
    let nodes = || {
        s.http
            .get(s.url("/nodes"))
            .header("Cookie", format!("PVEAuthCookie={}", fresh.ticket))
    };
    assert_eq!(s.send(nodes()).await.status, 200);
    assert_eq!(s.send(nodes()).await.status, 401);
}

#[tokio::test]
async fn terminal_websocket_dropped_mid_stream_and_termproxy_without_ok() {
    let s = start(SimOptions {
        faults_inline: vec![
            Fault::new(FaultKind::WebsocketDrop {
                after_bytes: Some(4),
                after_ms: None,
            })
            .matching("GET /nodes/*/lxc/100/vncwebsocket"),
            Fault::new(FaultKind::TermproxyNoOk).matching("GET /nodes/*/lxc/103/vncwebsocket"),
        ],
        ..term_opts()
    })
    .await;
    let login = s.login().await;
    let who = Who::Root(&login);
    let open = |path: &'static str| {
        let who = &who;
        let s = &s;
        async move {
            let d = termproxy(s, who, path, &[]).await;
            let ticket = d["ticket"].as_str().unwrap().to_string();
            let mut t = open_ws(s, who, path, port(&d), &ticket, Some("binary"))
                .await
                .expect("websocket opens");
            let user = d["user"].as_str().unwrap();
            t.send_raw(format!("{user}:{ticket}\n").as_bytes()).await;
            t
        }
    };

    // Dropped after 4 bytes of console output: no close frame, the connection just ends.
    let mut t = open("/nodes/pve1/lxc/100").await;
    t.expect_ok().await;
    t.input("\r").await;
    assert!(t.wait_end(10).await, "dropped");
    assert!(!t.close_frame);
    assert!(t.out.len() <= 4, "{:?}", t.text());

    // termproxy reads the auth line and never answers.
    let mut t = open("/nodes/pve1/lxc/103").await;
    t.collect(500).await;
    assert!(t.out.is_empty() && !t.closed, "{:?}", t.text());
    // Another console is unaffected.
    let mut ok = open("/nodes/pve1/lxc/102").await;
    ok.expect_ok().await;
    // The stall ends when the simulator stops.
    let Sim { sim, .. } = s;
    drop(ok);
    sim.shutdown().await;
    assert!(t.wait_end(5).await);
}
