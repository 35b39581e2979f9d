//! `pvekit-bench exec` and `pvekit-bench journal`: terminal-proxy figures.
//!
//! `exec` times `exec -- true` through the library (call → the command running, its first
//! output byte would follow at once; call → exit status) next to a minimal raw-protocol client
//! doing the same steps in the same run (termproxy POST, websocket upgrade, auth line, `OK`,
//! type the command, read to the end): that client's times to the shell's echo of its typed
//! command (the shell has the command and runs it next) and to the end of the session are the
//! bounds. `journal` counts lines per second
//! through a followed journal the simulator fills as fast as it can.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use pvekit::Client;
use rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use crate::inventory::{ChildSim, SimArgs};
use crate::{emit, median};

/// Options of the exec benchmark.
#[derive(clap::Args)]
pub struct ExecArgs {
    /// Runs to time (medians are reported).
    #[arg(long, default_value_t = 15)]
    runs: usize,
}

/// Options of the journal benchmark.
#[derive(clap::Args)]
pub struct JournalArgs {
    /// How long to follow the journal.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

fn small_sim() -> SimArgs {
    SimArgs {
        containers: 4,
        vms: 0,
        nodes: 1,
        latency_ms: 0,
        seed: 1,
    }
}

pub async fn exec(a: ExecArgs) -> anyhow::Result<()> {
    let sim = ChildSim::start(&small_sim()).await?;
    let client = Client::connect(&sim.config()?).await?;
    let node = client.nodes().into_iter().next().context("no node")?;
    let raw = RawClient::login(&sim).await?;
    let (mut lib_first, mut lib_exit, mut raw_first, mut raw_exit) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        let mut cmd = node.command("true").await?;
        lib_first.push(t.elapsed().as_secs_f64() * 1000.0);
        while let Some(chunk) = cmd.next().await {
            chunk?;
        }
        if cmd.exit_status() != Some(0) {
            bail!("`true` exited with {:?}", cmd.exit_status());
        }
        lib_exit.push(t.elapsed().as_secs_f64() * 1000.0);

        let (first, exit) = raw.run(node.name(), "true; exit\n").await?;
        raw_first.push(first);
        raw_exit.push(exit);
    }
    emit(
        "exec",
        "to_first_byte_ms",
        median(lib_first),
        "ms",
        Some(median(raw_first)),
    );
    emit(
        "exec",
        "to_exit_status_ms",
        median(lib_exit),
        "ms",
        Some(median(raw_exit)),
    );
    // Large scripts: typed as short base64 lines after the ready marker.
    for (label, size) in [("script_64KiB", 64usize << 10), ("script_1MiB", 1 << 20)] {
        let pad = size - "printf %s '' | wc -c".len();
        let script = format!("printf %s '{}' | wc -c", "x".repeat(pad));
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let (out, status) = node.command(&script).await?.output().await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if status != 0 || String::from_utf8_lossy(&out).trim() != pad.to_string() {
                bail!("the {label} script arrived changed: status {status}, output {out:?}");
            }
        }
        emit(
            "exec",
            &format!("{label}_to_exit_status_ms"),
            median(times),
            "ms",
            None,
        );
    }
    sim.stop().await;
    Ok(())
}

pub async fn journal(a: JournalArgs) -> anyhow::Result<()> {
    let sim = ChildSim::start(&small_sim()).await?;
    let client = Client::connect(&sim.config()?).await?;
    let node = client.nodes().into_iter().next().context("no node")?;
    let options = pvekit::JournalOptions::last(0)
        .unit("pvekit-flood")
        .follow();
    let mut stream = node.journal(&options).await?;
    let window = Duration::from_secs_f64(a.seconds.max(0.5));
    let start = Instant::now();
    let mut lines = 0u64;
    let mut bytes = 0u64;
    while start.elapsed() < window {
        match tokio::time::timeout(window.saturating_sub(start.elapsed()), stream.next()).await {
            Ok(Some(chunk)) => {
                let chunk = chunk?;
                lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                bytes += chunk.len() as u64;
            }
            Ok(None) => bail!("the journal ended while following"),
            Err(_) => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(stream);
    emit(
        "journal",
        "lines_per_second",
        lines as f64 / secs,
        "lines/s",
        None,
    );
    emit(
        "journal",
        "bytes_per_second",
        bytes as f64 / secs,
        "bytes/s",
        None,
    );
    sim.stop().await;
    Ok(())
}

/// The smallest client of the terminal protocol: no framing, no checks beyond `OK`.
struct RawClient {
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    base: url::Url,
    ticket: String,
    csrf: String,
}

impl RawClient {
    async fn login(sim: &ChildSim) -> anyhow::Result<RawClient> {
        let tls = Arc::new(crate::raw_inventory::pinned_tls(sim)?);
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .no_proxy()
            .build()?;
        let base = url::Url::parse(&format!("{}/api2/json/", sim.field("url")?))?;
        let resp: serde_json::Value = http
            .post(base.join("access/ticket")?)
            .form(&[
                ("username", sim.field("username")?),
                ("password", sim.field("password")?),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |k: &str| {
            resp["data"][k]
                .as_str()
                .map(str::to_string)
                .context("login answer")
        };
        Ok(RawClient {
            ticket: field("ticket")?,
            csrf: field("CSRFPreventionToken")?,
            http,
            tls,
            base,
        })
    }

    /// Returns milliseconds to the echo of the typed command and to the end of the session.
    async fn run(&self, node: &str, typed: &str) -> anyhow::Result<(f64, f64)> {
        let t = Instant::now();
        let resp: serde_json::Value = self
            .http
            .post(self.base.join(&format!("nodes/{node}/termproxy"))?)
            .header("Cookie", format!("PVEAuthCookie={}", self.ticket))
            .header("CSRFPreventionToken", &self.csrf)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let data = &resp["data"];
        let (user, ticket, port) = (
            data["user"].as_str().context("user")?,
            data["ticket"].as_str().context("ticket")?,
            // A real PVE 9 sends the port as a string, as the simulator does.
            match &data["port"] {
                serde_json::Value::String(p) => p.parse::<u16>().context("port")?,
                other => other
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .context("port")?,
            },
        );
        let mut url = self.base.join(&format!("nodes/{node}/vncwebsocket"))?;
        url.set_scheme("wss").ok();
        url.query_pairs_mut()
            .append_pair("port", &port.to_string())
            .append_pair("vncticket", ticket);
        let host = url.host_str().context("host")?.to_string();
        let tcp =
            tokio::net::TcpStream::connect((host.as_str(), url.port().unwrap_or(8006))).await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(ServerName::try_from(host.clone())?, tcp)
            .await?;
        let mut req = url.as_str().into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "binary".parse()?);
        req.headers_mut()
            .insert("Cookie", format!("PVEAuthCookie={}", self.ticket).parse()?);
        let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await?;
        ws.send(Message::Binary(Bytes::from(format!("{user}:{ticket}\n"))))
            .await?;
        let mut first = None;
        let mut seen: Vec<u8> = Vec::new();
        let echo = typed.trim_end().as_bytes();
        ws.send(Message::Binary(Bytes::from(format!(
            "0:{}:{typed}",
            typed.len()
        ))))
        .await?;
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Binary(b)) => {
                    // The shell echoes the typed line once it has read it: it runs it next.
                    if first.is_none() {
                        seen.extend_from_slice(&b);
                        if seen.windows(echo.len()).any(|w| w == echo) {
                            first = Some(t.elapsed().as_secs_f64() * 1000.0);
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let exit = t.elapsed().as_secs_f64() * 1000.0;
        Ok((
            first.context("the shell never echoed the typed command")?,
            exit,
        ))
    }
}
