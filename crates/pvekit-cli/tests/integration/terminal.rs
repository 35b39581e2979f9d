//! Commands over the simulator's node terminal: exec, journal, tail, shell, enter.
//!
//! These need a root@pam password login; the API calls still use the token. They run against
//! the simulator's terminal (termproxy + vncwebsocket on a real PTY running bash).

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::guests::LAB;
use crate::util::{Bg, Sim, args, on_a_terminal, pvekit, run};

fn lab() -> (Sim, Vec<String>) {
    let sim = Sim::scenario(LAB);
    let base = sim.login_args();
    (sim, base)
}

#[test]
fn exec_streams_output_and_passes_on_the_exit_status() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(
        &base,
        &[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo out; cat /etc/hostname; exit 3",
        ],
    )));
    assert_eq!(out.status.code(), Some(3), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "out\nweb\n");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // Arguments arrive as given, quoting and all.
    let out = run(&mut pvekit(&args(
        &base,
        &["exec", "100", "--", "printf", "%s|", "a b", "it's", "$HOME"],
    )));
    assert_eq!(out.ok(), "a b|it's|$HOME|");
    let out = run(&mut pvekit(&args(
        &base,
        &["exec", "--node", "pve1", "--", "cat", "/etc/hostname"],
    )));
    assert_eq!(out.ok(), "pve1\n");
    let out = run(&mut pvekit(&args(&base, &["exec", "db", "--", "true"])));
    assert!(out.fails(1).contains("not running"));
}

#[test]
fn exec_needs_a_login() {
    let sim = Sim::scenario(LAB);
    let out = run(&mut pvekit(&args(
        &sim.token_args(),
        &["exec", "web", "--", "true"],
    )));
    let line = out.fails(1);
    assert!(line.contains("username and password"), "{line}");
}

#[test]
fn journal_and_tail_print_history_or_follow_until_ctrl_c() {
    let (_sim, base) = lab();
    let out = run(&mut pvekit(&args(
        &base,
        &["journal", "--node", "pve1", "-n", "5", "--no-follow"],
    )));
    assert_eq!(out.ok().lines().count(), 5, "{}", out.stdout);
    let out = run(&mut pvekit(&args(
        &base,
        &[
            "tail",
            "--node",
            "pve1",
            "/etc/hostname",
            "-n",
            "1",
            "--no-follow",
        ],
    )));
    assert_eq!(out.ok(), "pve1\n");
    let out = run(&mut pvekit(&args(
        &base,
        &["tail", "web", "/etc/hostname", "--no-follow"],
    )));
    assert_eq!(out.ok(), "web\n");
    // Following: new lines keep coming until Ctrl-C, which ends pvekit cleanly.
    let mut bg = Bg::spawn(&mut pvekit(&args(
        &base,
        &["journal", "--node", "pve1", "-u", "pveproxy", "-n", "1"],
    )));
    for _ in 0..3 {
        bg.wait_line(Duration::from_secs(15), |_| true);
    }
    assert!(bg.interrupt(Duration::from_secs(5)).success());
    let mut bg = Bg::spawn(&mut pvekit(&args(
        &base,
        &["tail", "--node", "pve2", "/etc/hostname"],
    )));
    assert_eq!(bg.wait_line(Duration::from_secs(15), |_| true), "pve2");
    assert!(bg.interrupt(Duration::from_secs(5)).success());
}

/// Runs an interactive command with `input` typed after a pause; returns (status, output).
fn interactive(base: &[String], command: &[&str], input: &str) -> (Option<i32>, String) {
    let out = interactive_out(base, command, input);
    (out.status.code(), format!("{}{}", out.stdout, out.stderr))
}

/// Runs an interactive command with `input` typed after 1.5 s; stdout and stderr apart.
fn interactive_out(base: &[String], command: &[&str], input: &str) -> crate::util::Out {
    let mut child = pvekit(&args(base, command))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let _ = stdin.write_all(input.as_bytes());
        // Keep stdin open a while: the session must end because the remote shell exits.
        std::thread::sleep(Duration::from_secs(30));
    });
    crate::util::run_child(child)
}

#[test]
fn shell_runs_until_the_remote_side_ends() {
    let (_sim, base) = lab();
    let (status, out) = interactive(&base, &["shell", "pve1"], "echo hello-$((6*7))\nexit\n");
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("hello-42"), "{out}");
}

#[test]
fn enter_opens_the_containers_shell() {
    let (_sim, base) = lab();
    let (status, out) = interactive(&base, &["enter", "web"], "cat /etc/hostname\nexit\n");
    assert_eq!(status, Some(0), "{out}");
    assert!(
        // Lines may start with the shell's bracketed-paste switch (ESC[?2004l CR).
        out.lines().any(|l| l.split('\r').any(|part| part == "web")),
        "{out}"
    );
    assert!(
        !out.contains("exec pct enter"),
        "the typed line is hidden: {out}"
    );
    let out = run(&mut pvekit(&args(&base, &["enter", "twin"])));
    assert!(out.fails(1).contains("ambiguous"));
    let out = run(&mut pvekit(&args(&base, &["enter", "200"])));
    assert!(out.fails(1).contains("is a VM"));
}

#[test]
fn token_only_node_journal_uses_the_rest_journal() {
    let sim = Sim::scenario(LAB);
    let out = run(&mut pvekit(&args(
        &sim.token_args(),
        &["journal", "--node", "pve1", "-n", "4", "--no-follow"],
    )));
    assert_eq!(out.ok().lines().count(), 4, "{}", out.stdout);
    // A unit filter needs journalctl, so the terminal and its login.
    let out = run(&mut pvekit(&args(
        &sim.token_args(),
        &["journal", "--node", "pve1", "-u", "pveproxy", "--no-follow"],
    )));
    assert!(out.fails(1).contains("username and password"));
}

#[test]
fn other_users_read_node_journals_over_rest_too() {
    let yaml = format!(
        "{LAB}users:\n  - userid: ops@pve\n    password: ops-pw\n    acl: [{{path: /, role: PVEAdmin}}]\n"
    );
    let sim = Sim::scenario(&yaml);
    let login = [
        "--url",
        &sim.info.url,
        "--fingerprint",
        &sim.info.fingerprint,
        "--username",
        "ops@pve",
        "--password",
        "ops-pw",
    ];
    let out = run(&mut pvekit(&args(
        &[],
        &[
            &login[..],
            &["journal", "--node", "pve1", "-n", "3", "--no-follow"],
        ]
        .concat(),
    )));
    assert_eq!(out.ok().lines().count(), 3, "{}", out.stdout);
    // Commands need root@pam's shell.
    let out = run(&mut pvekit(&args(
        &[],
        &[&login[..], &["exec", "--node", "pve1", "--", "true"]].concat(),
    )));
    assert!(out.fails(1).contains("root@pam"), "{}", out.stderr);
}

#[test]
fn exec_timeout_ends_the_command_and_exits_124() {
    let (_sim, base) = lab();
    let started = std::time::Instant::now();
    let out = run(&mut pvekit(&args(
        &base,
        &[
            "exec",
            "--node",
            "pve1",
            "--timeout",
            "1.5",
            "--",
            "sh",
            "-c",
            "echo begun; sleep 60",
        ],
    )));
    assert_eq!(out.status.code(), Some(124), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "begun\n");
    assert!(
        out.stderr.contains("did not finish within 1.5 s"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // A command within its time is not touched.
    let out = run(&mut pvekit(&args(
        &base,
        &["exec", "--node", "pve1", "--timeout", "30", "--", "true"],
    )));
    assert_eq!(out.ok(), "");
}

#[test]
fn log_lines_cannot_drive_the_terminal() {
    let (_sim, base) = lab();
    // A log line that sets the clipboard (OSC 52) and the window title, and clears the screen.
    let out = run(&mut pvekit(&args(
        &base,
        &[
            "exec",
            "--node",
            "pve1",
            "--",
            "sh",
            "-c",
            "printf 'x \\033]52;c;aGk=\\007 \\033]0;pwned\\007 \\033[2J y\\n' > /var/log/evil.log",
        ],
    )));
    out.ok();
    let shown = on_a_terminal(
        &[],
        &args(
            &base,
            &["tail", "--node", "pve1", "--no-follow", "/var/log/evil.log"],
        ),
    );
    assert!(
        shown.contains("x ^[]52;c;aGk=^G ^[]0;pwned^G ^[[2J y"),
        "{shown:?}"
    );
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    // --raw, or a pipe, gets the bytes as they are.
    let shown = on_a_terminal(
        &[],
        &args(
            &base,
            &[
                "tail",
                "--node",
                "pve1",
                "--no-follow",
                "--raw",
                "/var/log/evil.log",
            ],
        ),
    );
    assert!(shown.contains("\u{1b}]52;c;aGk=\u{7}"), "{shown:?}");
    let piped = run(&mut pvekit(&args(
        &base,
        &["tail", "--node", "pve1", "--no-follow", "/var/log/evil.log"],
    )));
    assert!(piped.ok().contains("\u{1b}]52;c;aGk=\u{7}"));
}

/// The secrets of a root session, as text and as the hex that frame dumps would show.
fn assert_no_session_secrets(stderr: &str, password: &str, typed: &str) {
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    for secret in [
        password.to_string(),
        hex(password),
        "PVEVNC:".into(),
        hex("PVEVNC:"),
        "PVE:root@pam:".into(),
        hex("PVE:root@pam:"),
        "PVEAuthCookie".into(),
        "vncticket".into(),
        typed.to_string(),
        hex(typed),
    ] {
        assert!(
            !stderr.contains(&secret),
            "{secret:?} appears in the logs:\n{stderr}"
        );
    }
}

#[test]
fn trace_logs_never_show_the_session_secrets() {
    let (sim, base) = lab();
    let password = sim.info.password.clone();
    // -vvv: every log of every crate, but never foreign TRACE logs; and RUST_LOG asking for
    // the websocket library's trace logs gets no more.
    let runs: [(&[&str], &str); 2] = [
        (&["-vvv"], ""),
        (&[], "trace,tungstenite=trace,tokio_tungstenite=trace"),
    ];
    for (i, (verbose, log)) in runs.into_iter().enumerate() {
        let typed = format!("typed-secret-{i}");
        let mut more = verbose.to_vec();
        more.extend(["exec", "--node", "pve1", "--", "echo", &typed]);
        let mut cmd = pvekit(&args(&base, &more));
        if !log.is_empty() {
            cmd.env("RUST_LOG", log);
        }
        let out = run(&mut cmd);
        assert_eq!(out.ok(), format!("{typed}\n"));
        assert!(
            out.stderr.lines().count() > 10,
            "logs are on: {}",
            out.stderr
        );
        assert_no_session_secrets(&out.stderr, &password, &typed);
    }
    // Keystrokes typed into `pvekit shell`.
    let out = interactive_out(
        &base,
        &["-vvv", "shell", "pve1"],
        "echo typed-secret-$((1+2))\nexit\n",
    );
    assert!(out.stdout.contains("typed-secret-3"), "{}", out.stdout);
    assert_no_session_secrets(&out.stderr, &password, "typed-secret-$((1+2))");
}
