//! `pvekit watch` and the live `pvekit stats` against a three-address cluster whose node
//! listeners stop and start (the simulator runs in this process, so the test holds its
//! control handle).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use pvekit_sim::{Scenario, ScenarioGuest, ScenarioNode, SimOptions, Simulator};

use crate::login::Session;
use crate::util::{Bg, pvekit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_and_stats_ride_out_a_node_and_show_a_stale_cluster() {
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        scenario_inline: Some(Scenario {
            cluster: Some("lab".into()),
            nodes: vec![
                ScenarioNode::new("pve1"),
                ScenarioNode::new("pve2"),
                ScenarioNode::new("pve3"),
            ],
            guests: vec![
                ScenarioGuest::lxc(101, "pve1").with_name("web").running(),
                ScenarioGuest::lxc(102, "pve2").with_name("db"),
            ],
            users: Vec::new(),
        }),
        task_duration: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let info = sim.info();
    let n = &info.nodes;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "clusters:\n  - url: {}\n    fingerprint: '{}'\n    token_id: '{}'\n    secret: {}\n    endpoints:\n      - {{url: {}, fingerprint: '{}'}}\n      - {{url: {}, fingerprint: '{}'}}\n",
            n[0].url, n[0].fingerprint, info.token_id, info.secret, n[1].url, n[1].fingerprint, n[2].url, n[2].fingerprint
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = config.to_str().unwrap().to_string();
    let mut watch = Bg::spawn(&mut pvekit(&[
        "--config",
        &config,
        "watch",
        "--interval",
        "0.5",
    ]));
    watch.wait_line(Duration::from_secs(30), |l| l.starts_with("added lxc/102"));
    let mut stats = Session::spawn(
        &["--config", &config, "stats", "--interval", "0.5"],
        &[("TERM", "xterm")],
    );
    stats.expect("web");

    // A library client on the same three addresses makes the changes.
    let admin = pvekit::Client::connect(&pvekit::Config {
        url: n[1].url.clone(),
        fingerprint: Some(n[1].fingerprint.clone()),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        ..Default::default()
    })
    .await
    .unwrap();

    // One node's pveproxy stops: the watcher goes on through the next address.
    sim.control().stop_listener("pve1").await.unwrap();
    admin.node("pve2").lxc(102).start().await.unwrap();
    watch.wait_line(Duration::from_secs(30), |l| {
        l.contains("lxc/102") && l.contains("stopped -> running")
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    stats.drain();
    assert!(!stats.seen.contains("refresh failed"), "{}", stats.seen);
    assert!(
        !watch.seen.iter().any(|l| l.starts_with("refresh-failed")),
        "{:?}",
        watch.seen
    );

    // All stop: a stale banner and a clear error.
    sim.control().stop_listener("pve2").await.unwrap();
    sim.control().stop_listener("pve3").await.unwrap();
    stats.expect("refresh failed (showing the figures of");
    let failed = watch.wait_line(Duration::from_secs(30), |l| l.starts_with("refresh-failed"));
    // Refused, or (a connection that was open when the node went away) no answer in time.
    assert!(
        failed.contains("cannot connect") || failed.contains("timed out"),
        "{failed}"
    );

    // One comes back (pve2, whose guest changes; a call proxied to a node whose pveproxy is
    // down fails with 595 as on a real cluster): the next poll recovers.
    sim.control().start_listener("pve2").unwrap();
    admin.node("pve2").lxc(102).stop().await.unwrap();
    watch.wait_line(Duration::from_secs(30), |l| {
        l.contains("lxc/102") && l.contains("running -> stopped")
    });
    drop(stats);
    drop(watch);
    drop(admin);
    sim.shutdown().await;
}
