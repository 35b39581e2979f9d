//! The control handle: nodes and guests added, removed and taken offline while the
//! simulator runs, seen over HTTPS by the API and by terminal sessions.

use pvekit_sim::{ControlError, Scenario, ScenarioGuest, ScenarioNode, SimOptions};
use serde_json::Value;

use crate::termutil::{Who, session, term_opts};
use crate::util::{opts, start};

const NET: &str = "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:03:00,ip=10.0.9.1/24,type=veth";

fn item<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|i| i["id"] == id)
}

#[tokio::test]
async fn nodes_and_guests_added_at_run_time() {
    let s = start(term_opts()).await;
    let ctl = s.sim.control();
    let before = s.data("/cluster/status").await;
    let version = before[0]["version"].as_u64().expect("version");

    ctl.add_node(ScenarioNode::new("pve4")).expect("pve4 joins");
    let status = s.data("/cluster/status").await;
    assert_eq!(status[0]["nodes"], 4, "{status}");
    assert_eq!(status[0]["version"], version + 1, "{status}");
    let pve4 = item(&status, "node/pve4").expect("pve4 in cluster/status");
    assert_eq!(pve4["nodeid"], 4);
    assert_eq!(pve4["online"], 1);
    assert_eq!(pve4["local"], 0);
    assert_eq!(pve4["ip"], "10.10.10.4");
    let nodes = s.data("/nodes").await;
    let n = item(&nodes, "node/pve4").expect("pve4 in /nodes");
    assert_eq!(n["status"], "online");
    assert!(n["maxcpu"].as_u64().is_some(), "{n}");
    assert!(s.data("/nodes/pve4/status").await["uptime"].is_u64());
    let res = s.data("/cluster/resources?type=node").await;
    assert_eq!(item(&res, "node/pve4").expect("pve4")["status"], "online");

    ctl.add_guest(
        ScenarioGuest::lxc(300, "pve4")
            .with_name("late")
            .running()
            .with_config("cores", 2)
            .with_net(0, NET),
    )
    .expect("CT 300 appears");
    ctl.add_guest(ScenarioGuest::qemu(301, "pve4").with_name("vm-late"))
        .expect("VM 301 appears");
    let vms = s.data("/cluster/resources?type=vm").await;
    let ct = item(&vms, "lxc/300").expect("lxc/300 in cluster/resources");
    assert_eq!(ct["node"], "pve4");
    assert_eq!(ct["status"], "running");
    assert_eq!(ct["name"], "late");
    assert_eq!(ct["maxcpu"], 2);
    let vm = item(&vms, "qemu/301").expect("qemu/301 in cluster/resources");
    assert_eq!(vm["status"], "stopped");
    assert_eq!(vm["name"], "vm-late");
    let lxc = s.data("/nodes/pve4/lxc").await;
    assert_eq!(lxc.as_array().map(Vec::len), Some(1), "{lxc}");
    assert_eq!(lxc[0]["vmid"], 300);
    assert_eq!(s.data("/nodes/pve4/qemu").await[0]["vmid"], 301);
    let config = s.data("/nodes/pve4/lxc/300/config").await;
    assert_eq!(config["hostname"], "late");
    assert_eq!(config["net0"], NET);
    assert_eq!(config["ostype"], "debian", "a fresh container's defaults");
    let ifaces = s.data("/nodes/pve4/lxc/300/interfaces").await;
    assert!(ifaces.to_string().contains("10.0.9.1/24"), "{ifaces}");
    assert_eq!(
        s.data("/nodes/pve4/qemu/301/config").await["name"],
        "vm-late"
    );

    // Power actions on the new guests.
    let upid = s.action("/nodes/pve4/lxc/300/status/stop", &[]).await;
    assert!(upid.starts_with("UPID:pve4:"), "{upid}");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    assert_eq!(
        s.data("/nodes/pve4/lxc/300/status/current").await["status"],
        "stopped"
    );
    let upid = s.action("/nodes/pve4/qemu/301/status/start", &[]).await;
    s.finish(&upid).await;
    assert_eq!(
        s.data("/nodes/pve4/qemu/301/status/current").await["status"],
        "running"
    );

    // Offline and back.
    ctl.set_node_online("pve4", false)
        .expect("pve4 goes offline");
    assert_eq!(s.get("/nodes/pve4/status").await.status, 595);
    assert_eq!(
        s.get("/nodes/pve4/qemu/301/status/current").await.status,
        595
    );
    let vms = s.data("/cluster/resources?type=vm").await;
    assert_eq!(item(&vms, "qemu/301").expect("301")["status"], "unknown");
    let status = s.data("/cluster/status").await;
    assert_eq!(item(&status, "node/pve4").expect("pve4")["online"], 0);
    ctl.set_node_online("pve4", true).expect("pve4 comes back");
    assert_eq!(s.get("/nodes/pve4/status").await.status, 200);
    assert_eq!(
        s.data("/nodes/pve4/qemu/301/status/current").await["status"],
        "running",
        "guests keep their state"
    );

    // Removed.
    ctl.remove_guest(300).expect("CT 300 goes");
    let r = s.get("/nodes/pve4/lxc/300/status/current").await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "Configuration file 'nodes/pve4/lxc/300.conf' does not exist\n"
    );
    assert!(item(&s.data("/cluster/resources").await, "lxc/300").is_none());
    assert_eq!(s.data("/nodes/pve4/lxc").await, serde_json::json!([]));
    // The VMID is free again.
    ctl.add_guest(ScenarioGuest::lxc(300, "pve2"))
        .expect("VMID 300 again");
    assert_eq!(
        s.data("/nodes/pve2/lxc/300/status/current").await["status"],
        "stopped"
    );
}

#[tokio::test]
async fn control_errors() {
    let s = start(term_opts()).await;
    let ctl = s.sim.control();
    assert_eq!(
        ctl.add_node(ScenarioNode::new("pve1")),
        Err(ControlError::NodeExists("pve1".into()))
    );
    assert!(matches!(
        ctl.add_node(ScenarioNode::new("bad_name")),
        Err(ControlError::Invalid(_))
    ));
    assert_eq!(
        ctl.add_guest(ScenarioGuest::lxc(100, "pve1")),
        Err(ControlError::GuestExists(100))
    );
    assert_eq!(
        ctl.add_guest(ScenarioGuest::lxc(500, "nope")),
        Err(ControlError::UnknownNode("nope".into()))
    );
    assert_eq!(
        ctl.add_guest(ScenarioGuest::lxc(5, "pve1")),
        Err(ControlError::Invalid(
            "VMID 5 is out of range 100..999999999".into()
        ))
    );
    assert_eq!(
        ctl.set_node_online("pve1", false),
        Err(ControlError::LocalNode("pve1".into()))
    );
    assert_eq!(
        ctl.set_node_online("nope", true),
        Err(ControlError::UnknownNode("nope".into()))
    );
    assert_eq!(ctl.remove_guest(999), Err(ControlError::UnknownGuest(999)));
    // Nothing changed.
    assert_eq!(s.data("/nodes").await.as_array().map(Vec::len), Some(3));

    let standalone = Scenario::from_yaml("nodes:\n  - name: solo\n").expect("scenario");
    let s = start(SimOptions {
        scenario_inline: Some(standalone),
        ..opts()
    })
    .await;
    assert_eq!(
        s.sim.control().add_node(ScenarioNode::new("pve2")),
        Err(ControlError::Standalone)
    );
}

#[tokio::test]
async fn terminals_on_nodes_and_containers_added_at_run_time() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let root = Who::Root(&login);
    let ctl = s.sim.control();

    // pve1's roots are prepared by this first session; a container added to pve1 afterwards
    // gets its root at its first use.
    let (mut old, _) = session(&s, &root, "/nodes/pve1").await;
    old.until("# ").await;
    ctl.add_guest(ScenarioGuest::lxc(105, "pve1").with_name("late1").running())
        .expect("CT 105");
    ctl.add_node(ScenarioNode::new("pve4")).expect("pve4");
    ctl.add_guest(
        ScenarioGuest::lxc(300, "pve4")
            .with_name("late")
            .running()
            .with_config("cmode", "shell")
            .with_net(0, NET),
    )
    .expect("CT 300");

    let (out, code) = old
        .framed("pct list | grep -c late1; pct exec 105 -- cat /etc/hostname")
        .await;
    assert_eq!((out.as_str(), code), ("1\nlate1\n", 0));

    // The shell of the new node, with its new container.
    let (mut t, _) = session(&s, &root, "/nodes/pve4").await;
    t.until("root@pve4:~# ").await;
    let (out, code) = t
        .framed(
            "uname -n; cat /etc/hostname; pct list | tail -n +2 | tr -s ' '; \
             pct exec 300 -- cat /etc/hostname; ls /var/lib/lxc; \
             journalctl -n 1 --no-pager | grep -c ' pve4 '",
        )
        .await;
    assert_eq!(code, 0);
    assert_eq!(out, "pve4\npve4\n300 running late \nlate\n300\n1\n");

    // The console of the new container, ended when the container is removed.
    let (mut c, _) = session(&s, &Who::Token, "/nodes/pve4/lxc/300").await;
    c.until("root@late:~# ").await;
    c.input("cat /etc/os-release\r").await;
    assert!(c.until("root@late:~# ").await.contains("ID=debian"));
    ctl.remove_guest(300).expect("CT 300 goes");
    assert!(c.wait_end(10).await, "the console ends with its container");

    // Taking the node offline ends its shells.
    let (mut t, _) = session(&s, &root, "/nodes/pve4").await;
    t.until("# ").await;
    ctl.set_node_online("pve4", false).expect("offline");
    assert!(t.wait_end(10).await, "the shell ends with its node");
    let r = s.post("/nodes/pve4/termproxy", &[]).await;
    assert_eq!(r.status, 595);
}
