//! Config files (GoDoxy and pvekit forms, default path) and precedence flags > env > file.

use std::path::PathBuf;

use crate::util::{Sim, pvekit, run};

/// A GoDoxy config with other top-level keys and providers around the proxmox entry.
fn godoxy_yaml(entries: &str) -> String {
    format!(
        "autocert:\n  provider: local\nentrypoint:\n  middlewares:\n    - use: CloudflareRealIP\nproviders:\n  include:\n    - compose.yml\n  docker:\n    local: $DOCKER_HOST\n  proxmox:\n{entries}homepage:\n  use_default_categories: true\n"
    )
}

fn token_entry(sim: &Sim, secret: &str) -> String {
    format!(
        "    - url: {}\n      token_id: \"{}\"\n      secret: \"{}\"\n      fingerprint: \"{}\"\n",
        sim.info.url, sim.info.token_id, secret, sim.info.fingerprint
    )
}

/// Writes a config file readable by its owner only, as config files with secrets should be.
fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.path().join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn a_config_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let text = format!("clusters:\n{}", token_entry(&sim, &sim.info.secret));
    let path = write(&dir, "config.yml", &text);
    let path_s = path.to_str().unwrap();
    let quiet = run(&mut pvekit(&["--config", path_s, "nodes"]));
    quiet.ok();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = run(&mut pvekit(&["--config", path_s, "nodes"]));
    warned.ok();
    assert!(
        warned
            .stderr
            .contains("permissions 0644 let every user read it; run: chmod 600"),
        "{}",
        warned.stderr
    );
    assert!(!warned.stderr.contains(&sim.info.secret));
}

#[test]
fn godoxy_config_works_via_config_flag() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir,
        "config.yml",
        &godoxy_yaml(&token_entry(&sim, &sim.info.secret)),
    );
    let f = f.to_str().unwrap();
    let v = run(&mut pvekit(&["--config", f, "ls", "-o", "json"])).json();
    assert_eq!(v.as_array().unwrap().len(), 14);
    // Password login from the file, with no_tls_verify as GoDoxy writes it.
    let entry = format!(
        "    - url: {}\n      username: root\n      password: \"{}\"\n      realm: pam\n      no_tls_verify: true\n",
        sim.info.url, sim.info.password
    );
    let f2 = write(&dir, "pw.yml", &godoxy_yaml(&entry));
    run(&mut pvekit(&["nodes", "--config", f2.to_str().unwrap()])).ok();
}

#[test]
fn default_path_under_xdg_config_home() {
    let sim = Sim::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("clusters:\n{}", token_entry(&sim, &sim.info.secret));
    write(&dir, "pvekit/config.yml", &yaml);
    let out = run(pvekit(&["nodes", "-o", "json"]).env("XDG_CONFIG_HOME", dir.path()));
    assert_eq!(out.json().as_array().unwrap().len(), 3);
    // Same through HOME when XDG_CONFIG_HOME is unset.
    let home = tempfile::tempdir().unwrap();
    write(&home, ".config/pvekit/config.yml", &yaml);
    let out = run(pvekit(&["nodes", "-o", "json"]).env("HOME", home.path()));
    assert_eq!(out.json().as_array().unwrap().len(), 3);
}

#[test]
fn missing_default_file_is_fine_but_missing_config_flag_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    // No file and no url: the "no cluster" hint, not a file error.
    let out = run(pvekit(&["ls"]).env("XDG_CONFIG_HOME", dir.path()));
    let line = out.fails(1);
    assert!(line.contains("no cluster configured"), "{line}");
    let missing = dir.path().join("absent.yml");
    let out = run(&mut pvekit(&["ls", "--config", missing.to_str().unwrap()]));
    let line = out.fails(1);
    assert!(line.contains("absent.yml"), "{line}");
}

#[test]
fn flags_beat_env_beat_file() {
    let mut sim = Sim::start(&[]);
    // Some layers hold a wrong secret on purpose.
    sim.expect_rejections();
    let dir = tempfile::tempdir().unwrap();
    let right = sim.info.secret.as_str();
    let cfg = |secret: &str| {
        let f = write(
            &dir,
            &format!("c-{secret}.yml"),
            &godoxy_yaml(&token_entry(&sim, secret)),
        );
        f.to_str().unwrap().to_string()
    };
    let file_wrong = cfg("file-wrong");
    let file_right = cfg(right);

    // The file alone decides.
    run(&mut pvekit(&["--config", &file_right, "nodes"])).ok();
    run(&mut pvekit(&["--config", &file_wrong, "nodes"])).fails(1);
    // env beats file.
    run(pvekit(&["--config", &file_wrong, "nodes"]).env("PVEKIT_SECRET", right)).ok();
    run(pvekit(&["--config", &file_right, "nodes"]).env("PVEKIT_SECRET", "env-wrong")).fails(1);
    // flag beats env.
    run(
        pvekit(&["--config", &file_wrong, "nodes", "--secret", right])
            .env("PVEKIT_SECRET", "env-wrong"),
    )
    .ok();
    run(
        pvekit(&["--config", &file_right, "nodes", "--secret", "flag-wrong"])
            .env("PVEKIT_SECRET", right),
    )
    .fails(1);
    // A url from env selects the file's entry with that url and fills the rest from it.
    run(pvekit(&["--config", &file_right, "nodes"]).env("PVEKIT_URL", format!("{}/", sim.info.url)))
        .ok();
}

#[test]
fn several_clusters_from_one_file() {
    let a = Sim::start(&["--seed", "1"]);
    let b = Sim::start(&["--seed", "2", "--nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "clusters:\n{}providers:\n  proxmox:\n{}",
        token_entry(&a, &a.info.secret)
            .replacen("    -", "  -", 1)
            .replace("\n      ", "\n    "),
        token_entry(&b, &b.info.secret)
    );
    let f = write(&dir, "two.yml", &yaml);
    let f = f.to_str().unwrap();
    let v = run(&mut pvekit(&["--config", f, "ls", "-o", "json"])).json();
    let guests = v.as_array().unwrap();
    let per_sim = run(&mut pvekit(&crate::util::args(
        &b.token_args(),
        &["ls", "-o", "json"],
    )))
    .json()
    .as_array()
    .unwrap()
    .len();
    // Both clusters are listed, even if the two simulators happen to share a cluster name.
    assert_eq!(guests.len(), 14 + per_sim);
    let nodes = run(&mut pvekit(&["--config", f, "nodes", "-o", "json"])).json();
    assert_eq!(nodes.as_array().unwrap().len(), 3 + 2);
    // A credential override would apply to both: refused, naming the way out.
    let out = run(pvekit(&["--config", f, "ls"]).env("PVEKIT_SECRET", "x"));
    let line = out.fails(1);
    assert!(
        line.contains("PVEKIT_SECRET") && line.contains("--url"),
        "{line}"
    );
    // One unreachable cluster: the others are still listed, and the exit status says so.
    let dead = "  - url: https://127.0.0.1:1\n    token_id: \"root@pam!tk\"\n    secret: s\n    no_tls_verify: true\n";
    let yaml = format!(
        "clusters:\n{dead}providers:\n  proxmox:\n{}",
        token_entry(&b, &b.info.secret)
    );
    let f = write(&dir, "dead.yml", &yaml);
    let out = run(&mut pvekit(&[
        "--config",
        f.to_str().unwrap(),
        "nodes",
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "b's nodes still listed");
    assert!(
        out.stderr.contains("could not reach 1 of 2 clusters"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);
}

#[test]
fn invalid_config_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.yml",
            "clusters:\n  - url: https://x:8006\n    tokenid: a\n",
            "tokenid",
        ),
        ("syntax.yml", "providers:\n  proxmox: [\n", "syntax.yml"),
        (
            "pair.yml",
            "clusters:\n  - url: https://x:8006\n    token_id: \"a@pam!tk\"\n",
            "secret is missing",
        ),
        (
            "empty.yml",
            "providers:\n  docker: {}\n",
            "lists no clusters",
        ),
    ];
    for (name, text, want) in cases {
        let f = write(&dir, name, text);
        let out = run(&mut pvekit(&["ls", "--config", f.to_str().unwrap()]));
        let line = out.fails(1);
        assert!(line.contains(want) && line.contains(name), "{name}: {line}");
    }
}
