//! The command transport against the simulator's real terminal: scripts of any size reach
//! the shell exactly, the exit status is never invented, a dead peer is noticed, and nothing
//! lands in root's shell history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pvekit::{Client, ClientOptions, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::guests::lab;
use crate::util::{assert_clean, password_config};

fn node(c: &Client, name: &str) -> pvekit::Node {
    c.nodes().into_iter().find(|n| n.name() == name).unwrap()
}

/// A script of exactly `size` bytes that prints how many bytes of padding reached the shell
/// and exits 3 (the empty script for 0).
fn sized_script(size: usize) -> (String, Vec<u8>) {
    let head = "printf '%s' '";
    let tail = "' | wc -c; exit 3\n";
    if size == 0 {
        return (String::new(), Vec::new());
    }
    let pad = size - head.len() - tail.len();
    let script = format!("{head}{}{tail}", "x".repeat(pad));
    assert_eq!(script.len(), size);
    (script, format!("{pad}\n").into_bytes())
}

#[tokio::test]
async fn scripts_of_any_size_run_exactly() {
    let sim = lab().await;
    let c = Client::connect(&password_config(&sim)).await.unwrap();
    let n = node(&c, "pve1");
    for size in [0, 4094, 4095, 4096, 65_536, 1 << 20] {
        let (script, want) = sized_script(size);
        let started = Instant::now();
        let (out, status) = n.command(&script).await.unwrap().output().await.unwrap();
        let want_status = if size == 0 { 0 } else { 3 };
        assert_eq!(
            (String::from_utf8_lossy(&out).into_owned(), status),
            (String::from_utf8_lossy(&want).into_owned(), want_status),
            "a script of {size} bytes"
        );
        eprintln!("{size} bytes: {:?}", started.elapsed());
    }
    // The measured failure of the one-line transport: `sh -c 'echo ran; exit 3'` with a
    // long argument lost its status (exit 0) or hung.
    for n_x in [2_800, 2_917, 2_926, 2_932, 3_100, 100_000] {
        let script = format!("sh -c 'echo ran; exit 3' {}", "x".repeat(n_x));
        let (out, status) = n.command(&script).await.unwrap().output().await.unwrap();
        assert_eq!((out, status), (b"ran\n".to_vec(), 3), "{n_x} x");
    }
    // In a container, through pct exec.
    let (script, want) = sized_script(65_536);
    let (out, status) = n
        .lxc(100)
        .command(&script)
        .await
        .unwrap()
        .output()
        .await
        .unwrap();
    assert_eq!((out, status), (want, 3));
    assert_clean(&sim);
}

#[tokio::test]
async fn the_typed_line_stays_out_of_root_history() {
    let sim = lab().await;
    let c = Client::connect(&password_config(&sim)).await.unwrap();
    let n = node(&c, "pve1");
    let (_, status) = n
        .command("echo marker-for-history")
        .await
        .unwrap()
        .output()
        .await
        .unwrap();
    assert_eq!(status, 0);
    // The next session can read what the last one left in root's history file.
    let (history, _) = n
        .command("cat /root/.bash_history 2>/dev/null; true")
        .await
        .unwrap()
        .output()
        .await
        .unwrap();
    let history = String::from_utf8_lossy(&history);
    for word in ["PVEKIT", "base64", "stty", "marker-for-history"] {
        assert!(
            !history.contains(word),
            "{word} in root's history: {history}"
        );
    }
}

/// A TCP relay between the client and the simulator that can be frozen: it then keeps both
/// connections open and forwards nothing, like a peer that died without closing.
struct FreezableRelay {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl FreezableRelay {
    async fn start(target: u16) -> FreezableRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let f = frozen.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let outbound = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                tokio::spawn(pipe(ri, wo, f.clone()));
                tokio::spawn(pipe(ro, wi, f.clone()));
            }
        });
        FreezableRelay { port, frozen }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while frozen.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        // Bytes read just before the freeze are held, not delivered.
        while frozen.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_dead_peer_is_noticed_and_a_quiet_command_is_not() {
    let sim = lab().await;
    let port = url::Url::parse(&sim.info().url).unwrap().port().unwrap();
    let relay = FreezableRelay::start(port).await;
    let mut config = password_config(&sim);
    config.url = format!("https://127.0.0.1:{}", relay.port);
    let options = ClientOptions {
        terminal_keepalive: Duration::from_millis(200),
        ..Default::default()
    };
    let c = Client::connect_with(&config, options).await.unwrap();
    let n = node(&c, "pve1");

    // Quiet for 2 s, ten keepalive periods: the pongs keep the session alive.
    let (out, status) = n
        .command("sleep 2; echo done")
        .await
        .unwrap()
        .output()
        .await
        .unwrap();
    assert_eq!((out, status), (b"done\n".to_vec(), 0));

    // A peer that stops answering mid-command fails the stream within two keepalive
    // periods plus the request timeout (3 s by default), not never.
    let mut cmd = n.command("echo started; sleep 300").await.unwrap();
    assert_eq!(&cmd.next().await.unwrap().unwrap()[..], b"started\n");
    relay.frozen.store(true, Ordering::Relaxed);
    let frozen_at = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match cmd.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream noticed the dead peer");
    assert!(
        matches!(end, Some(Err(Error::Timeout { .. }))),
        "got {end:?}"
    );
    let after = frozen_at.elapsed();
    assert!(after < Duration::from_secs(8), "noticed after {after:?}");
    relay.frozen.store(false, Ordering::Relaxed);
}
