use pvekit::{Client, NodePool};

use crate::util::{self, assert_clean, token_config};

#[tokio::test]
async fn nodes_are_discovered_with_addresses() {
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    let members = client.members();
    assert_eq!(members.len(), 3);
    for m in &members {
        assert_eq!(m.id, format!("node/{}", m.name));
        assert!(m.ip.is_some());
        let n = client.node(&m.name);
        assert_eq!(n.cluster(), client.name());
        assert_eq!(n.member().as_ref(), Some(m));
        let status = n.status().await.unwrap();
        assert!(status.memory.total > 0);
        assert!(status.kversion.starts_with("Linux "));
    }
    assert_eq!(client.refresh_members().await.unwrap(), members);
    assert_clean(&sim);
}

#[tokio::test]
async fn pool_finds_nodes_by_name() {
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    let pool = NodePool::new();
    pool.add_client(&client);
    let names = pool.available_node_names();
    assert_eq!(names.len(), 3);
    let node = pool.get(&names[0]).unwrap();
    assert_eq!(node.name(), names[0]);
    let by_cluster = pool
        .get(&format!("{}/{}", client.name(), names[1]))
        .unwrap();
    assert_eq!(by_cluster.name(), names[1]);
    let err = pool.get("nope").unwrap_err();
    assert!(matches!(err, pvekit::Error::NodeNotFound { .. }));
    assert!(err.to_string().contains(&names.join(", ")), "{err}");
}

fn scenario(yaml: &str) -> pvekit_sim::SimOptions {
    pvekit_sim::SimOptions {
        scenario_inline: Some(pvekit_sim::Scenario::from_yaml(yaml).unwrap()),
        ..Default::default()
    }
}

#[tokio::test]
async fn standalone_node_names_the_client_after_itself() {
    let sim = util::sim_with(scenario("nodes: [{name: solo}]\n")).await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    assert_eq!(client.name(), "solo");
    let members = client.members();
    assert_eq!(members.len(), 1);
    assert!(members[0].online);
    assert_clean(&sim);
}

#[tokio::test]
async fn offline_nodes_are_reported() {
    let sim = util::sim_with(scenario(
        "cluster: lab\nnodes: [{name: a1}, {name: a2, online: false}]\n",
    ))
    .await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    assert_eq!(client.name(), "lab");
    let states: Vec<(String, bool)> = client
        .members()
        .into_iter()
        .map(|n| (n.name, n.online))
        .collect();
    assert_eq!(
        states,
        [("a1".to_string(), true), ("a2".to_string(), false)]
    );
    assert_clean(&sim);
}

#[tokio::test]
async fn a_name_in_two_clusters_is_ambiguous() {
    let alpha = util::sim_with(scenario(
        "cluster: alpha\nnodes: [{name: pve1}, {name: a2}]\n",
    ))
    .await;
    let beta = util::sim_with(scenario(
        "cluster: beta\nnodes: [{name: pve1}, {name: b2}]\n",
    ))
    .await;
    let pool = NodePool::new();
    for sim in [&alpha, &beta] {
        pool.add_client(&Client::connect(&token_config(sim)).await.unwrap());
    }
    assert_eq!(pool.available_node_names(), ["a2", "b2", "pve1"]);
    let err = pool.get("pve1").unwrap_err();
    let pvekit::Error::AmbiguousNode { clusters, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(clusters, &["alpha", "beta"]);
    assert!(err.to_string().contains("alpha, beta"), "{err}");
    assert_eq!(pool.get("beta/pve1").unwrap().cluster(), "beta");
    assert_eq!(pool.get("b2").unwrap().cluster(), "beta");
    assert_clean(&alpha);
    assert_clean(&beta);
}

#[tokio::test]
async fn two_standalone_nodes_with_one_name_both_stay() {
    let a = util::sim_with(scenario("nodes: [{name: pve}]\n")).await;
    let b = util::sim_with(scenario("nodes: [{name: pve}]\n")).await;
    let pool = NodePool::new();
    for sim in [&a, &b] {
        pool.add_client(&Client::connect(&token_config(sim)).await.unwrap());
    }
    assert_eq!(pool.nodes().len(), 2);
    let err = pool.get("pve").unwrap_err();
    let pvekit::Error::AmbiguousNode { clusters, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        clusters.iter().any(|c| c.contains(&a.info().url)),
        "{clusters:?}"
    );
    assert!(
        clusters.iter().any(|c| c.contains(&b.info().url)),
        "{clusters:?}"
    );
}

#[tokio::test]
async fn a_node_that_joins_after_connect_works_like_any_other() {
    use pvekit_sim::{ScenarioGuest, ScenarioNode};
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    let pool = NodePool::new();
    pool.add_client(&client);
    // A node joins the cluster, with a running container, after the client connected.
    let control = sim.control();
    control.add_node(ScenarioNode::new("pve9")).unwrap();
    control
        .add_guest(
            ScenarioGuest::lxc(900, "pve9")
                .with_name("late")
                .running()
                .with_net(
                    0,
                    "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:09:00,ip=10.0.9.1/24,type=veth",
                ),
        )
        .unwrap();
    // The lazy handle needs no discovery.
    let guest = client.node("pve9").lxc(900);
    assert!(guest.is_running().await.unwrap());
    assert_eq!(guest.name().await.unwrap(), "late");
    // The inventory resolves its IPs, and learns the new node for node lookups.
    let inv = pvekit::Inventory::new(client.clone(), pvekit::InventoryOptions::default());
    inv.refresh().await.unwrap();
    let late = inv
        .snapshot()
        .get(pvekit::types::GuestKind::Lxc, 900)
        .cloned()
        .unwrap();
    assert_eq!(*late.ips, ["10.0.9.1".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(
        inv.reverse_lookup_node(Some("pve9.lan"), None, None)
            .as_deref(),
        Some("pve9")
    );
    // The pool sees it too, without adding the client again.
    assert_eq!(pool.get("pve9").unwrap().name(), "pve9");
    assert!(
        client
            .members()
            .iter()
            .any(|m| m.name == "pve9" && m.online)
    );
    assert_clean(&sim);
}
