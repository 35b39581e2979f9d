//! `pvekit login` in a real pseudo-terminal, and `pvekit doctor`, against the simulator.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::guests::LAB;
use crate::util::{Out, Sim, pvekit, run};

/// Runs a command with `input` and a newline on its standard input.
fn run_with_input(cmd: &mut std::process::Command, input: &str) -> Out {
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pvekit");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{input}\n").as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Out {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A program running in a pseudo-terminal, read expect-style.
pub struct Session {
    child: std::process::Child,
    pty: pty_process::blocking::Pty,
    output: mpsc::Receiver<Vec<u8>>,
    pub seen: String,
}

impl Session {
    pub fn spawn(argv: &[&str], env: &[(&str, &str)]) -> Session {
        let (pty, pts) = pty_process::blocking::open().expect("a pty");
        pty.resize(pty_process::Size::new(24, 100)).unwrap();
        let mut cmd = pty_process::blocking::Command::new(env!("CARGO_BIN_EXE_pvekit"))
            .args(argv)
            .env_clear();
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let child = cmd.spawn(pts).expect("spawn pvekit in a pty");
        let mut reader: std::fs::File = std::os::fd::AsFd::as_fd(&pty)
            .try_clone_to_owned()
            .expect("a second handle on the pty")
            .into();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            pty,
            output,
            seen: String::new(),
        }
    }

    /// Takes in what the terminal showed so far, without waiting.
    pub fn drain(&mut self) {
        while let Ok(chunk) = self.output.try_recv() {
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Waits until the output shows `text` (within 30 s).
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("no {text:?} on the terminal; it shows:\n{}", self.seen),
            }
        }
    }

    /// Waits until the terminal no longer echoes (a password prompt took it over).
    pub fn until_echo_off(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let modes = rustix::termios::tcgetattr(&self.pty).unwrap().local_modes;
            if !modes.contains(rustix::termios::LocalModes::ECHO) {
                return;
            }
            assert!(Instant::now() < deadline, "echo stayed on:\n{}", self.seen);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn send(&mut self, line: &str) {
        self.pty.write_all(line.as_bytes()).unwrap();
        self.pty.write_all(b"\r").unwrap();
    }

    /// Waits for the exit; the status and all it printed.
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            while let Ok(chunk) = self.output.try_recv() {
                self.seen.push_str(&String::from_utf8_lossy(&chunk));
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                while let Ok(chunk) = self.output.try_recv() {
                    self.seen.push_str(&String::from_utf8_lossy(&chunk));
                }
                return (status, self.seen);
            }
            assert!(
                Instant::now() < deadline,
                "pvekit did not exit:\n{}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn login_pins_the_certificate_creates_a_token_and_writes_a_0600_config() {
    let sim = Sim::scenario(LAB);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pvekit/config.yml");
    let config_s = config.to_str().unwrap();
    let xdg = dir.path().to_str().unwrap();
    // The simulator's own token is root@pam!pvekit, the default name: use another.
    let mut s = Session::spawn(
        &["login", &sim.info.url, "--token-name", "proxy"],
        &[("XDG_CONFIG_HOME", xdg)],
    );
    s.expect("Trust this certificate");
    assert!(s.seen.contains(&sim.info.fingerprint), "{}", s.seen);
    s.send("yes");
    s.expect("Username [root@pam]: ");
    s.send("");
    s.expect("Password for root@pam: ");
    s.until_echo_off();
    s.send(&sim.info.password);
    let (status, shown) = s.finish();
    assert!(status.success(), "{shown}");
    assert!(shown.contains("Created token root@pam!proxy"), "{shown}");
    assert!(shown.contains("root@pam password login"), "{shown}");
    assert!(
        !shown.contains(&sim.info.password),
        "the password is never echoed"
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&sim.info.fingerprint) && text.contains("root@pam!proxy"),
        "{text}"
    );
    assert!(
        !text.contains(&sim.info.password),
        "the password is never stored"
    );

    // The written config works, and the viewer token may not power guests.
    let ls = run(&mut pvekit(&["--config", config_s, "ls", "-o", "json"])).json();
    assert!(ls.as_array().unwrap().len() >= 5, "{ls}");
    let mut sim = sim;
    sim.expect_rejections();
    let line = run(&mut pvekit(&["--config", config_s, "start", "db"]))
        .fails(1)
        .to_string();
    assert!(line.contains("VM.PowerMgmt"), "{line}");

    // Again: the entry is kept; --rotate replaces the token, leaving one.
    let pw = sim.info.password.clone();
    let again = run_with_input(
        &mut pvekit(&[
            "--config",
            config_s,
            "login",
            &sim.info.url,
            "--token-name",
            "proxy",
            "--yes",
            "--password-stdin",
        ]),
        &pw,
    );
    assert!(again.stderr.contains("nothing changed"), "{}", again.stderr);
    let rotated = run_with_input(
        &mut pvekit(&[
            "--config",
            config_s,
            "login",
            &sim.info.url,
            "--token-name",
            "proxy",
            "--yes",
            "--password-stdin",
            "--rotate",
        ]),
        &pw,
    );
    assert!(
        rotated.stderr.contains("Replaced token root@pam!proxy"),
        "{}",
        rotated.stderr
    );
    let text2 = std::fs::read_to_string(&config).unwrap();
    assert_ne!(text, text2, "a new secret");
    let ls = run(&mut pvekit(&["--config", config_s, "ls", "-o", "json"])).json();
    assert!(ls.as_array().unwrap().len() >= 5);

    // Doctor on the viewer token names exactly what it lacks.
    let doc = run(&mut pvekit(&["--config", config_s, "doctor", "-o", "json"])).json();
    let features = doc[0]["features"].as_array().unwrap();
    let missing: Vec<String> = features
        .iter()
        .flat_map(|f| f["missing"].as_array().cloned().unwrap_or_default())
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        missing,
        [
            "VM.PowerMgmt on /vms",
            "VM.Config.Options on /vms",
            "a root@pam password login (username and password)"
        ],
        "{doc}"
    );
    assert_eq!(doc[0]["tls"], "pinned");
}

#[test]
fn login_refuses_an_untrusted_certificate_and_a_wrong_pin() {
    let sim = Sim::scenario(LAB);
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().to_str().unwrap();
    let mut s = Session::spawn(&["login", &sim.info.url], &[("XDG_CONFIG_HOME", xdg)]);
    s.expect("Trust this certificate");
    s.send("no");
    let (status, shown) = s.finish();
    assert_eq!(status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("not trusted; nothing was changed"),
        "{shown}"
    );
    assert!(!dir.path().join("pvekit/config.yml").exists());
    let wrong = "AA:".repeat(31) + "AA";
    let config = dir.path().join("config.yml");
    let out = run(&mut pvekit(&[
        "--config",
        config.to_str().unwrap(),
        "login",
        &sim.info.url,
        "--fingerprint",
        &wrong,
        "--yes",
    ]));
    assert!(
        out.fails(1)
            .contains("not the one given with --fingerprint"),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_reports_every_cluster_and_fails_on_an_unreachable_one() {
    let sim = Sim::scenario(LAB);
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "clusters:\n  - url: {}\n    token_id: '{}'\n    secret: {}\n    username: {}\n    password: {}\n    fingerprint: '{}'\n  - url: https://127.0.0.1:{port}\n    token_id: 'root@pam!gone'\n    secret: y\n    no_tls_verify: true\n",
            sim.info.url,
            sim.info.token_id,
            sim.info.secret,
            sim.info.username,
            sim.info.password,
            sim.info.fingerprint
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = config.to_str().unwrap();
    let out = run(&mut pvekit(&["--config", config, "doctor", "-o", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    assert_eq!(v[0]["reachable"], true);
    assert!(
        v[0]["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["ok"] == true),
        "root@pam with a password has every feature: {v}"
    );
    assert_eq!(
        (v[1]["reachable"].as_bool(), v[1]["tls"].as_str()),
        (Some(false), Some("insecure"))
    );
    assert!(
        out.stderr.contains("1 of 2 clusters cannot be used"),
        "{}",
        out.stderr
    );
    // The table warns about the insecure cluster.
    let table = run(&mut pvekit(&["--config", config, "doctor"]));
    assert!(
        table
            .stdout
            .contains("insecure: the certificate is not verified"),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains(&sim.info.secret) && !table.stdout.contains(&sim.info.password));
}
