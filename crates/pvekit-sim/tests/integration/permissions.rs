//! Users, tokens and ACLs: the permission check of each method, the filtered lists, task
//! ownership, and privilege-separated tokens.

use pvekit_sim::{Scenario, SimOptions};
use serde_json::Value;

use crate::util::{Resp, Sim, opts, start};

const YAML: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
guests:
  - { type: lxc, vmid: 101, node: pve1, name: web, status: running }
  - { type: lxc, vmid: 102, node: pve1, name: db, status: stopped }
  - { type: lxc, vmid: 103, node: pve2, name: secret, status: running }
  - { type: qemu, vmid: 200, node: pve2, name: vm, status: running, agent: true }
users:
  - userid: ops@pve
    password: ops-pw
    acl:
      - { path: /, role: PVEAuditor }
      - { path: /vms/101, role: PVEVMUser }
      - { path: /vms/103, role: NoAccess }
      - { path: /vms/200, role: PVEVMAdmin }
      - { path: /nodes/pve2, role: NoAccess }
    tokens:
      - name: ro
        secret: ro-secret
        acl:
          - { path: /, role: PVEAuditor }
      - name: full
        secret: full-secret
        privsep: false
      - name: vmuser
        secret: vmuser-secret
        acl:
          - { path: /vms, role: PVEVMAdmin }
  - userid: nobody@pve
    tokens:
      - name: tk
        secret: t-secret
"#;

async fn lab() -> Sim {
    start(SimOptions {
        scenario_inline: Some(Scenario::from_yaml(YAML).unwrap()),
        ..opts()
    })
    .await
}

impl Sim {
    async fn get_as(&self, token: &str, path: &str) -> Resp {
        self.send(
            self.http
                .get(self.url(path))
                .header("Authorization", format!("PVEAPIToken={token}")),
        )
        .await
    }

    async fn post_as(&self, token: &str, path: &str) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("Authorization", format!("PVEAPIToken={token}")),
        )
        .await
    }
}

fn vmids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["vmid"].as_u64())
        .collect()
}

fn denied(r: &Resp, what: &str) {
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.message(), format!("Permission check failed ({what})\n"));
    assert_eq!(r.json()["data"], Value::Null);
}

const RO: &str = "ops@pve!ro=ro-secret";
const FULL: &str = "ops@pve!full=full-secret";
const VMUSER: &str = "ops@pve!vmuser=vmuser-secret";
const NOBODY: &str = "nobody@pve!tk=t-secret";

#[tokio::test]
async fn lists_show_only_what_the_caller_may_audit() {
    let s = lab().await;
    // The simulator's own token sees everything.
    assert_eq!(
        vmids(&s.data("/cluster/resources?type=vm").await),
        [101, 102, 103, 200]
    );
    // NoAccess on /vms/103 hides it; the auditor role shows the rest.
    let r = s.get_as(RO, "/cluster/resources?type=vm").await;
    assert_eq!(vmids(&r.data()), [101, 102, 200]);
    let r = s.get_as(RO, "/nodes/pve2/lxc").await;
    assert_eq!(vmids(&r.data()), Vec::<u64>::new());
    let r = s.get_as(RO, "/nodes/pve2/qemu").await;
    assert_eq!(vmids(&r.data()), [200]);
    // Nodes stay listed; their figures need Sys.Audit on them.
    let nodes = s.get_as(RO, "/nodes").await.data();
    let pve1 = &nodes[0];
    let pve2 = &nodes[1];
    assert_eq!(
        (pve1["node"].as_str(), pve2["node"].as_str()),
        (Some("pve1"), Some("pve2"))
    );
    assert!(pve1["maxmem"].is_u64(), "{pve1}");
    assert!(
        pve2.get("maxmem").is_none() && pve2["status"] == "online",
        "{pve2}"
    );
    let res = s.get_as(RO, "/cluster/resources?type=node").await.data();
    assert!(
        res[0]["cpu"].is_number() && res[1].get("cpu").is_none(),
        "{res}"
    );
    // A user without any ACL entry sees no guests and no storage, but the nodes.
    assert_eq!(
        vmids(&s.get_as(NOBODY, "/cluster/resources").await.data()),
        Vec::<u64>::new()
    );
    let all = s.get_as(NOBODY, "/cluster/resources").await.data();
    assert!(
        all.as_array().unwrap().iter().all(|i| i["type"] == "node"),
        "{all}"
    );
}

#[tokio::test]
async fn methods_check_their_privileges_before_their_parameters() {
    let s = lab().await;
    denied(&s.get_as(NOBODY, "/cluster/status").await, "/, Sys.Audit");
    assert_eq!(s.get_as(RO, "/cluster/status").await.status, 200);
    denied(
        &s.get_as(RO, "/nodes/pve2/status").await,
        "/nodes/pve2, Sys.Audit",
    );
    denied(
        &s.get_as(RO, "/nodes/pve1/lxc/103/status/current").await,
        "/vms/103, VM.Audit",
    );
    // The check comes first: a bad parameter of a forbidden call is a 403, of an allowed
    // one a 400.
    denied(
        &s.get_as(RO, "/nodes/pve2/lxc/103/status/current?bogus=1")
            .await,
        "/vms/103, VM.Audit",
    );
    assert_eq!(
        s.get_as(RO, "/nodes/pve1/lxc/101/status/current?bogus=1")
            .await
            .status,
        400
    );
    // Auditors read, they do not act; `any` checks list every privilege that would do.
    denied(
        &s.post_as(RO, "/nodes/pve1/lxc/101/status/start").await,
        "/vms/101, VM.PowerMgmt",
    );
    let r = s
        .send(
            s.http
                .put(s.url("/nodes/pve1/lxc/101/config"))
                .header("Authorization", format!("PVEAPIToken={RO}"))
                .form(&[("startup", "down=30")]),
        )
        .await;
    denied(
        &r,
        "/vms/101, VM.Config.Disk|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.Options",
    );
    denied(
        &s.post_as(RO, "/nodes/pve1/termproxy").await,
        "/nodes/pve1, Sys.Console",
    );
    denied(
        &s.get_as(NOBODY, "/nodes/pve2/qemu/200/agent/network-get-interfaces")
            .await,
        "/vms/200, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted",
    );
    // What every logged-in caller may do.
    assert_eq!(s.get_as(NOBODY, "/version").await.status, 200);
    assert_eq!(s.get_as(NOBODY, "/nodes").await.status, 200);
    // Rejected as the request's fault, so strict mode would report them.
    assert!(s.sim.rejections().iter().any(|r| r.status == 403));
}

#[tokio::test]
async fn tokens_with_privilege_separation_get_the_intersection() {
    let s = lab().await;
    // Without privilege separation a token has its user's rights: VM.PowerMgmt on 101.
    let r = s.post_as(FULL, "/nodes/pve1/lxc/101/status/reboot").await;
    assert_eq!(r.status, 200, "{}", r.message());
    // With it, its own ACL (PVEVMAdmin on /vms) meets the user's: 101 has VM.PowerMgmt from
    // both; 102 only from the token; 103 is NoAccess for the user.
    let r = s
        .post_as(VMUSER, "/nodes/pve1/lxc/101/status/shutdown")
        .await;
    assert_eq!(r.status, 200, "{}", r.message());
    denied(
        &s.post_as(VMUSER, "/nodes/pve1/lxc/102/status/start").await,
        "/vms/102, VM.PowerMgmt",
    );
    denied(
        &s.get_as(VMUSER, "/nodes/pve2/lxc/103/status/current").await,
        "/vms/103, VM.Audit",
    );
    assert_eq!(
        vmids(&s.get_as(VMUSER, "/cluster/resources?type=vm").await.data()),
        [101, 102, 200]
    );
}

#[tokio::test]
async fn tasks_are_readable_by_their_owner_or_a_node_auditor() {
    let s = lab().await;
    let r = s.post_as(FULL, "/nodes/pve1/lxc/101/status/reboot").await;
    assert_eq!(r.status, 200, "{}", r.message());
    let upid = r.data().as_str().unwrap().to_string();
    assert!(upid.ends_with(":ops@pve!full:"), "{upid}");
    let status = format!("/nodes/pve1/tasks/{upid}/status");
    let log = format!("/nodes/pve1/tasks/{upid}/log");
    for who in [FULL, RO] {
        assert_eq!(s.get_as(who, &status).await.status, 200);
        assert_eq!(s.get_as(who, &log).await.status, 200);
    }
    // Another user's token, without Sys.Audit on the node.
    denied(&s.get_as(NOBODY, &status).await, "/nodes/pve1, Sys.Audit");
    denied(&s.get_as(NOBODY, &log).await, "/nodes/pve1, Sys.Audit");
    // The user itself, by ticket, reads its token's task.
    let r = s
        .send(
            s.http
                .post(s.url("/access/ticket"))
                .form(&[("username", "ops@pve"), ("password", "ops-pw")]),
        )
        .await;
    assert_eq!(r.status, 200);
    let ticket = r.data()["ticket"].as_str().unwrap().to_string();
    let r = s
        .send(
            s.http
                .get(s.url(&status))
                .header("Cookie", format!("PVEAuthCookie={ticket}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.message());
    // A user without a password cannot log in.
    let r = s
        .send(
            s.http
                .post(s.url("/access/ticket"))
                .form(&[("username", "nobody@pve"), ("password", "")]),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[test]
fn scenario_users_are_checked() {
    let bad = |users: &str| {
        let yaml = format!("nodes:\n  - name: pve1\nusers:\n{users}");
        Scenario::from_yaml(&yaml).unwrap_err()
    };
    assert!(
        bad("  - { userid: ops@pve, acl: [{ path: /, role: Boss }] }")
            .contains("unknown role 'Boss'")
    );
    assert!(bad("  - { userid: ops }").contains("ops"));
    assert!(bad("  - { userid: root@pam }").contains("root@pam"));
    assert!(bad("  - { userid: a@pve }\n  - { userid: a@pve }").contains("duplicate user"));
    assert!(
        bad("  - { userid: a@pve, tokens: [{ name: tk, secret: s, acl: [{ path: vms, role: PVEAuditor }] }] }")
            .contains("must start with /")
    );
    // The secrets stay out of Debug output.
    let s = Scenario::from_yaml(YAML).unwrap();
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("ops-pw") && !debug.contains("ro-secret"),
        "{debug}"
    );
}

#[tokio::test]
async fn some_container_options_are_for_root_at_pam_alone() {
    let s = lab().await;
    let path = "/nodes/pve1/lxc/102/config";
    // The simulator's own token has every privilege, but it is not root@pam.
    let r = s.put(path, &[("dev0", "/dev/null")]).await;
    denied(
        &r,
        "configuring device passthrough is only allowed for root@pam",
    );
    let r = s
        .put(path, &[("hookscript", "local:snippets/hook.sh")])
        .await;
    denied(&r, "changing the hookscript is only allowed for root@pam");
    let r = s.put(path, &[("hostname", "db2")]).await;
    assert_eq!(r.status, 200, "{}", r.message());
    // root@pam itself may.
    let login = s.login().await;
    let r = s
        .send(
            s.http
                .put(s.url(path))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket))
                .header("CSRFPreventionToken", login.csrf)
                .form(&[("dev0", "/dev/null")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.message());
    let config = s.data(path).await;
    assert_eq!(config["dev0"], "/dev/null");
    assert_eq!(config["hostname"], "db2");
}

#[tokio::test]
async fn logins_report_what_the_user_may_do() {
    let s = lab().await;
    let login = |form: Vec<(&'static str, &'static str)>| {
        let req = s.http.post(s.url("/access/ticket")).form(&form);
        async { s.send(req).await }
    };
    let r = login(vec![("username", "ops@pve"), ("password", "ops-pw")]).await;
    assert_eq!(r.status, 200);
    let cap = &r.data()["cap"];
    // PVEAuditor on /, PVEVMUser on /vms/101, PVEVMAdmin on /vms/200: the union over the
    // ACL paths.
    assert_eq!(cap["vms"]["VM.Audit"], 1);
    assert_eq!(cap["vms"]["VM.PowerMgmt"], 1, "from /vms/101: {cap}");
    assert_eq!(cap["vms"]["VM.Allocate"], 1, "from /vms/200: {cap}");
    assert!(
        cap["storage"].get("Datastore.AllocateSpace").is_none(),
        "{cap}"
    );
    assert_eq!(cap["nodes"]["Sys.Audit"], 1);
    assert!(cap["nodes"].get("Sys.Console").is_none(), "{cap}");
    assert_eq!(cap["dc"]["Sys.Audit"], 1);
    assert_eq!(cap["access"], serde_json::json!({}));
    // Sys.Audit on / shows the cluster name.
    assert_eq!(r.data()["clustername"], "lab");
    // The simulator's own user has everything.
    let root = s.login().await;
    let r = s
        .send(
            s.http
                .post(s.url("/access/ticket"))
                .form(&[("username", "root@pam"), ("password", root.ticket.as_str())]),
        )
        .await;
    let cap = &r.data()["cap"];
    assert_eq!(cap["vms"]["VM.Allocate"], 1);
    assert_eq!(cap["nodes"]["Sys.Modify"], 1);
    assert_eq!(cap["access"]["User.Modify"], 1);
    // Verify mode: no ticket; privileges the user lacks are the generic 401.
    let r = login(vec![
        ("username", "ops@pve"),
        ("password", "ops-pw"),
        ("path", "/vms/101"),
        ("privs", "VM.PowerMgmt"),
    ])
    .await;
    assert_eq!(r.status, 200);
    assert!(r.data().get("ticket").is_none() && r.data()["username"] == "ops@pve");
    let r = login(vec![
        ("username", "ops@pve"),
        ("password", "ops-pw"),
        ("path", "/vms/102"),
        ("privs", "VM.PowerMgmt"),
    ])
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.message(), "authentication failure\n");
    // The path is normalized; one with other characters fails.
    let ok = |path: &'static str| {
        login(vec![
            ("username", "ops@pve"),
            ("password", "ops-pw"),
            ("path", path),
            ("privs", "VM.Audit"),
        ])
    };
    assert_eq!(ok("//vms//101/").await.status, 200);
    assert_eq!(ok("/vms/1 01").await.status, 401);
    // A realm given apart is always appended: `ops@pve` plus `pve` is nobody.
    let r = login(vec![
        ("username", "ops@pve"),
        ("realm", "pve"),
        ("password", "ops-pw"),
    ])
    .await;
    assert_eq!(r.status, 401);
    // root@pam's ticket makes tickets for others, but does not pass their verify logins.
    let root_ticket = s.login().await.ticket;
    let as_ops = |extra: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("username", "ops@pve".to_string()),
            ("password", root_ticket.clone()),
        ];
        form.extend(extra);
        let req = s.http.post(s.url("/access/ticket")).form(&form);
        async { s.send(req).await }
    };
    assert_eq!(as_ops(vec![]).await.status, 200);
    let r = as_ops(vec![
        ("path", "/vms/101".into()),
        ("privs", "VM.Audit".into()),
    ])
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn network_zones_replace_the_legacy_sdn_items() {
    let s = lab().await;
    let all = s.data("/cluster/resources").await;
    let zones: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "network")
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        zones,
        [
            "network/pve1/zone/localnetwork",
            "network/pve2/zone/localnetwork"
        ]
    );
    assert_eq!(
        s.data("/cluster/resources?type=sdn").await,
        serde_json::json!([])
    );
    // An auditor has SDN.Audit; a user without any role sees no zones.
    let r = s.get_as(RO, "/cluster/resources").await.data();
    assert!(r.as_array().unwrap().iter().any(|i| i["type"] == "network"));
}

#[tokio::test]
async fn suspending_a_vm_to_disk_needs_disk_and_storage_privileges() {
    let s = lab().await;
    // PVEVMAdmin on /vms/200: VM.PowerMgmt and VM.Config.Disk, but no storage privilege.
    let r = s
        .send(
            s.http
                .post(s.url("/nodes/pve2/qemu/200/status/suspend"))
                .header("Authorization", format!("PVEAPIToken={FULL}"))
                .form(&[("todisk", "1")]),
        )
        .await;
    denied(&r, "/storage/local-lvm, Datastore.AllocateSpace");
    // The auditor token lacks VM.PowerMgmt: the method's own check comes first.
    denied(
        &s.post_as(RO, "/nodes/pve2/qemu/200/status/suspend").await,
        "/vms/200, VM.PowerMgmt",
    );
    // A plain pause needs nothing more.
    let r = s.post_as(FULL, "/nodes/pve2/qemu/200/status/suspend").await;
    assert_eq!(r.status, 200, "{}", r.message());
}
