//! Secrets never reach stderr, even with the most verbose logs.

use crate::util::{Sim, pvekit, run};

#[test]
fn verbose_logs_never_show_password_or_secret() {
    let mut sim = Sim::start(&[
        "--password",
        "pw-Zq81-unique",
        "--secret",
        "sec-Zq81-unique",
    ]);
    // The failing logins below are refused, as they must be.
    sim.expect_rejections();
    let i = &sim.info;
    for v in ["-v", "-vv", "-vvv"] {
        // Token auth.
        let out = run(&mut pvekit(&[
            v,
            "ls",
            "--url",
            &i.url,
            "--fingerprint",
            &i.fingerprint,
            "--token-id",
            &i.token_id,
            "--secret",
            &i.secret,
        ]));
        out.ok();
        assert!(!out.stderr.is_empty(), "{v} logs something");
        assert!(
            !out.stderr.contains("sec-Zq81"),
            "{v} leaked the secret:\n{}",
            out.stderr
        );
        // Password auth (ticket login), from env.
        let out = run(pvekit(&[v, "nodes"])
            .env("PVEKIT_URL", &i.url)
            .env("PVEKIT_USERNAME", &i.username)
            .env("PVEKIT_PASSWORD", &i.password)
            .env("PVEKIT_FINGERPRINT", &i.fingerprint));
        out.ok();
        assert!(
            !out.stderr.contains("pw-Zq81"),
            "{v} leaked the password:\n{}",
            out.stderr
        );
        // A failing login says nothing of the password either.
        let out = run(&mut pvekit(&[
            v,
            "nodes",
            "--url",
            &i.url,
            "--fingerprint",
            &i.fingerprint,
            "--username",
            "root",
            "--password",
            "bad-Zq81-pass",
        ]));
        assert_eq!(out.status.code(), Some(1));
        assert!(!out.stderr.contains("bad-Zq81"), "{v}:\n{}", out.stderr);
    }
}

#[test]
fn rust_log_is_honoured_without_v() {
    let out = run(pvekit(&["--demo", "nodes"]).env("RUST_LOG", "debug"));
    out.ok();
    assert!(out.stderr.contains("DEBUG"), "{}", out.stderr);
}
