//! `pvekit sim`: the JSON line, credentials from flags, clean shutdown.

use crate::util::{Sim, SimInfo, args, pvekit, run};

#[test]
fn prints_one_json_line_and_stops_cleanly_on_sigterm() {
    let sim = Sim::start(&[]);
    let v: serde_json::Value = serde_json::from_str(&sim.line).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "url",
        "fingerprint",
        "username",
        "password",
        "token_id",
        "secret",
    ] {
        assert!(keys.contains(&k), "{k} missing: {}", sim.line);
    }
    assert!(
        sim.info.url.starts_with("https://127.0.0.1:"),
        "{}",
        sim.info.url
    );
    assert!(!sim.info.url.ends_with(":0"), "the real port, not 0");
    assert_eq!(
        sim.info.fingerprint.split(':').count(),
        32,
        "{}",
        sim.info.fingerprint
    );
    assert_eq!(sim.info.username, "root@pam");
    assert_eq!(sim.info.token_id, "root@pam!pvekit");
    let (status, rest) = sim.terminate();
    assert!(status.success(), "{status:?}");
    assert!(rest.is_empty(), "nothing else on stdout: {rest:?}");
}

#[test]
fn accepts_the_credentials_given_by_flags() {
    let sim = Sim::start(&[
        "--token-id",
        "ci@pve!ci",
        "--secret",
        "ci-secret-1",
        "--username",
        "admin",
        "--realm",
        "pve",
        "--password",
        "ci-password-1",
        "--nodes",
        "2",
    ]);
    assert_eq!(sim.info.token_id, "ci@pve!ci");
    assert_eq!(sim.info.secret, "ci-secret-1");
    assert_eq!(sim.info.username, "admin@pve");
    assert_eq!(sim.info.password, "ci-password-1");
    let base = sim.token_args();
    let v = run(&mut pvekit(&args(&base, &["nodes", "-o", "json"]))).json();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let i = &sim.info;
    let out = run(&mut pvekit(&[
        "nodes",
        "--url",
        &i.url,
        "--fingerprint",
        &i.fingerprint,
        "--username",
        "admin@pve",
        "--password",
        "ci-password-1",
    ]));
    out.ok();
}

#[test]
fn refuses_connection_only_flags() {
    let out = run(&mut pvekit(&["sim", "--url", "https://x:8006"]));
    assert!(out.fails(2).contains("--url"));
    let out = run(&mut pvekit(&["sim", "--listen", "not-an-address"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn busy_port_is_one_clear_error() {
    let sim = Sim::start(&[]);
    let addr = sim.info.url.trim_start_matches("https://");
    let out = run(&mut pvekit(&["sim", "--listen", addr]));
    let line = out.fails(1);
    assert!(line.contains(addr), "{line}");
}

/// Starts `pvekit sim --listen LISTEN`, returns its JSON line and, after SIGTERM, its stderr.
fn sim_on(listen: &str) -> (SimInfo, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = pvekit(&["sim", "--listen", listen, "--auth-delay-ms", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pvekit sim");
    let mut stderr = child.stderr.take().expect("stderr");
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let pid = child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let info: SimInfo = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    (info, err.join().expect("stderr reader"))
}

#[test]
fn prints_the_address_it_listens_on_and_warns_unless_loopback() {
    let (info, err) = sim_on("0.0.0.0:0");
    assert!(info.url.starts_with("https://0.0.0.0:"), "{}", info.url);
    assert!(!info.url.ends_with(":0"), "the real port: {}", info.url);
    let port = info.url.rsplit(':').next().unwrap();
    assert!(
        err.contains(&format!(
            "WARNING: listening on 0.0.0.0:{port}, every address"
        )),
        "{err}"
    );
    assert!(err.contains("root shell"), "{err}");
    let (info, err) = sim_on("127.0.0.1:0");
    assert!(info.url.starts_with("https://127.0.0.1:"), "{}", info.url);
    assert!(!err.contains("WARNING"), "{err}");
}

#[test]
fn faults_from_a_file_reach_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.yml");
    std::fs::write(
        &faults,
        "faults:\n  - {match: \"GET /cluster/resources\", fault: {status: {code: 503}}}\n",
    )
    .unwrap();
    let mut sim = crate::util::Sim::start(&["--faults", faults.to_str().unwrap()]);
    sim.expect_rejections();
    let out = crate::util::run(&mut crate::util::pvekit(&crate::util::args(
        &sim.token_args(),
        &["ls"],
    )));
    let line = out.fails(1);
    assert!(line.contains("503"), "{line}");
    // Other calls are untouched.
    let nodes = crate::util::run(&mut crate::util::pvekit(&crate::util::args(
        &sim.token_args(),
        &["nodes", "-o", "json"],
    )));
    assert!(!nodes.json().as_array().unwrap().is_empty());
}
