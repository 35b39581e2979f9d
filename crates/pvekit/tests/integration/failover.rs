//! A cluster reached through several addresses (every node serves the whole API): when the
//! current one stops answering, requests and terminal sessions move on to the next.

use pvekit::{Client, Config, Endpoint, Error};
use pvekit_sim::{Scenario, ScenarioGuest, ScenarioNode, SimOptions};

use crate::util::sim_with;

async fn three_nodes() -> pvekit_sim::RunningSim {
    sim_with(SimOptions {
        scenario_inline: Some(Scenario {
            cluster: Some("lab".into()),
            nodes: vec![
                ScenarioNode::new("pve1"),
                ScenarioNode::new("pve2"),
                ScenarioNode::new("pve3"),
            ],
            guests: vec![
                ScenarioGuest::lxc(101, "pve1").with_name("web").running(),
                ScenarioGuest::lxc(102, "pve2").with_name("db").running(),
            ],
            users: Vec::new(),
        }),
        ..Default::default()
    })
    .await
}

/// Every node's address, each with its own pinned certificate; token and root@pam login.
fn config(sim: &pvekit_sim::RunningSim) -> Config {
    let info = sim.info();
    let nodes = &info.nodes;
    Config {
        url: nodes[0].url.clone(),
        fingerprint: Some(nodes[0].fingerprint.clone()),
        endpoints: nodes[1..]
            .iter()
            .map(|n| Endpoint {
                url: n.url.clone(),
                fingerprint: Some(n.fingerprint.clone()),
            })
            .collect(),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        username: Some(info.username.clone()),
        password: Some(info.password.clone().into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn requests_and_terminals_move_on_when_a_node_stops_answering() {
    let sim = three_nodes().await;
    let nodes = sim.info().nodes.clone();
    assert_eq!(nodes.len(), 3);
    let client = Client::connect(&config(&sim)).await.expect("connect");
    assert_eq!(client.current_url(), nodes[0].url);

    // The first node's pveproxy stops: reads and writes go on through the next node.
    sim.control().stop_listener("pve1").await.unwrap();
    let guests = client
        .cluster_resources(None)
        .await
        .expect("a read moves on");
    assert!(!guests.is_empty());
    assert_eq!(client.current_url(), nodes[1].url);
    client
        .node("pve2")
        .lxc(102)
        .stop()
        .await
        .expect("a write is sent to an address that answers");
    // A terminal session opens on the node that answers.
    let (out, status) = client
        .node("pve2")
        .command("hostname")
        .await
        .expect("a terminal on the next address")
        .output()
        .await
        .unwrap();
    assert_eq!((String::from_utf8_lossy(&out).trim(), status), ("pve2", 0));

    // All stopped: a clear error naming an address; one back: the next call works.
    sim.control().stop_listener("pve2").await.unwrap();
    sim.control().stop_listener("pve3").await.unwrap();
    let e = client.cluster_resources(None).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    sim.control().start_listener("pve3").unwrap();
    client
        .cluster_resources(None)
        .await
        .expect("the address that came back answers");
    assert_eq!(client.current_url(), nodes[2].url);
}

#[tokio::test]
async fn endpoints_read_from_yaml_as_urls_or_with_their_own_pin() {
    let yaml = "url: https://pve1:8006\ntoken_id: root@pam!x1\nsecret: s\nendpoints:\n  - https://pve2:8006\n  - {url: https://pve3:8006, fingerprint: \"AA:BB\"}\n";
    let c: Config = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(c.endpoints.len(), 2);
    assert_eq!(c.endpoints[0], Endpoint::from("https://pve2:8006"));
    assert_eq!(c.endpoints[1].fingerprint.as_deref(), Some("AA:BB"));
    // A bad pin of an endpoint is a config error naming it.
    let e = c.validate().unwrap_err();
    assert!(e.to_string().contains("https://pve3:8006"), "{e}");
    let urls: Config = serde_saphyr::from_str(
        "url: https://pve1:8006\ntoken_id: root@pam!x1\nsecret: s\nurls: [https://pve2:8006]\n",
    )
    .unwrap();
    urls.validate().unwrap();
    assert_eq!(urls.endpoints.len(), 1);
}
