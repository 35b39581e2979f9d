//! Connecting to a simulator: TLS trust choices, auth, output formats, flag placement, env.

use crate::util::{Sim, args, pvekit, run};

#[test]
fn untrusted_certificate_fails_with_a_hint() {
    let sim = Sim::start(&[]);
    let i = &sim.info;
    let out = run(&mut pvekit(&[
        "--url",
        &i.url,
        "--token-id",
        &i.token_id,
        "--secret",
        &i.secret,
        "nodes",
    ]));
    let line = out.fails(1);
    assert!(line.contains("--fingerprint"), "{line}");
    assert!(
        line.contains(&i.fingerprint),
        "shows the presented fingerprint: {line}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn pinned_fingerprint_works() {
    let sim = Sim::start(&[]);
    let base = sim.token_args();
    let out = run(&mut pvekit(&args(&base, &["nodes"])));
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header + 3 nodes:\n{text}");
    for col in ["NAME", "ID", "IP", "ONLINE", "CLUSTER"] {
        assert!(lines[0].contains(col), "{}", lines[0]);
    }
    assert!(
        !text.contains('|') && !text.contains('─'),
        "no borders:\n{text}"
    );
}

#[test]
fn a_pin_needs_no_system_ca_bundle() {
    // A minimal container: no CA certificates at all.
    let sim = Sim::start(&[]);
    let empty = tempfile::tempdir().unwrap();
    let bundle = empty.path().join("none.pem");
    std::fs::write(&bundle, "").unwrap();
    let out = run(pvekit(&args(&sim.token_args(), &["nodes"]))
        .env("SSL_CERT_FILE", &bundle)
        .env("SSL_CERT_DIR", empty.path()));
    assert_eq!(out.ok().lines().count(), 4, "{}", out.stdout);
    // Without a pin, the same machine cannot verify anything, and says so in one line.
    let base: Vec<String> = sim
        .token_args()
        .into_iter()
        .scan(false, |skip, a| {
            let keep = !*skip && a != "--fingerprint";
            *skip = a == "--fingerprint";
            Some(keep.then_some(a))
        })
        .flatten()
        .collect();
    let out = run(pvekit(&args(&base, &["nodes"]))
        .env("SSL_CERT_FILE", &bundle)
        .env("SSL_CERT_DIR", empty.path()));
    assert_eq!(out.fails(1).lines().count(), 1);
}

#[test]
fn no_tls_verify_works() {
    let sim = Sim::start(&[]);
    let i = &sim.info;
    let out = run(&mut pvekit(&[
        "--url",
        &i.url,
        "--token-id",
        &i.token_id,
        "--secret",
        &i.secret,
        "--no-tls-verify",
        "ls",
    ]));
    assert!(out.ok().lines().count() > 1);
}

#[test]
fn json_output_and_flags_after_the_subcommand() {
    let sim = Sim::start(&[]);
    let mut a = vec!["nodes"];
    let base = sim.token_args();
    a.extend(base.iter().map(String::as_str));
    a.extend(["-o", "json"]);
    let v = run(&mut pvekit(&a)).json();
    let nodes = v.as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    for n in nodes {
        for k in ["name", "id", "ip", "online", "cluster"] {
            assert!(n.get(k).is_some(), "{k} in {n}");
        }
    }
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let v = run(&mut pvekit(&args(&base, &["ls", "--output", "json"]))).json();
    let guests = v.as_array().unwrap();
    assert_eq!(guests.len(), 14, "12 containers + 2 VMs");
    let ids: Vec<u64> = guests.iter().map(|g| g["vmid"].as_u64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "sorted by vmid");
    for g in guests {
        let t = g["type"].as_str().unwrap();
        assert!(t == "lxc" || t == "qemu", "{g}");
        for k in ["name", "node", "status", "cpu", "mem", "maxmem", "cluster"] {
            assert!(g.get(k).is_some(), "{k} in {g}");
        }
    }
}

#[test]
fn ls_table_shows_percent_and_iec_units() {
    let sim = Sim::start(&[]);
    let out = run(&mut pvekit(&args(&sim.token_args(), &["ls"])));
    let text = out.ok();
    let header = text.lines().next().unwrap();
    for col in ["VMID", "NAME", "NODE", "TYPE", "STATUS", "CPU", "MEM"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(text.contains("iB/"), "IEC memory:\n{text}");
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.contains('%') || l.contains(" - ")),
        "{text}"
    );
}

#[test]
fn environment_variables_work() {
    let sim = Sim::start(&[]);
    let i = &sim.info;
    let out = run(pvekit(&["nodes", "-o", "json"])
        .env("PVEKIT_URL", &i.url)
        .env("PVEKIT_TOKEN_ID", &i.token_id)
        .env("PVEKIT_SECRET", &i.secret)
        .env("PVEKIT_FINGERPRINT", &i.fingerprint));
    assert_eq!(out.json().as_array().unwrap().len(), 3);
    let out = run(pvekit(&["ls"])
        .env("PVEKIT_URL", &i.url)
        .env("PVEKIT_USERNAME", "root")
        .env("PVEKIT_REALM", "pam")
        .env("PVEKIT_PASSWORD", &i.password)
        .env("PVEKIT_NO_TLS_VERIFY", "true"));
    out.ok();
}

#[test]
fn wrong_secret_is_one_clear_line() {
    let mut sim = Sim::start(&[]);
    sim.expect_rejections();
    let i = &sim.info;
    let out = run(&mut pvekit(&[
        "nodes",
        "--url",
        &i.url,
        "--fingerprint",
        &i.fingerprint,
        "--token-id",
        &i.token_id,
        "--secret",
        "wrong-secret-value",
    ]));
    let line = out.fails(1);
    assert!(line.to_lowercase().contains("auth"), "{line}");
    assert!(!line.contains("wrong-secret-value"), "{line}");
    // `pvekit sim --strict` reports the refused request: exit status 3.
    let (status, _) = sim.terminate();
    assert_eq!(status.code(), Some(3), "{status:?}");
}

#[test]
fn unreachable_server_is_one_clear_line() {
    // A port nobody listens on: take a free one and release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let out = run(&mut pvekit(&[
        "nodes",
        "--url",
        &url,
        "--token-id",
        "root@pam!tk",
        "--secret",
        "s",
        "--no-tls-verify",
    ]));
    let line = out.fails(1);
    assert!(line.contains(&url), "{line}");
}

#[test]
fn proxies_from_the_environment_are_not_used() {
    // REST and the terminal websocket both connect directly (one policy for both): a proxy
    // in the environment that nothing listens on changes nothing.
    let sim = Sim::start(&[]);
    let dead = "http://127.0.0.1:9";
    let out = run(pvekit(&args(&sim.token_args(), &["nodes"]))
        .env("HTTPS_PROXY", dead)
        .env("https_proxy", dead)
        .env("ALL_PROXY", dead));
    assert_eq!(out.ok().lines().count(), 4, "{}", out.stdout);
}
