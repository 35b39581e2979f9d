//! `--demo`: the embedded simulator, no config; and broken pipes.

use std::process::Stdio;

use crate::util::{pvekit, run};

#[test]
fn demo_ls_lists_guests() {
    let out = run(&mut pvekit(&["--demo", "ls"]));
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("VMID"), "{text}");
    assert_eq!(lines.len(), 15, "header + 14 guests:\n{text}");
    let ids: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(text.contains("lxc") && text.contains("qemu"), "{text}");
    assert!(out.stderr.is_empty(), "quiet by default: {}", out.stderr);
}

#[test]
fn demo_nodes_json_and_global_flag_after_subcommand() {
    let v = run(&mut pvekit(&["nodes", "--demo", "-o", "json"])).json();
    let nodes = v.as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| n["online"].is_boolean()));
}

#[test]
fn demo_is_deterministic() {
    let a = run(&mut pvekit(&["--demo", "nodes", "-o", "json"])).json();
    let b = run(&mut pvekit(&["--demo", "nodes", "-o", "json"])).json();
    assert_eq!(a, b);
}

#[test]
fn demo_ignores_a_broken_config_but_refuses_connection_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pvekit")).unwrap();
    std::fs::write(dir.path().join("pvekit/config.yml"), "clusters: [").unwrap();
    run(pvekit(&["--demo", "nodes"]).env("XDG_CONFIG_HOME", dir.path())).ok();
    let out = run(&mut pvekit(&["--demo", "ls", "--url", "https://x:8006"]));
    assert!(out.fails(2).contains("--demo"));
}

#[test]
fn broken_pipe_is_success() {
    // The reading end is closed before pvekit writes anything, like `pvekit ls | head -0`.
    let mut child = pvekit(&["--demo", "ls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // And through real shell pipelines, for both formats and both listings.
    for cmd in ["ls", "ls -o json", "nodes", "nodes -o json"] {
        let out = run(std::process::Command::new("bash").arg("-c").arg(format!(
            "set -o pipefail; '{}' --demo {cmd} | head -1",
            crate::util::BIN
        )));
        assert!(!out.ok().is_empty(), "{cmd}");
        assert!(out.stderr.is_empty(), "{cmd}: {}", out.stderr);
    }
    // The closed-before-writing case for JSON too.
    let mut child = pvekit(&["--demo", "ls", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{:?} {stderr}",
        out.status
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&mut pvekit(&["ls", "--bogus"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&mut pvekit(&["--output", "yaml", "ls"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&mut pvekit(&["--help"]));
    assert!(out.ok().contains("Precedence"));
}
