//! Terminal proxy: commands, journals and tails over the simulator's real PTY and shell.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pvekit::{Client, Error, JournalOptions, TailOptions};

use crate::guests::lab;
use crate::util::{self, assert_clean, password_config, token_config};

async fn root(sim: &pvekit_sim::RunningSim) -> Client {
    Client::connect(&password_config(sim)).await.unwrap()
}

fn node(c: &Client, name: &str) -> pvekit::Node {
    c.nodes().into_iter().find(|n| n.name() == name).unwrap()
}

/// The whole output and exit status of a command that is being started.
async fn output(
    started: impl std::future::Future<Output = pvekit::Result<pvekit::CommandStream>>,
) -> (Vec<u8>, i32) {
    started.await.unwrap().output().await.unwrap()
}

async fn run(node: &pvekit::Node, script: &str) -> (Vec<u8>, i32) {
    output(node.command(script)).await
}

#[tokio::test]
async fn command_output_is_exact() {
    let sim = lab().await;
    let c = root(&sim).await;
    let n = node(&c, "pve1");
    assert_eq!(run(&n, "true").await, (vec![], 0));
    assert_eq!(run(&n, "printf 'a\\nb'").await, (b"a\nb".to_vec(), 0));
    assert_eq!(
        run(&n, "printf '\\001\\002\\377\\r\\n'").await,
        (vec![1, 2, 0xff, b'\r', b'\n'], 0)
    );
    assert_eq!(
        run(&n, "printf '\\033[31mred\\033[0m'").await,
        (b"\x1b[31mred\x1b[0m".to_vec(), 0)
    );
    let (long, status) = run(&n, "head -c 200000 /dev/zero | tr '\\0' x; echo").await;
    assert_eq!(status, 0);
    assert_eq!(long.len(), 200_001);
    assert!(long[..200_000].iter().all(|b| *b == b'x'));
    assert_eq!(
        run(&n, "echo out; echo err >&2; exit 3").await,
        (b"out\nerr\n".to_vec(), 3)
    );
    assert_eq!(run(&n, "cat /etc/hostname").await, (b"pve1\n".to_vec(), 0));
    assert_clean(&sim);
}

#[tokio::test]
async fn output_streams_while_the_command_runs() {
    let sim = lab().await;
    let c = root(&sim).await;
    let mut cmd = node(&c, "pve1")
        .command("for i in 1 2 3; do echo $i; sleep 0.5; done")
        .await
        .unwrap();
    let started = Instant::now();
    let first = cmd.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"1\n");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the first line came while the command still ran (it takes 1.5 s)"
    );
    let mut rest = Vec::new();
    while let Some(chunk) = cmd.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"2\n3\n");
    assert_eq!(cmd.exit_status(), Some(0));
}

#[tokio::test]
async fn dropping_a_stream_ends_the_remote_command() {
    let sim = lab().await;
    let c = root(&sim).await;
    let n = node(&c, "pve1");
    let mut cmd = n.command("echo started; exec sleep 4242").await.unwrap();
    assert_eq!(&cmd.next().await.unwrap().unwrap()[..], b"started\n");
    drop(cmd);
    // The remote process goes away with the session.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (out, _) = run(&n, "ps -eo args | grep -c '^sleep 4242' || true").await;
        if String::from_utf8_lossy(&out).trim() == "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sleep 4242 still runs after the stream was dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn open_close_cycles_leak_nothing() {
    let sim = lab().await;
    let c = root(&sim).await;
    let n = node(&c, "pve1");
    // Warm up pools, then count.
    run(&n, "true").await;
    let fds = open_fds();
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    for i in 0..1000 {
        let mut cmd = n.command("echo hi; exec sleep 60").await.unwrap();
        if i % 2 == 0 {
            let _ = cmd.next().await;
        }
        drop(cmd);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        open_fds() <= fds + 4,
        "file descriptors leaked: {fds} -> {}",
        open_fds()
    );
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert!(alive <= tasks + 4, "tasks leaked: {tasks} -> {alive}");
    let (out, _) = run(&n, "ps -eo args | grep -c '^sleep 60' || true").await;
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        "0",
        "remote processes leaked"
    );
}

#[tokio::test]
async fn containers_run_commands_with_their_own_files() {
    let sim = lab().await;
    let c = root(&sim).await;
    let web = node(&c, "pve1").lxc(100);
    let (out, status) = output(web.command("cat /etc/hostname; exit 7")).await;
    assert_eq!((String::from_utf8_lossy(&out).trim(), status), ("web", 7));
    // A stopped container is a clear error, not output.
    let err = node(&c, "pve1").lxc(101).command("true").await.unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");
}

#[tokio::test]
async fn journals_and_tails_follow() {
    let sim = lab().await;
    let c = root(&sim).await;
    let n = node(&c, "pve1");
    let (out, status) = output(n.journal(&JournalOptions::last(5))).await;
    assert_eq!(status, 0);
    assert_eq!(String::from_utf8_lossy(&out).lines().count(), 5);
    let mut follow = n
        .journal(&JournalOptions::last(1).unit("pveproxy").follow())
        .await
        .unwrap();
    let mut lines = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while lines < 3 {
            let chunk = follow.next().await.unwrap().unwrap();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
    })
    .await
    .expect("new journal lines keep arriving while following");
    drop(follow);
    let (out, _) = output(n.tail(&TailOptions::files(["/etc/hostname"]).last(1))).await;
    assert_eq!(out, b"pve1\n");
}

#[tokio::test]
async fn unsafe_values_are_refused_before_anything_is_sent() {
    let sim = lab().await;
    let c = root(&sim).await;
    let n = node(&c, "pve1");
    let before = sim.requests().len();
    for bad in ["x;reboot", "$(id)", "a|b", "`id`", "--since=1"] {
        let err = n
            .journal(&JournalOptions::last(10).unit(bad))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Command(_)), "{bad}: {err:?}");
        let err = n
            .tail(&TailOptions::files([bad]).last(10))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Command(_)), "{bad}: {err:?}");
    }
    assert_eq!(sim.requests().len(), before);
}

#[tokio::test]
async fn token_only_configs_get_no_session() {
    let sim = lab().await;
    let c = Client::connect(&token_config(&sim)).await.unwrap();
    let err = node(&c, "pve1").command("true").await.unwrap_err();
    assert!(matches!(err, Error::NoSession), "{err:?}");
    assert!(
        err.to_string()
            .contains("make sure username and password are set"),
        "{err}"
    );
}

#[tokio::test]
async fn containers_without_systemd_fall_back_to_var_log_messages() {
    let sim = lab().await;
    let c = root(&sim).await;
    let pve1 = node(&c, "pve1");
    // A systemd container answers from its journal...
    let (journal, status) = output(pve1.lxc(100).journal(&JournalOptions::last(3))).await;
    assert_eq!(status, 0);
    assert_eq!(String::from_utf8_lossy(&journal).lines().count(), 3);
    // ...one without systemd from /var/log/messages, which the same call follows.
    let (fallback, status) = output(pve1.lxc(107).journal(&JournalOptions::last(2))).await;
    assert_eq!(status, 0);
    assert_eq!(String::from_utf8_lossy(&fallback).lines().count(), 2);
    // The file only grows, so what the fallback showed is in it afterwards.
    let (messages, _) = output(pve1.lxc(107).command("cat /var/log/messages")).await;
    let (messages, fallback) = (
        String::from_utf8_lossy(&messages),
        String::from_utf8_lossy(&fallback),
    );
    assert!(
        messages.contains(fallback.as_ref()),
        "the fallback shows /var/log/messages"
    );
    let mut follow = pve1
        .lxc(107)
        .journal(&JournalOptions::last(1).follow())
        .await
        .unwrap();
    let mut lines = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while lines < 3 {
            lines += follow
                .next()
                .await
                .unwrap()
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count();
        }
    })
    .await
    .expect("the followed file keeps growing");
}

#[tokio::test]
async fn a_container_console_opens() {
    let sim = lab().await;
    let c = root(&sim).await;
    let mut term = pvekit::Terminal::open_lxc_console(&node(&c, "pve1"), 100, 80, 24)
        .await
        .unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&seen).contains("login:") {
            seen.extend_from_slice(&term.next().await.unwrap().unwrap());
        }
    })
    .await
    .expect("the container's getty prompt appears");
    term.close().await;
}

#[tokio::test]
async fn token_only_configs_read_node_journals_over_rest() {
    let sim = lab().await;
    let c = Client::connect(&token_config(&sim)).await.unwrap();
    let n = node(&c, "pve1");
    let page = n.journal_page(5, None).await.unwrap();
    assert_eq!(page.lines.len(), 5);
    assert!(page.last_cursor.is_some());
    // Following: the last 2 entries, then new ones as they are written.
    let lines: Vec<String> = tokio::time::timeout(
        Duration::from_secs(10),
        n.journal_follow_rest(2, Duration::from_millis(100))
            .take(5)
            .map(|l| l.unwrap())
            .collect(),
    )
    .await
    .expect("new entries arrive");
    assert_eq!(lines.len(), 5);
    assert!(sim.rejections().is_empty(), "{:#?}", sim.rejections());
}

#[tokio::test]
async fn idle_sessions_send_keepalives_that_change_nothing() {
    let sim = lab().await;
    let options = pvekit::ClientOptions {
        terminal_keepalive: Duration::from_millis(100),
        ..Default::default()
    };
    let c = Client::connect_with(&password_config(&sim), options)
        .await
        .unwrap();
    let n = node(&c, "pve1");
    assert_eq!(sim.terminal_keepalives(), 0);
    // A quiet command over a session that keeps sending `2`: the output stays exact.
    assert_eq!(
        output(n.command("sleep 1; printf done")).await,
        (b"done".to_vec(), 0)
    );
    let during_command = sim.terminal_keepalives();
    assert!(
        during_command >= 3,
        "about 10 keepalives in 1 s at 100 ms, got {during_command}"
    );
    // An idle interactive terminal keeps sending them too; termproxy consumes the latest one
    // when the next bytes arrive.
    let term = pvekit::Terminal::open(&n, 80, 24).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    term.send(b"\x15").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.terminal_keepalives() < during_command + 3 {
        assert!(
            Instant::now() < deadline,
            "an idle terminal sent {} keepalives in 600 ms",
            sim.terminal_keepalives() - during_command
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    term.close().await;
    assert_clean(&sim);
}

#[tokio::test]
async fn a_stalled_terminal_proxy_times_out() {
    let sim = util::sim_with(pvekit_sim::SimOptions {
        terminal_ok_delay: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    let config = pvekit::Config {
        timeouts: pvekit::Timeouts {
            request: Duration::from_millis(700),
            ..Default::default()
        },
        ..password_config(&sim)
    };
    let c = Client::connect(&config).await.unwrap();
    let n = node(&c, "pve1");
    let started = Instant::now();
    match n.command("true").await {
        Err(Error::Timeout { what, after }) => {
            assert!(what.contains("terminal proxy of node pve1"), "{what}");
            assert_eq!(after, Duration::from_millis(700));
        }
        other => panic!("expected a timeout, got {:?}", other.map(|_| ())),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn journal_lines_pick_the_way_this_login_can_read() {
    let sim = lab().await;
    // A token: the REST journal (all units), no terminal.
    let token = Client::connect(&token_config(&sim)).await.unwrap();
    let lines: Vec<String> = node(&token, "pve1")
        .journal_lines(&JournalOptions::last(4))
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    // Units need journalctl, so the terminal and its root@pam login.
    let err = node(&token, "pve1")
        .journal_lines(&JournalOptions::last(4).unit("pveproxy"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::NoSession), "{err:?}");
    // root@pam: journalctl over the terminal, filtered by unit.
    let root = root(&sim).await;
    let lines: Vec<String> = node(&root, "pve1")
        .journal_lines(&JournalOptions::last(3).unit("pveproxy"))
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("pveproxy")), "{lines:?}");
    assert_clean(&sim);
}

#[tokio::test]
async fn enter_opens_a_shell_in_the_container_with_the_node_hidden() {
    let sim = lab().await;
    let c = root(&sim).await;
    let mut term = node(&c, "pve1").lxc(100).enter(80, 24).await.unwrap();
    term.send(b"cat /etc/hostname; exit\n").await.unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = term.next().await {
            seen.extend_from_slice(&chunk.unwrap());
        }
    })
    .await
    .expect("the session ends when the container's shell exits");
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.lines().any(|l| l.split('\r').any(|p| p == "web")),
        "{text:?}"
    );
    for hidden in ["exec pct enter", "PVEKIT", "HISTFILE", "root@pve1"] {
        assert!(!text.contains(hidden), "{hidden} shows: {text:?}");
    }
    // Not a container, or not root@pam: refused before anything is opened.
    assert!(matches!(
        node(&c, "pve2").qemu(200).enter(80, 24).await,
        Err(Error::Unsupported { .. })
    ));
    let token = Client::connect(&token_config(&sim)).await.unwrap();
    assert!(matches!(
        node(&token, "pve1").lxc(100).enter(80, 24).await,
        Err(Error::NoSession)
    ));
}
