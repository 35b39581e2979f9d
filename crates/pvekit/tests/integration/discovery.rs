use pvekit::{Client, NodePool};

use crate::util::{self, assert_clean, token_config};

#[tokio::test]
async fn nodes_are_discovered_with_addresses() {
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    let nodes = client.nodes();
    assert_eq!(nodes.len(), 3);
    for n in &nodes {
        assert_eq!(n.id(), format!("node/{}", n.name()));
        assert!(n.ip().is_some());
        assert_eq!(n.cluster(), client.name());
        let status = n.status().await.unwrap();
        assert!(status.memory.total > 0);
        assert!(status.kversion.starts_with("Linux "));
    }
    client.update_cluster_info().await.unwrap();
    assert_eq!(client.num_nodes(), 3);
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
    let nodes = client.nodes();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].online());
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
        .nodes()
        .iter()
        .map(|n| (n.name().to_string(), n.online()))
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
