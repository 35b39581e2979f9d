use std::time::Duration;

use pvekit::{Client, Error, Timeouts};
use pvekit_sim::SimOptions;

use crate::util::{self, token_config};

#[tokio::test]
async fn slow_answers_time_out() {
    let sim = util::sim_with(SimOptions {
        latency: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let mut cfg = token_config(&sim);
    cfg.timeouts = Timeouts {
        request: Duration::from_millis(100),
        ..Default::default()
    };
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out after"), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    util::install_provider();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = pvekit::Config {
        url: format!("https://127.0.0.1:{port}"),
        token_id: Some("root@pam!tok".into()),
        secret: Some("x".to_string().into()),
        no_tls_verify: true,
        ..Default::default()
    };
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to https://127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn api_errors_carry_the_server_message() {
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    let err = client
        .get::<serde_json::Value>("/nodes/pve1/lxc/999999/status/current")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = client
        .get::<serde_json::Value>("/nodes/pve1/lxc/abc/status/current")
        .await
        .unwrap_err();
    let Error::Api { status, errors, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 400);
    assert!(errors.contains_key("vmid"), "{err}");
    let err = client
        .get::<serde_json::Value>("/no/such/path")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(501));
    assert!(
        err.to_string()
            .contains("Method 'GET /no/such/path' not implemented"),
        "{err}"
    );
}

#[tokio::test]
async fn reads_are_retried_and_writes_are_not() {
    let sim = util::sim_with(SimOptions {
        scenario_inline: Some(
            pvekit_sim::Scenario::from_yaml(
                "cluster: c\nnodes: [{name: up}, {name: down, online: false}]\nguests: [{type: lxc, vmid: 100, node: down}, {type: qemu, vmid: 200, node: up, status: running}]\n",
            )
            .unwrap(),
        ),
        ..Default::default()
    })
    .await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    // The node the request is proxied to cannot be reached: a 595, worth two more tries.
    let err = client
        .get::<serde_json::Value>("/nodes/down/status")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(595), "{err}");
    assert_eq!(util::count(&sim, "GET", "/nodes/down/status"), 3);
    // A write may have been carried out: never retried blindly.
    let err = client
        .post::<String>("/nodes/down/lxc/100/status/start", &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(595), "{err}");
    assert_eq!(
        util::count(&sim, "POST", "/nodes/down/lxc/100/status/start"),
        1
    );
    // A definite answer (the guest does not exist) is not retried either.
    let _ = client
        .get::<serde_json::Value>("/nodes/up/lxc/999/status/current")
        .await
        .unwrap_err();
    assert_eq!(
        util::count(&sim, "GET", "/nodes/up/lxc/999/status/current"),
        1
    );
    // Nor is any other 500: Proxmox VE's refusals, such as a VM without a guest agent.
    let err = client
        .get::<serde_json::Value>("/nodes/up/qemu/200/agent/network-get-interfaces")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(
        util::count(
            &sim,
            "GET",
            "/nodes/up/qemu/200/agent/network-get-interfaces"
        ),
        1
    );
}
