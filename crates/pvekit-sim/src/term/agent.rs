//! The local agent: a loopback TCP service the sandboxes' tools ask for live cluster state
//! (`pct`) and for the synthetic journal (`journalctl`, the syslog of containers without
//! systemd). One request line per connection:
//!
//! - `status <node> <vmid>` → `running|stopped <systemd 0/1> <hostname>`, or `missing`;
//! - `list <node>` → `pct list`'s table;
//! - `journal node <name>|ct <vmid> <argc>`, then one argument per line → `ok` and the
//!   output (followed while the client reads, with `-f`), or `err <journalctl's message>`;
//! - `syslog ct <vmid>` → new syslog lines, every [`journal::PERIOD_MS`], until closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::journal::{self, Query, Source};
use super::sandbox::CtInfo;
use crate::api::AppState;
use crate::model::Kind;

/// Serves until the simulator stops.
pub(crate) async fn serve(listener: TcpListener, st: Arc<AppState>) {
    let mut shutdown = st.terminals.shutdown_signal();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => {
                if let Ok((sock, _)) = r {
                    let _ = sock.set_nodelay(true);
                    tokio::spawn(handle(sock, st.clone()));
                }
            }
        }
    }
}

async fn read_line(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut line = String::new();
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        (&mut *r).take(4096).read_line(&mut line),
    )
    .await
    .ok()?
    .ok()?;
    (n > 0).then(|| line.trim_end_matches('\n').to_string())
}

async fn handle(sock: TcpStream, st: Arc<AppState>) {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let Some(line) = read_line(&mut r).await else {
        return;
    };
    let words: Vec<&str> = line.split(' ').collect();
    match words.as_slice() {
        ["status", node, vmid] => {
            let reply = status(&st, node, vmid);
            let _ = w.write_all(reply.as_bytes()).await;
        }
        ["list", node] => {
            let reply = list(&st, node);
            let _ = w.write_all(reply.as_bytes()).await;
        }
        ["journal", kind, name, argc] => {
            let argc: usize = argc.parse().unwrap_or(0).min(256);
            let mut args = Vec::with_capacity(argc);
            for _ in 0..argc {
                match read_line(&mut r).await {
                    Some(a) => args.push(a),
                    None => return,
                }
            }
            let Some(src) = source(&st, kind, name) else {
                let _ = w
                    .write_all(b"err Failed to open journal: No such file or directory\n")
                    .await;
                return;
            };
            match journal::parse_args(&args) {
                Err(e) => {
                    let _ = w.write_all(format!("err {e}\n").as_bytes()).await;
                }
                Ok(q) => {
                    if w.write_all(b"ok\n").await.is_ok() {
                        stream(&st, src, q, r, w).await;
                    }
                }
            }
        }
        ["syslog", kind, name] => {
            if let Some(src) = source(&st, kind, name) {
                let q = Query {
                    follow: true,
                    lines: journal::Lines::Last(0),
                    format: journal::Format::Syslog,
                    ..Query::default()
                };
                stream(&st, src, q, r, w).await;
            }
        }
        _ => {}
    }
}

/// The journal of `node <name>` or `ct <vmid>`.
fn source(st: &AppState, kind: &str, name: &str) -> Option<Source> {
    let begin = st.terminals.journal_begin_ms;
    let model = st.model();
    match kind {
        "node" => {
            let &i = model.node_index.get(name)?;
            Some(Source::node(name, model.nodes[i].seed, begin))
        }
        "ct" => {
            let g = model.guests.get(&name.parse().ok()?)?;
            let ct = CtInfo {
                vmid: g.vmid,
                hostname: g.name(),
                ostype: g.config.get("ostype").cloned().unwrap_or_default(),
                seed: g.seed,
            };
            Some(Source::container(&ct, ct.seed, begin))
        }
        _ => None,
    }
}

fn status(st: &AppState, node: &str, vmid: &str) -> String {
    st.settle();
    let model = st.model();
    let g = vmid
        .parse::<u32>()
        .ok()
        .and_then(|id| model.guests.get(&id))
        .filter(|g| g.kind == Kind::Lxc && g.node == node);
    match g {
        None => "missing\n".to_string(),
        Some(g) => {
            let ct = CtInfo {
                vmid: g.vmid,
                hostname: g.name(),
                ostype: g.config.get("ostype").cloned().unwrap_or_default(),
                seed: g.seed,
            };
            format!(
                "{} {} {}\n",
                if g.running { "running" } else { "stopped" },
                u8::from(ct.systemd()),
                ct.hostname
            )
        }
    }
}

fn list(st: &AppState, node: &str) -> String {
    st.settle();
    let model = st.model();
    let mut out = format!(
        "{:<10} {:<10} {:<12} {:<20}\n",
        "VMID", "Status", "Lock", "Name"
    );
    for g in model.guests_of(node).filter(|g| g.kind == Kind::Lxc) {
        out.push_str(&format!(
            "{:<10} {:<10} {:<12} {:<20}\n",
            g.vmid,
            if g.running { "running" } else { "stopped" },
            g.lock.clone().unwrap_or_default(),
            g.name()
        ));
    }
    out
}

/// Writes the history, then (with `-f`) new entries every period, or flood lines as fast as
/// the reader takes them, until the reader closes or the simulator stops.
async fn stream(
    st: &AppState,
    src: Source,
    q: Query,
    mut r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    mut w: tokio::net::tcp::OwnedWriteHalf,
) {
    let (text, mut last_k) = src.history(&q, st.clock.now_ms());
    if w.write_all(text.as_bytes()).await.is_err() || !q.follow {
        return;
    }
    let mut shutdown = st.terminals.shutdown_signal();
    let flood = q.units.iter().any(|u| u == journal::FLOOD_UNIT);
    let mut next_flood: i64 = match q.lines {
        journal::Lines::Last(n) | journal::Lines::First(n) => n as i64,
        journal::Lines::All => 10,
    };
    let mut probe = [0u8; 1];
    loop {
        if flood {
            let text = src.flood(&q, next_flood, 512, st.clock.now_ms());
            next_flood += 512;
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = r.read(&mut probe) => return,
                res = w.write_all(text.as_bytes()) => if res.is_err() { return },
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            // The tools never write after their request: readable means closed.
            _ = r.read(&mut probe) => return,
            _ = tokio::time::sleep(Duration::from_millis(journal::PERIOD_MS as u64)) => {}
        }
        let (text, k) = src.since(&q, last_k, st.clock.now_ms());
        last_k = k;
        if !text.is_empty() && w.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}
