//! Helpers: start a simulator, a reqwest client trusting its CA, and a raw HTTPS client.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use pvekit_sim::{RunningSim, SimOptions, Simulator};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

pub const PASSWORD: &str = "s3cret-pw";
pub const SECRET: &str = "0a1b2c3d-1111-2222-3333-444455556666";

/// How long tasks run in the guest tests (finished with `advance_clock`).
pub const TASK: std::time::Duration = std::time::Duration::from_secs(30);

pub fn opts() -> SimOptions {
    SimOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        password: Some(PASSWORD.into()),
        secret: Some(SECRET.into()),
        ..SimOptions::default()
    }
}

fn tls_config(ca_pem: &str) -> rustls::ClientConfig {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA cert");
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A started simulator plus a client for it.
pub struct Sim {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub base: String,
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }
    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_string()
    }
    pub fn error(&self, name: &str) -> String {
        self.json()["errors"][name]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

pub async fn start(opts: SimOptions) -> Sim {
    let sim = Simulator::start(opts).await.expect("simulator starts");
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(sim.ca_pem()))
        .no_proxy()
        .build()
        .expect("client");
    let base = format!("{}/api2/json", sim.info().url);
    Sim { sim, http, base }
}

pub async fn start_default() -> Sim {
    start(opts()).await
}

/// Login result.
pub struct Login {
    pub ticket: String,
    pub csrf: String,
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let body = r.bytes().await.expect("body").to_vec();
        Resp { status, body }
    }

    pub fn token_header(&self) -> String {
        format!(
            "PVEAPIToken={}={}",
            self.sim.info().token_id,
            self.sim.info().secret
        )
    }

    /// GET with token auth.
    pub async fn get(&self, path: &str) -> Resp {
        self.send(
            self.http
                .get(self.url(path))
                .header("Authorization", self.token_header()),
        )
        .await
    }

    /// GET with token auth and query parameters; returns `data` after asserting 200.
    pub async fn data(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(
            r.status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.data()
    }

    pub async fn login(&self) -> Login {
        let r = self
            .send(
                self.http
                    .post(self.url("/access/ticket"))
                    .form(&[("username", "root@pam"), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let d = r.data();
        Login {
            ticket: d["ticket"].as_str().expect("ticket").to_string(),
            csrf: d["CSRFPreventionToken"].as_str().expect("csrf").to_string(),
        }
    }

    /// Sends a raw HTTP/1.1 request over TLS and returns the status line and the body.
    pub async fn raw(&self, request: String) -> (String, String) {
        let addr = self.sim.addr();
        let config = Arc::new(tls_config(self.sim.ca_pem()));
        tokio::task::spawn_blocking(move || {
            let name = ServerName::try_from("localhost").expect("name");
            let conn = rustls::ClientConnection::new(config, name).expect("tls");
            let sock = std::net::TcpStream::connect(addr).expect("connect");
            let mut tls = rustls::StreamOwned::new(conn, sock);
            tls.write_all(request.as_bytes()).expect("write");
            let mut out = Vec::new();
            let _ = tls.read_to_end(&mut out);
            let text = String::from_utf8_lossy(&out).to_string();
            let status = text.lines().next().unwrap_or("").to_string();
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
            (status, body)
        })
        .await
        .expect("raw client")
    }
}

/// Writes with token auth.
impl Sim {
    /// POST a form with token auth.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("Authorization", self.token_header())
                .form(form),
        )
        .await
    }

    /// PUT a form with token auth.
    pub async fn put(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(
            self.http
                .put(self.url(path))
                .header("Authorization", self.token_header())
                .form(form),
        )
        .await
    }

    /// POST with ticket auth (root@pam) and CSRF token.
    pub async fn post_as_root(&self, login: &Login, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket))
                .header("CSRFPreventionToken", &login.csrf)
                .form(form),
        )
        .await
    }

    /// POSTs an action and returns the UPID, asserting 200.
    pub async fn action(&self, path: &str, form: &[(&str, &str)]) -> String {
        let r = self.post(path, form).await;
        assert_eq!(
            r.status,
            200,
            "POST {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.data().as_str().expect("a UPID").to_string()
    }

    /// GET task status of a UPID (asserting 200).
    pub async fn task(&self, upid: &str) -> Value {
        let node = upid.split(':').nth(1).expect("node in UPID");
        self.data(&format!("/nodes/{node}/tasks/{upid}/status"))
            .await
    }

    /// The task's full log lines.
    pub async fn task_log(&self, upid: &str) -> Vec<String> {
        let node = upid.split(':').nth(1).expect("node in UPID");
        let d = self
            .data(&format!("/nodes/{node}/tasks/{upid}/log?limit=0"))
            .await;
        d.as_array()
            .expect("log lines")
            .iter()
            .map(|l| l["t"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Moves the clock by [`TASK`] (the tasks' duration in guest tests) and returns the
    /// task's final status.
    pub async fn finish(&self, upid: &str) -> Value {
        self.sim.advance_clock(TASK);
        let t = self.task(upid).await;
        assert_eq!(t["status"], "stopped", "{t}");
        t
    }
}
