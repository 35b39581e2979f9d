use std::time::Duration;

use pvekit::{Client, ClientOptions, Error};

use crate::util::{self, assert_clean, count, password_config, token_config};

#[tokio::test]
async fn token_auth_connects_and_reads() {
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    assert!(!client.version().version.is_empty());
    assert_eq!(client.members().len(), 3);
    let res = client
        .cluster_resources(Some(pvekit::types::ResourceType::Vm))
        .await
        .unwrap();
    assert_eq!(res.len(), 14);
    assert_eq!(
        count(&sim, "POST", "/access/ticket"),
        0,
        "token auth must not log in"
    );
    assert_clean(&sim);
}

#[tokio::test]
async fn password_auth_logs_in_once() {
    let sim = util::sim().await;
    let client = Client::connect(&password_config(&sim)).await.unwrap();
    for _ in 0..3 {
        let _: serde_json::Value = client.get("/nodes").await.unwrap();
    }
    assert_eq!(count(&sim, "POST", "/access/ticket"), 1);
    assert_clean(&sim);
}

#[tokio::test]
async fn realm_given_separately() {
    let sim = util::sim().await;
    let mut cfg = password_config(&sim);
    let user = cfg.username.take().unwrap();
    let (name, realm) = user.split_once('@').unwrap();
    cfg.username = Some(name.to_string());
    cfg.realm = Some(realm.to_string());
    Client::connect(&cfg).await.unwrap();
    assert_clean(&sim);
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let sim = util::sim().await;
    let mut cfg = password_config(&sim);
    cfg.password = Some("wrong-password".to_string().into());
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("was refused"), "{msg}");
    assert_eq!(
        err.hint().as_deref(),
        Some("check username, password and realm")
    );
    assert!(!msg.contains("wrong-password"));
    // One attempt only: never loop on 401.
    assert_eq!(count(&sim, "POST", "/access/ticket"), 1);
}

#[tokio::test]
async fn wrong_token_secret_is_an_auth_error() {
    let sim = util::sim().await;
    let mut cfg = token_config(&sim);
    cfg.secret = Some("00000000-0000-0000-0000-000000000000".to_string().into());
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("rejected the API token"), "{err}");
    assert!(err.hint().unwrap().contains("token_id and secret"));
    assert_eq!(sim.requests().len(), 1, "a rejected token is not retried");
}

#[tokio::test]
async fn ticket_is_renewed_before_it_expires() {
    let sim = util::sim().await;
    let opts = ClientOptions {
        ticket_renewal: Duration::from_millis(200),
        ..Default::default()
    };
    let client = Client::connect_with(&password_config(&sim), opts)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _: serde_json::Value = client.get("/nodes").await.unwrap();
    let logins: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/access/ticket")
        .collect();
    assert_eq!(logins.len(), 2, "{logins:#?}");
    assert!(logins.iter().all(|r| r.status == 200));
    assert_clean(&sim);
}

#[tokio::test]
async fn a_failed_renewal_keeps_the_valid_ticket_in_use() {
    let sim = util::sim().await;
    let opts = ClientOptions {
        ticket_renewal: Duration::from_millis(200),
        ..Default::default()
    };
    let client = Client::connect_with(&password_config(&sim), opts)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The cluster cannot issue tickets now (a 503 from a proxy, or pmxcfs trouble), but the
    // ticket the client holds is valid for two hours: calls go on with it.
    sim.set_login_outage(Some(503));
    for _ in 0..5 {
        let nodes: Vec<serde_json::Value> = client.get("/nodes").await.unwrap();
        assert_eq!(nodes.len(), 3);
    }
    let renewals = || {
        sim.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/access/ticket")
            .map(|r| r.status)
            .collect::<Vec<_>>()
    };
    // One renewal was tried; the next calls did not each try again.
    assert_eq!(renewals(), vec![200, 503]);
    sim.set_login_outage(None);
}

#[tokio::test]
async fn expired_ticket_leads_to_a_fresh_login() {
    let sim = util::sim().await;
    let client = Client::connect(&password_config(&sim)).await.unwrap();
    // The server's clock moves past the two-hour ticket lifetime.
    sim.advance_clock(Duration::from_secs(3 * 3600));
    let nodes: Vec<serde_json::Value> = client.get("/nodes").await.unwrap();
    assert_eq!(nodes.len(), 3);
    let statuses: Vec<(String, u16)> = sim
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        statuses[statuses.len() - 3..],
        [
            ("/nodes".into(), 401),
            ("/access/ticket".into(), 200),
            ("/nodes".into(), 200)
        ],
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_slow_rejection_is_an_auth_error_not_a_timeout() {
    // Proxmox VE answers a rejected token only after about 3 s; here 1.5 s against a 1 s
    // request timeout.
    let sim = util::sim_with(pvekit_sim::SimOptions {
        auth_failure_delay: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let mut cfg = token_config(&sim);
    cfg.timeouts = pvekit::Timeouts {
        request: Duration::from_secs(1),
        login: Duration::from_secs(5),
        ..Default::default()
    };
    let right = cfg.clone();
    cfg.secret = Some("00000000-0000-0000-0000-000000000000".to_string().into());
    let started = std::time::Instant::now();
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    // The right ones connect and read as usual.
    let client = Client::connect(&right).await.unwrap();
    let _: serde_json::Value = client.get("/nodes").await.unwrap();
}
