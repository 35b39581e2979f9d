//! Response shapes and field types.

use std::time::Duration;

use serde_json::Value;

use crate::util::{opts, start, start_default};

#[tokio::test]
async fn cluster_status_clustered() {
    let s = start_default().await;
    let d = s.data("/cluster/status").await;
    let items = d.as_array().unwrap();
    assert_eq!(items[0]["type"], "cluster");
    assert_eq!(items[0]["nodes"], 3);
    assert_eq!(items[0]["quorate"], 1);
    assert_eq!(items.len(), 4);
    for n in &items[1..] {
        assert_eq!(n["type"], "node");
        assert!(n["online"] == 0 || n["online"] == 1);
        assert!(n["nodeid"].as_u64().unwrap() >= 1);
    }
    assert_eq!(items.iter().filter(|n| n["local"] == 1).count(), 1);
}

#[tokio::test]
async fn offline_node_with_four() {
    let s = start(pvekit_sim::SimOptions { nodes: 4, ..opts() }).await;
    let d = s.data("/nodes").await;
    let off: Vec<&Value> = d
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["status"] == "offline")
        .collect();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0]["node"], "pve4");
    let r = s.get("/nodes/pve4/status").await;
    assert_eq!(r.status, 595);
}

#[tokio::test]
async fn resources_sorted_as_strings_and_filtered() {
    let s = start(pvekit_sim::SimOptions {
        containers: 600,
        vms: 400,
        ..opts()
    })
    .await;
    let d = s.data("/cluster/resources?type=vm").await;
    let items = d.as_array().unwrap();
    assert_eq!(items.len(), 1000);
    let ids: Vec<String> = items.iter().map(|i| i["vmid"].to_string()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert!(ids.iter().any(|i| i.len() == 4), "VMIDs beyond 999 exist");
    assert!(
        items
            .iter()
            .all(|i| i["type"] == "lxc" || i["type"] == "qemu")
    );
    for i in items {
        assert_eq!(
            i["id"],
            format!("{}/{}", i["type"].as_str().unwrap(), i["vmid"])
        );
    }
    let nodes = s.data("/cluster/resources?type=node").await;
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["type"] == "node")
    );
    let all = s.data("/cluster/resources").await;
    assert!(all.as_array().unwrap().len() > 1000);
}

#[tokio::test]
async fn node_status_types() {
    let s = start_default().await;
    let d = s.data("/nodes/pve1/status").await;
    let load = d["loadavg"].as_array().unwrap();
    assert_eq!(load.len(), 3);
    assert!(load.iter().all(Value::is_string));
    assert!(d["cpuinfo"]["mhz"].is_string());
    assert_eq!(d["cpuinfo"]["hvm"], "1");
    assert!(
        d["kversion"]
            .as_str()
            .unwrap()
            .starts_with("Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC")
    );
    assert!(
        d["pveversion"]
            .as_str()
            .unwrap()
            .starts_with("pve-manager/9.1.2/")
    );
    assert!(d["memory"]["total"].as_u64().unwrap() > 0);
    assert!(d["rootfs"]["avail"].is_u64());
}

#[tokio::test]
async fn lxc_shapes() {
    let s = start(pvekit_sim::SimOptions {
        containers: 60,
        vms: 5,
        ..opts()
    })
    .await;
    let mut saw_running = false;
    let mut saw_stopped = false;
    let mut saw_docker = false;
    for node in ["pve1", "pve2", "pve3"] {
        let list = s.data(&format!("/nodes/{node}/lxc")).await;
        for ct in list.as_array().unwrap() {
            let vmid = ct["vmid"].as_u64().unwrap();
            assert_eq!(ct["type"], "lxc");
            let cur = s
                .data(&format!("/nodes/{node}/lxc/{vmid}/status/current"))
                .await;
            assert!(cur["ha"].is_object());
            assert!(cur.get("template").is_none() || cur["template"] == 1);
            let ifaces = s
                .data(&format!("/nodes/{node}/lxc/{vmid}/interfaces"))
                .await;
            let cfg = s.data(&format!("/nodes/{node}/lxc/{vmid}/config")).await;
            assert_eq!(cfg["digest"].as_str().unwrap().len(), 40);
            assert!(cfg["memory"].is_u64());
            assert!(cfg["unprivileged"] == 0 || cfg["unprivileged"] == 1);
            if let Some(limit) = cfg.get("cpulimit") {
                assert!(limit.is_string());
            }
            for (k, v) in cfg.as_object().unwrap() {
                if k.starts_with("net") {
                    let v = v.as_str().unwrap();
                    assert!(v.starts_with("name=eth"), "{v}");
                    assert!(v.contains("type=veth"));
                    assert!(v.contains("hwaddr=BC:24:11:"));
                }
            }
            if cur["status"] == "running" {
                saw_running = true;
                assert!(cur["pid"].is_u64());
                assert!(cur["pressurecpusome"].is_string());
                let list = ifaces.as_array().expect("running CT has interfaces");
                assert_eq!(list[0]["name"], "lo");
                for i in list {
                    assert_eq!(i["hwaddr"], i["hardware-address"]);
                    let mac = i["hwaddr"].as_str().unwrap();
                    assert_eq!(mac, mac.to_lowercase());
                    for a in i["ip-addresses"].as_array().unwrap() {
                        let t = a["ip-address-type"].as_str().unwrap();
                        assert!(t == "inet" || t == "inet6");
                        assert!(a["prefix"].is_u64());
                    }
                    if i["name"] == "docker0" {
                        saw_docker = true;
                    }
                }
                let eth0 = list.iter().find(|i| i["name"] == "eth0").unwrap();
                assert!(
                    eth0["inet6"].as_str().unwrap().starts_with("fe80::"),
                    "{eth0}"
                );
            } else {
                saw_stopped = true;
                assert!(ifaces.is_null());
                assert!(cur.get("pid").is_none());
                assert!(cur.get("pressurecpusome").is_none());
                assert_eq!(cur["cpu"], 0);
                assert_eq!(cur["netin"], 0);
                assert_eq!(cur["uptime"], 0);
            }
        }
    }
    assert!(saw_running && saw_stopped && saw_docker);
}

#[tokio::test]
async fn determinism() {
    let a = start_default().await;
    let b = start_default().await;
    let strip = |v: Value| -> Vec<(Value, Value, Value, Value)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["vmid"].clone(),
                    g["node"].clone(),
                    g["name"].clone(),
                    g["status"].clone(),
                )
            })
            .collect()
    };
    let ra = strip(a.data("/cluster/resources?type=vm").await);
    let rb = strip(b.data("/cluster/resources?type=vm").await);
    assert_eq!(ra, rb);
    let ca = a.data("/nodes/pve1/lxc").await;
    for ct in ca.as_array().unwrap() {
        let path = format!("/nodes/pve1/lxc/{}/config", ct["vmid"]);
        assert_eq!(a.data(&path).await, b.data(&path).await);
    }
    let c = start(pvekit_sim::SimOptions { seed: 2, ..opts() }).await;
    assert_ne!(ra, strip(c.data("/cluster/resources?type=vm").await));
}

#[tokio::test]
async fn counters_move_with_the_clock() {
    let s = start_default().await;
    let before = s.data("/cluster/resources?type=vm").await;
    let running = before
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["status"] == "running")
        .expect("a running guest")
        .clone();
    let id = running["id"].clone();
    s.sim.advance_clock(Duration::from_secs(600));
    let after = s.data("/cluster/resources?type=vm").await;
    let now = after
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == id)
        .unwrap()
        .clone();
    assert!(now["uptime"].as_u64().unwrap() >= running["uptime"].as_u64().unwrap() + 600);
    assert!(now["netin"].as_u64().unwrap() > running["netin"].as_u64().unwrap());
    assert!(now["diskwrite"].as_u64().unwrap() > running["diskwrite"].as_u64().unwrap());
    let n1 = s.data("/nodes/pve1/status").await;
    s.sim.advance_clock(Duration::from_secs(60));
    let n2 = s.data("/nodes/pve1/status").await;
    assert!(n2["uptime"].as_u64().unwrap() >= n1["uptime"].as_u64().unwrap() + 60);
}

#[tokio::test]
async fn many_concurrent_requests() {
    let s = start(pvekit_sim::SimOptions {
        containers: 3000,
        vms: 500,
        ..opts()
    })
    .await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let http = s.http.clone();
        let url = if i % 2 == 0 {
            s.url("/cluster/resources")
        } else {
            s.url("/nodes/pve2/lxc")
        };
        let auth = s.token_header();
        tasks.push(tokio::spawn(async move {
            http.get(url)
                .header("Authorization", auth)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
}
