//! `pvekit serve`: the ready line, the API behind it, a clean stop on SIGTERM, secrets kept
//! out of the logs, the address rules, and the token helper.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::util::{pvekit, run};

/// One HTTP/1.1 request over a plain socket: (status line, body).
fn http(base: &str, path: &str, token: &str) -> (String, String) {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

#[test]
fn demo_serve_prints_its_ready_line_serves_and_stops_on_sigterm() {
    let mut child = pvekit(&[
        "--demo",
        "-vv",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "0.2",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn pvekit serve");
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the ready line");
    let ready: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let url = ready["url"].as_str().unwrap().to_string();
    let token = ready["token"].as_str().unwrap().to_string();
    let login = ready["login_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        token.starts_with("pvk_"),
        "an admin token is made when none is configured"
    );
    assert!(login.starts_with(&format!("{url}/login?code=")), "{login}");

    let (status, _) = http(&url, "/api/v1/guests", "pvk_wrong");
    assert!(status.contains(" 401 "), "{status}");
    let mut guests = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, body) = http(&url, "/api/v1/guests", &token);
        assert!(status.contains(" 200 "), "{status}");
        guests = serde_json::from_str(&body).unwrap();
        if !guests.as_array().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        guests.as_array().unwrap().len() >= 10,
        "the demo cluster's guests: {guests}"
    );

    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "stops promptly");
    let logs = logs.join().unwrap();
    // Even at debug level, the logs hold no credential.
    let code = login.rsplit('=').next().unwrap();
    for secret in [token.as_str(), code] {
        assert!(!logs.contains(secret), "a secret in the logs:\n{logs}");
    }
    assert!(logs.contains("serving"), "{logs}");
}

#[test]
fn a_public_address_without_tls_is_one_clear_error() {
    let out = run(&mut pvekit(&["--demo", "serve", "--listen", "0.0.0.0:0"]));
    let line = out.fails(1);
    assert!(
        line.contains("requires TLS") && line.contains("--tls-cert"),
        "{line}"
    );
}

#[test]
fn new_token_prints_a_token_and_the_entry_with_its_hash() {
    let out = run(&mut pvekit(&["serve", "--new-token", "viewer"]));
    let text = out.ok();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("the token line");
    let entry = text
        .lines()
        .find(|l| l.starts_with("- {"))
        .expect("the entry");
    assert!(entry.contains("role: viewer"), "{entry}");
    assert!(entry.contains(&pvekit_serve::hash_token(token)), "{entry}");
    let out = run(&mut pvekit(&["serve", "--new-token", "root"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_openapi_document_prints_without_a_cluster() {
    let out = run(&mut pvekit(&["serve", "--openapi"]));
    let doc = out.json();
    assert!(doc["paths"]["/api/v1/guests"].is_object());
}
