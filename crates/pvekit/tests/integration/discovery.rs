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
