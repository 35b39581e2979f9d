//! A raw terminal client: termproxy over HTTPS, then the websocket (tokio-tungstenite over
//! tokio-rustls trusting the simulator's CA) and termproxy's byte protocol.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pvekit_sim::{Scenario, SimOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::util::{Login, Sim, opts};

pub const CLUSTER: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
  - name: pve3
    online: false
guests:
  - type: lxc
    vmid: 100
    node: pve1
    name: web
    status: running
    config:
      cmode: shell
  - type: lxc
    vmid: 101
    node: pve1
    name: db
  - type: lxc
    vmid: 102
    node: pve1
    name: alpine1
    status: running
    config:
      ostype: alpine
  - type: lxc
    vmid: 103
    node: pve1
    name: app
    status: running
  - type: qemu
    vmid: 200
    node: pve1
    status: running
"#;

pub fn term_opts() -> SimOptions {
    SimOptions {
        scenario_inline: Some(Scenario::from_yaml(CLUSTER).expect("scenario")),
        ..opts()
    }
}

/// How the client authenticates.
pub enum Who<'a> {
    Root(&'a Login),
    Token,
}

impl Who<'_> {
    fn apply(&self, s: &Sim, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Who::Root(l) => r
                .header("Cookie", format!("PVEAuthCookie={}", l.ticket))
                .header("CSRFPreventionToken", &l.csrf),
            Who::Token => r.header("Authorization", s.token_header()),
        }
    }
    fn header(&self, s: &Sim) -> (&'static str, String) {
        match self {
            Who::Root(l) => ("Cookie", format!("PVEAuthCookie={}", l.ticket)),
            Who::Token => ("Authorization", s.token_header()),
        }
    }
}

/// POST termproxy (`path` like `/nodes/pve1`); returns the response data, asserting 200.
pub async fn termproxy(s: &Sim, who: &Who<'_>, path: &str, form: &[(&str, &str)]) -> Value {
    let r = s
        .send(
            who.apply(s, s.http.post(s.url(&format!("{path}/termproxy"))))
                .form(form),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.data()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// An open terminal websocket and everything it has received.
pub struct Term {
    pub ws: Ws,
    pub out: Vec<u8>,
    /// The 101 response's Sec-WebSocket-Protocol.
    pub protocol: Option<String>,
    pub closed: bool,
    pub close_frame: bool,
}

/// Opens the websocket; `Err(status)` when the handshake is refused.
pub async fn open_ws(
    s: &Sim,
    who: &Who<'_>,
    path: &str,
    port: u64,
    ticket: &str,
    protocol: Option<&str>,
) -> Result<Term, u16> {
    let addr = s.sim.addr();
    let ticket_enc: String = form_urlencoded::byte_serialize(ticket.as_bytes()).collect();
    let url = format!(
        "wss://localhost:{}/api2/json{path}/vncwebsocket?port={port}&vncticket={ticket_enc}",
        addr.port()
    );
    let mut req = url.into_client_request().expect("request");
    let (name, value) = who.header(s);
    req.headers_mut()
        .insert(name, HeaderValue::from_str(&value).expect("header"));
    if let Some(p) = protocol {
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(p).expect("p"),
        );
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(s.sim.ca_pem().as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("tls");
    match tokio_tungstenite::client_async(req, tls).await {
        Ok((ws, resp)) => Ok(Term {
            ws,
            out: Vec::new(),
            protocol: resp
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            closed: false,
            close_frame: false,
        }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

/// termproxy's `port`: a string, as a real Proxmox VE 9 answers it.
pub fn port(d: &Value) -> u64 {
    d["port"]
        .as_str()
        .unwrap_or_else(|| panic!("port is not a string: {d}"))
        .parse()
        .expect("port number")
}

/// termproxy + websocket + auth line + `OK`.
pub async fn session(s: &Sim, who: &Who<'_>, path: &str) -> (Term, Value) {
    let d = termproxy(s, who, path, &[]).await;
    let mut t = open_ws(
        s,
        who,
        path,
        port(&d),
        d["ticket"].as_str().expect("ticket"),
        Some("binary"),
    )
    .await
    .expect("websocket opens");
    let user = d["user"].as_str().expect("user");
    let ticket = d["ticket"].as_str().expect("ticket");
    t.send_raw(format!("{user}:{ticket}\n").as_bytes()).await;
    t.expect_ok().await;
    (t, d)
}

impl Term {
    pub async fn send_raw(&mut self, data: &[u8]) {
        self.ws
            .send(Message::Binary(data.to_vec().into()))
            .await
            .expect("send");
    }

    /// Sends keystrokes as `0:<len>:<data>`.
    pub async fn input(&mut self, data: &str) {
        let msg = format!("0:{}:{data}", data.len());
        self.send_raw(msg.as_bytes()).await;
    }

    pub async fn resize(&mut self, cols: u16, rows: u16) {
        self.send_raw(format!("1:{cols}:{rows}:").as_bytes()).await;
    }

    /// Reads one message (with a timeout); false when nothing more comes.
    async fn pull(&mut self, deadline: Instant) -> bool {
        if self.closed {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.ws.next()).await {
            Err(_) => false,
            Ok(Some(Ok(Message::Binary(b)))) => {
                self.out.extend_from_slice(&b);
                true
            }
            Ok(Some(Ok(Message::Text(t)))) => panic!("server sent a text frame: {t}"),
            Ok(Some(Ok(Message::Close(_)))) => {
                self.close_frame = true;
                self.closed = true;
                false
            }
            Ok(Some(Ok(_))) => true,
            Ok(Some(Err(_)) | None) => {
                self.closed = true;
                false
            }
        }
    }

    /// The first two bytes must be `OK`; the rest stays in `out`.
    pub async fn expect_ok(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.out.len() < 2 && self.pull(deadline).await {}
        assert!(self.out.starts_with(b"OK"), "no OK: {:?}", self.text());
        self.out.drain(..2);
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).to_string()
    }

    /// Waits until the output contains `needle`; returns the output without bash's
    /// bracketed-paste switches, and clears it.
    pub async fn until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(i) = self.text().find(needle) {
                let end = i + needle.len();
                let got = String::from_utf8_lossy(&self.out[..end]).to_string();
                self.out.drain(..end);
                return got
                    .replace("\u{1b}[?2004l\r", "")
                    .replace("\u{1b}[?2004h", "");
            }
            if !self.pull(deadline).await {
                panic!("'{needle}' did not arrive; got: {:?}", self.text());
            }
        }
    }

    /// Reads until the session ends (or `secs` pass); returns whether it ended.
    pub async fn wait_end(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.pull(deadline).await {}
        self.closed
    }

    /// Reads whatever arrives for `ms` milliseconds.
    pub async fn collect(&mut self, ms: u64) {
        let deadline = Instant::now() + Duration::from_millis(ms);
        while self.pull(deadline).await {}
    }

    /// Types the line pvekit sends to run a script and returns (its output, exit status).
    pub async fn framed(&mut self, script: &str) -> (String, i32) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(script);
        let nonce = "n0nce42";
        let line = format!(
            " stty -echo -opost 2>/dev/null; printf '%s%s\\n' PVEKIT {nonce}S; sh -c \"$(printf %s {b64} | base64 -d)\" </dev/null; printf '%s%s:%d\\n' PVEKIT {nonce}E $?; exit\r"
        );
        self.input(&line).await;
        self.until(&format!("PVEKIT{nonce}S\n")).await;
        let body = self.until(&format!("PVEKIT{nonce}E:")).await;
        let body = body
            .strip_suffix(&format!("PVEKIT{nonce}E:"))
            .unwrap_or(&body)
            .to_string();
        let status = self.until("\n").await;
        let code = status.trim().parse().expect("exit status");
        (body, code)
    }
}
