//! Authentication exactly like Proxmox VE: tickets, CSRF, tokens, failures.

use std::time::Duration;

use crate::util::{PASSWORD, start, start_default};

#[tokio::test]
async fn password_login_ticket_and_csrf() {
    let s = start_default().await;
    let login = s.login().await;
    assert!(login.ticket.starts_with("PVE:root@pam:"));
    assert_eq!(login.csrf.len(), 8 + 1 + 43);

    // The ticket works as a cookie, raw or percent-encoded, and in the Authorization header.
    let r = s
        .send(
            s.http
                .get(s.url("/version"))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket)),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["release"], "9.1");
    let encoded = login
        .ticket
        .replace(':', "%3A")
        .replace('=', "%3D")
        .replace('+', "%2B")
        .replace('/', "%2F");
    let r = s
        .send(
            s.http
                .get(s.url("/nodes"))
                .header("Cookie", format!("a=b; PVEAuthCookie={encoded}")),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .send(
            s.http
                .get(s.url("/nodes"))
                .header("Authorization", format!("PVEAuthCookie={}", login.ticket)),
        )
        .await;
    assert_eq!(r.status, 200);

    // A POST with the ticket but without CSRF token: 401 before routing/handler.
    let path = "/nodes/pve1/lxc/100/status/start";
    let (status, _) = s
        .raw(format!(
            "POST /api2/json{path} HTTP/1.1\r\nHost: localhost\r\nCookie: PVEAuthCookie={}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            login.ticket
        ))
        .await;
    assert_eq!(
        status,
        "HTTP/1.1 401 Permission denied - invalid csrf token"
    );
    let r = s
        .send(
            s.http
                .post(s.url(path))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket)),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.is_empty());
    // With the CSRF token the request passes auth (the handler itself comes later).
    let r = s
        .send(
            s.http
                .post(s.url(path))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket))
                .header("CSRFPreventionToken", &login.csrf),
        )
        .await;
    assert_ne!(r.status, 401);
}

#[tokio::test]
async fn username_and_realm_forms() {
    let s = start_default().await;
    let r = s
        .send(s.http.post(s.url("/access/ticket")).form(&[
            ("username", "root"),
            ("realm", "pam"),
            ("password", PASSWORD),
        ]))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["username"], "root@pam");
    assert_eq!(r.data()["clustername"], "homelab");
    assert!(r.data()["cap"]["vms"]["VM.Audit"] == 1);
    // JSON body works too.
    let r = s
        .send(
            s.http
                .post(s.url("/access/ticket"))
                .json(&serde_json::json!({"username": "root@pam", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn bad_credentials() {
    let s = start_default().await;
    let (status, body) = s
        .raw(
            "POST /api2/json/access/ticket HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 33\r\nConnection: close\r\n\r\nusername=root@pam&password=wrong\n"
                .to_string(),
        )
        .await;
    assert_eq!(status, "HTTP/1.1 401 authentication failure");
    assert_eq!(
        body,
        r#"{"data":null,"message":"authentication failure\n"}"#
    );
    let rej = s.sim.rejections();
    assert_eq!(rej.last().map(|r| r.status), Some(401));
    // The password never reaches the request log.
    let reqs = s.sim.requests();
    let logged = reqs
        .iter()
        .find(|r| r.path == "/access/ticket")
        .expect("logged");
    assert!(
        logged
            .params
            .iter()
            .any(|(k, v)| k == "password" && v == "<redacted>")
    );
}

#[tokio::test]
async fn auth_stage_failures_have_empty_bodies() {
    let s = start_default().await;
    let (status, body) = s
        .raw("GET /api2/json/nodes HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into())
        .await;
    assert_eq!(status, "HTTP/1.1 401 No ticket");
    assert_eq!(body, "");
    let (status, _) = s
        .raw("GET /api2/json/nodes HTTP/1.1\r\nHost: localhost\r\nCookie: PVEAuthCookie=PVE:root@pam:00000000::Zm9v\r\nConnection: close\r\n\r\n".into())
        .await;
    assert_eq!(status, "HTTP/1.1 401 Authentication failed!");
    let r = s
        .send(
            s.http
                .get(s.url("/nodes"))
                .header("Authorization", "PVEAPIToken=root@pam!pvekit=wrong"),
        )
        .await;
    assert_eq!(r.status, 401);
    // Unknown paths need auth first, too.
    let r = s.send(s.http.get(s.url("/nope"))).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn token_auth() {
    let s = start_default().await;
    let r = s.get("/cluster/status").await;
    assert_eq!(r.status, 200);
    // A space may replace the first '='; no CSRF token is needed for writes.
    let header = format!(
        "PVEAPIToken {}={}",
        s.sim.info().token_id,
        s.sim.info().secret
    );
    let r = s
        .send(
            s.http
                .get(s.url("/nodes"))
                .header("Authorization", header.clone()),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .send(
            s.http
                .post(s.url("/nodes/pve1/lxc/100/status/start"))
                .header("Authorization", header),
        )
        .await;
    assert_ne!(r.status, 401);
}

#[tokio::test]
async fn token_on_ticket_endpoint_is_403() {
    let s = start_default().await;
    let r = s
        .send(
            s.http
                .post(s.url("/access/ticket"))
                .header("Authorization", s.token_header())
                .form(&[("username", "root@pam"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.message(),
        "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.\n)\n"
    );
}

#[tokio::test]
async fn renewal_and_expiry() {
    let s = start_default().await;
    let login = s.login().await;
    s.sim.advance_clock(Duration::from_secs(3600));
    let r = s
        .send(s.http.post(s.url("/access/ticket")).form(&[
            ("username", "root@pam"),
            ("password", login.ticket.as_str()),
        ]))
        .await;
    assert_eq!(r.status, 200);
    let renewed = r.data()["ticket"].as_str().expect("ticket").to_string();
    assert_ne!(renewed, login.ticket);

    s.sim.advance_clock(Duration::from_secs(3 * 3600));
    let (status, _) = s
        .raw(format!(
            "GET /api2/json/version HTTP/1.1\r\nHost: localhost\r\nCookie: PVEAuthCookie={renewed}\r\nConnection: close\r\n\r\n"
        ))
        .await;
    assert_eq!(status, "HTTP/1.1 401 Authentication failed!");
    // An expired ticket no longer renews.
    let r = s
        .send(
            s.http
                .post(s.url("/access/ticket"))
                .form(&[("username", "root@pam"), ("password", renewed.as_str())]),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn auth_failure_delay_is_applied() {
    let mut o = crate::util::opts();
    o.auth_failure_delay = Duration::from_millis(300);
    let s = start(o).await;
    let t = std::time::Instant::now();
    let r = s.send(s.http.get(s.url("/nodes"))).await;
    assert_eq!(r.status, 401);
    assert!(t.elapsed() >= Duration::from_millis(300));
}
