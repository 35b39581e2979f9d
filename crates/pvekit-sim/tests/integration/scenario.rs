//! Scenario files and inline scenarios.

use pvekit_core::types::GuestKind;
use pvekit_sim::{Scenario, SimError, SimOptions, Simulator};

use crate::util::{opts, start};

const YAML: &str = r#"
cluster: lab
nodes:
  - name: alpha
    ip: 192.0.2.10
  - name: beta
    online: false
guests:
  - type: lxc
    vmid: 1000
    node: alpha
    name: web
    status: running
    tags: prod;web
    config:
      cores: 2
      onboot: true
      net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.5/24,ip6=auto,type=veth
      net1: name=eth1,bridge=vmbr1,hwaddr=BC:24:11:00:00:02,ip=dhcp,type=veth
  - type: lxc
    vmid: 101
    node: alpha
    template: true
  - type: qemu
    vmid: 200
    node: alpha
    name: vm1
    status: running
    agent: true
    lock: backup
"#;

#[tokio::test]
async fn scenario_file() {
    let dir = std::env::temp_dir().join(format!("pvekit-sim-scn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lab.yaml");
    std::fs::write(&file, YAML).unwrap();
    let s = start(SimOptions {
        scenario: Some(file),
        ..opts()
    })
    .await;
    let status = s.data("/cluster/status").await;
    assert_eq!(status[0]["name"], "lab");
    assert_eq!(status[2]["online"], 0);
    let res = s.data("/cluster/resources?type=vm").await;
    let ids: Vec<u64> = res
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["vmid"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1000, 101, 200]);
    let cfg = s.data("/nodes/alpha/lxc/1000/config").await;
    assert_eq!(cfg["cores"], 2);
    assert_eq!(cfg["onboot"], 1);
    assert_eq!(cfg["hostname"], "web");
    assert_eq!(cfg["tags"], "prod;web");
    let ifaces = s.data("/nodes/alpha/lxc/1000/interfaces").await;
    let eth0 = ifaces
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .unwrap()
        .clone();
    assert_eq!(eth0["inet"], "10.0.0.5/24");
    assert_eq!(eth0["hwaddr"], "bc:24:11:00:00:01");
    let eth1 = ifaces
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth1")
        .unwrap()
        .clone();
    assert!(eth1["inet"].is_string(), "DHCP address generated: {eth1}");
    let tpl = s.data("/nodes/alpha/lxc/101/status/current").await;
    assert_eq!(tpl["template"], 1);
    assert_eq!(tpl["status"], "stopped");
    let vm = s.data("/nodes/alpha/qemu/200/status/current").await;
    assert_eq!(vm["agent"], 1);
    assert_eq!(vm["lock"], "backup");
    assert_eq!(vm["qmpstatus"], "running");
    let r = s.get("/nodes/beta/lxc").await;
    assert_eq!(r.status, 595);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn standalone_inline_scenario() {
    let scenario = Scenario::from_yaml("nodes:\n  - name: solo\n").unwrap();
    let s = start(SimOptions {
        scenario_inline: Some(scenario),
        ..opts()
    })
    .await;
    let status = s.data("/cluster/status").await;
    let items = status.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "node");
    assert_eq!(items[0]["nodeid"], 0);
    assert_eq!(items[0]["local"], 1);
    let login = s.login().await;
    assert!(!login.ticket.is_empty());
    let r = s
        .send(s.http.post(s.url("/access/ticket")).form(&[
            ("username", "root@pam"),
            ("password", crate::util::PASSWORD),
        ]))
        .await;
    assert!(r.data().get("clustername").is_none());
}

#[tokio::test]
async fn scenario_errors() {
    let err = Scenario::from_yaml("nodes:\n  - name: a\n    bogus: 1\n").unwrap_err();
    assert!(err.contains("bogus"), "{err}");
    let err = Scenario::from_yaml("nodes:\n  - name: a\n  - name: b\n").unwrap_err();
    assert!(err.contains("standalone"), "{err}");
    let err = Scenario::from_yaml(
        "cluster: c\nnodes:\n  - name: a\nguests:\n  - type: lxc\n    vmid: 100\n    node: zz\n",
    )
    .unwrap_err();
    assert!(err.contains("unknown node"), "{err}");
    // `type` is core's GuestKind, written lower-case.
    let kinds: Vec<GuestKind> = Scenario::from_yaml(YAML)
        .unwrap()
        .guests
        .iter()
        .map(|g| g.kind)
        .collect();
    assert_eq!(kinds, [GuestKind::Lxc, GuestKind::Lxc, GuestKind::Qemu]);
    for bad in ["LXC", "vm"] {
        let err = Scenario::from_yaml(&format!(
            "cluster: c\nnodes:\n  - name: a\nguests:\n  - type: {bad}\n    vmid: 100\n    node: a\n"
        ))
        .unwrap_err();
        assert!(err.contains(bad), "{err}");
    }

    let missing = std::env::temp_dir().join("pvekit-sim-does-not-exist.yaml");
    let r = Simulator::start(SimOptions {
        scenario: Some(missing),
        ..opts()
    })
    .await;
    assert!(matches!(r, Err(SimError::Scenario { .. })));
    let dir = std::env::temp_dir().join(format!("pvekit-sim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "cluster: x\nnodes: [ {name: a, extra: 1} ]\n").unwrap();
    match Simulator::start(SimOptions {
        scenario: Some(bad),
        ..opts()
    })
    .await
    {
        Err(SimError::Scenario { message, .. }) => assert!(message.contains("extra"), "{message}"),
        other => panic!("expected a scenario error, got {:?}", other.map(|_| ())),
    }
    std::fs::remove_dir_all(&dir).ok();
}
