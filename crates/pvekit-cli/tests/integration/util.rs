//! Helpers: run `pvekit`, start a simulator subprocess, check one-line errors.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pvekit");

/// A `pvekit` command with an empty environment (no PVEKIT_*, no HOME, no XDG config dir).
pub fn pvekit(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().stdin(Stdio::null());
    cmd
}

/// The result of a finished `pvekit` run.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "pvekit failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts a failure with exit status `code` and exactly one `pvekit: ...` line on stderr;
    /// returns that line.
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.status.code(),
            Some(code),
            "status; stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got:\n{}", self.stderr);
        assert!(lines[0].starts_with("pvekit: "), "{}", lines[0]);
        lines[0]
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs a command to completion (with a generous timeout).
pub fn run(cmd: &mut Command) -> Out {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pvekit");
    run_child(child)
}

/// Waits for a spawned child (stdout and stderr piped) with a generous timeout.
pub fn run_child(child: Child) -> Out {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("pvekit did not finish within 60 s")
        .expect("wait for pvekit");
    Out {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What `pvekit sim` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct SimInfo {
    pub url: String,
    pub fingerprint: String,
    pub username: String,
    pub password: String,
    pub token_id: String,
    pub secret: String,
}

/// A `pvekit sim --strict` subprocess. Dropping it stops it with SIGTERM and fails the test
/// when the simulator rejected a request or saw one outside the official schema (its
/// findings are on stderr), unless the test expects rejections.
pub struct Sim {
    child: Child,
    /// Whether the test sends requests the simulator must refuse (bad credentials, missing
    /// privileges).
    rejections_expected: bool,
    pub info: SimInfo,
    /// The raw line printed.
    pub line: String,
    /// Anything else it printed on stdout, collected by a reader thread.
    rest: mpsc::Receiver<String>,
    /// The scenario file's directory, kept while the simulator runs.
    _dir: Option<tempfile::TempDir>,
}

impl Sim {
    /// Starts `pvekit sim --listen 127.0.0.1:0 --strict --auth-delay-ms 0 <extra>` and reads its
    /// JSON line.
    pub fn start(extra: &[&str]) -> Sim {
        // Rejected credentials are answered at once here (the real 3 s delay is the default).
        let mut args = vec![
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--strict",
            "--auth-delay-ms",
            "0",
        ];
        args.extend_from_slice(extra);
        let mut child = pvekit(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pvekit sim");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!("pvekit sim printed no line within 60 s: {e}");
            }
        };
        let info: SimInfo = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("sim line is not the info JSON ({e}): {line}"));
        Sim {
            child,
            rejections_expected: false,
            info,
            line,
            rest: rx,
            _dir: None,
        }
    }

    /// Marks the test as one that sends requests the simulator must refuse.
    pub fn expect_rejections(&mut self) {
        self.rejections_expected = true;
    }

    /// Starts a simulator serving the cluster of a YAML scenario.
    pub fn scenario(yaml: &str) -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("scenario.yml");
        std::fs::write(&path, yaml).expect("write scenario");
        let mut sim = Sim::start(&["--scenario", path.to_str().expect("utf-8 path")]);
        sim._dir = Some(dir);
        sim
    }

    /// Token plus root@pam password: API calls use the token, terminals the login.
    pub fn login_args(&self) -> Vec<String> {
        let mut v = self.token_args();
        v.extend([
            "--username".into(),
            self.info.username.clone(),
            "--password".into(),
            self.info.password.clone(),
        ]);
        v
    }

    /// Token-auth connection flags with the pinned fingerprint.
    pub fn token_args(&self) -> Vec<String> {
        vec![
            "--url".into(),
            self.info.url.clone(),
            "--token-id".into(),
            self.info.token_id.clone(),
            "--secret".into(),
            self.info.secret.clone(),
            "--fingerprint".into(),
            self.info.fingerprint.clone(),
        ]
    }

    /// Sends SIGTERM and waits (up to 20 s) for the exit; returns the status and any further
    /// stdout lines.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.stop().expect("sim did not stop on SIGTERM");
        let rest = self.rest.try_iter().collect();
        (status, rest)
    }

    /// SIGTERM, then the exit status (`None` if it did not stop within 20 s).
    fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(s)) = self.child.try_wait() {
            return Some(s);
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let status = self.stop();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let strict_failed = status.and_then(|s| s.code()) == Some(3);
        assert!(
            !strict_failed || self.rejections_expected,
            "pvekit sim --strict: the client sent requests real Proxmox VE refuses (listed on stderr)"
        );
        assert!(status.is_some(), "pvekit sim did not stop on SIGTERM");
    }
}

/// `&[String]` → `Vec<&str>` plus more.
pub fn args<'a>(base: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = base.iter().map(String::as_str).collect();
    v.extend_from_slice(more);
    v
}

/// A `pvekit` running in the background, its stdout read line by line; killed on drop.
pub struct Bg {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Bg {
    /// Starts `cmd` with stdout piped (stderr inherited).
    pub fn spawn(cmd: &mut Command) -> Bg {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pvekit");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(l) = line else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Bg {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits up to `within` for a line matching `pred`; returns it.
    pub fn wait_line(&mut self, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no matching line within {within:?}; seen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits up to `within` for the exit.
    pub fn interrupt(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "pvekit did not stop within {within:?} of SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs pvekit with a terminal as stdout (util-linux `script`) and `env` set; what it wrote.
pub fn on_a_terminal(env: &[&str], argv: &[&str]) -> String {
    use pvekit::core::command::quote;
    let mut line = String::from("env -i");
    for part in env.iter().chain([&BIN]).chain(argv) {
        line.push(' ');
        line.push_str(&quote(part));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
