//! Who may call: tokens, login links, sessions, CSRF, roles.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::util::lab;

#[tokio::test]
async fn healthz_is_open_and_everything_else_needs_credentials() {
    let lab = lab().await;
    let r = lab.anonymous("/healthz").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for path in [
        "/api/v1/clusters",
        "/api/v1/session",
        "/pve?target=lab",
        "/metrics",
    ] {
        let r = lab.anonymous(path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["message"], "unauthorized", "{path}");
    }
    let r = lab
        .http
        .get(format!("{}/api/v1/clusters", lab.url))
        .bearer_auth("pvk_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    lab.ready().await;
    let clusters: Value = lab
        .get("/api/v1/clusters")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clusters[0]["name"], "lab");
    assert_eq!(clusters[0]["guests"], 5);
    lab.stop().await;
}

#[tokio::test]
async fn a_login_link_makes_a_session_once_and_writes_need_its_csrf_token() {
    let lab = lab().await;
    use secrecy::ExposeSecret as _;
    let link = lab.server().login_url().expose_secret().to_string();
    let r = lab.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: no Secure flag"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    // The link works once.
    let again = lab.http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    let session: Value = lab
        .http
        .get(format!("{}/api/v1/session", lab.url))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["role"], "admin");
    let csrf = session["csrf"].as_str().unwrap().to_string();
    assert!(csrf.len() >= 40);

    // A write with the cookie and without the CSRF token is refused before anything runs.
    let logout = format!("{}/api/v1/logout", lab.url);
    let r = lab
        .http
        .post(&logout)
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = lab
        .http
        .post(&logout)
        .header("cookie", &pair)
        .header("x-pvekit-csrf", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = lab
        .http
        .post(&logout)
        .header("cookie", &pair)
        .header("x-pvekit-csrf", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // The session is gone.
    let r = lab
        .http
        .get(format!("{}/api/v1/session", lab.url))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    lab.stop().await;
}
