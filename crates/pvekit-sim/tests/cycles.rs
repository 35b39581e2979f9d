//! Terminal sessions leak nothing: after many open/close cycles (some with container sandboxes
//! started through `pct exec`/`pct enter`) no sandbox process, PTY or file descriptor is left,
//! every task has ended and every port is free. A binary of its
//! own, so no other test's sessions disturb the counts.

#[path = "integration/termutil.rs"]
#[allow(dead_code)]
mod termutil;
#[path = "integration/util.rs"]
#[allow(dead_code)]
mod util;

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use termutil::{Who, session, term_opts};
use tokio_tungstenite::tungstenite::Message;

/// Open file descriptors of this process, and how many are PTY masters.
fn fds() -> (usize, usize) {
    let mut all = 0;
    let mut ptmx = 0;
    for e in std::fs::read_dir("/proc/self/fd")
        .expect("fd dir")
        .flatten()
    {
        all += 1;
        if std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("ptmx")) {
            ptmx += 1;
        }
    }
    (all, ptmx)
}

/// Processes whose command line names `needle` (the sandboxes name the state directory).
fn processes(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .count()
}

/// The processes `processes(needle)` counts: pid, state and command line.
fn describe(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| {
            let c = std::fs::read(e.path().join("cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            c.contains(needle).then(|| {
                format!(
                    "{} {}",
                    stat.split(' ').take(5).collect::<Vec<_>>().join(" "),
                    c
                )
            })
        })
        .collect()
}

/// Direct children of this process.
fn children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(1))
                .is_some_and(|ppid| ppid == me)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_leaks_after_many_sessions() {
    let s = util::start(term_opts()).await;
    let login = s.login().await;
    let root = Who::Root(&login);
    let state = s.sim.state_dir().to_string_lossy().to_string();
    // Warm up (the node root is created once).
    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    t.until("# ").await;
    drop(t);
    let settle = |want: usize| {
        let sim = &s.sim;
        let state = state.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while (sim.terminal_sessions() > 0 || processes(&state) > want)
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    settle(0).await;
    let before = fds();
    let children_before = children();
    let mut upids = Vec::new();
    for i in 0..200 {
        let who = if i % 3 == 0 {
            Who::Token
        } else {
            Who::Root(&login)
        };
        let path = if i % 5 == 0 {
            "/nodes/pve1/lxc/100"
        } else {
            "/nodes/pve1"
        };
        let (mut t, d) = session(&s, &who, path).await;
        upids.push(d["upid"].as_str().unwrap().to_string());
        if i % 2 == 0 {
            t.ws.send(Message::Close(None)).await.unwrap();
        }
        drop(t);
    }
    // Container sandboxes the agent starts next to a node's (pct exec, pct enter) go with the
    // node session that asked for them.
    for i in 0..12 {
        let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
        t.until("root@pve1:~# ").await;
        if i % 2 == 0 {
            t.input("pct exec 100 -- sleep 1000\r").await;
        } else {
            t.input("pct enter 100\r").await;
            t.until("root@web:~# ").await;
        }
        // The node's bwrap and its init, then the container's.
        let deadline = Instant::now() + Duration::from_secs(10);
        while processes(&state) < 4 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            processes(&state) >= 4,
            "the container sandbox did not start"
        );
        if i % 3 == 0 {
            t.ws.send(Message::Close(None)).await.unwrap();
        }
        drop(t);
    }
    settle(0).await;
    assert_eq!(s.sim.terminal_sessions(), 0);
    if processes(&state) > 0 {
        let left = describe(&state);
        eprintln!("left: {left:#?}");
        let ps = std::process::Command::new("ps")
            .args(["-eo", "pid,ppid,stat,args"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&ps.stdout).to_string();
        let mine: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("bwrap") || l.contains("bash") || l.contains("login"))
            .collect();
        panic!(
            "sandbox processes left (me {}):\n{}",
            std::process::id(),
            mine.join("\n")
        );
    }
    assert_eq!(children(), children_before, "child processes left");
    let after = fds();
    assert_eq!(after.1, before.1, "PTY masters left");
    assert!(after.0 <= before.0 + 4, "fds: {before:?} -> {after:?}");
    for u in upids.iter().step_by(17) {
        let t = s.task(u).await;
        assert_eq!(t["status"], "stopped", "{t}");
    }
    // Every port is free again: 100 sessions can be opened at once.
    for _ in 0..100 {
        let r = s.post("/nodes/pve1/termproxy", &[]).await;
        assert_eq!(r.status, 200);
    }
    let r = s.post("/nodes/pve1/termproxy", &[]).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.message(), "unable to find free port (5900-5999)\n");
    let dir = s.sim.state_dir().to_path_buf();
    drop(s);
    assert!(!dir.exists(), "the state directory is removed on drop");
}
