//! Restricted users and tokens: discovery without Sys.Audit on `/`, filtered views, and
//! permission errors that say which privilege is missing where.

use pvekit::types::ResourceType;
use pvekit::{Client, Config, Error, Inventory, InventoryOptions};
use pvekit_sim::{RunningSim, Scenario, SimOptions};

use crate::util::{self, assert_requests_fit_schema};

const CLUSTER: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
guests:
  - { type: lxc, vmid: 101, node: pve1, name: web, status: running }
  - { type: lxc, vmid: 102, node: pve1, name: db, status: stopped }
  - { type: lxc, vmid: 103, node: pve2, name: hidden, status: running }
users:
  - userid: ops@pve
    password: ops-password
    acl:
      - { path: /, role: PVEAuditor }
      - { path: /vms/101, role: PVEVMUser }
      - { path: /vms/103, role: NoAccess }
    tokens:
      - name: auditor
        secret: auditor-secret
        acl:
          - { path: /, role: PVEAuditor }
      - name: vms
        secret: vms-secret
        acl:
          - { path: /vms, role: PVEVMUser }
"#;

async fn lab() -> RunningSim {
    util::sim_with(SimOptions {
        scenario_inline: Some(Scenario::from_yaml(CLUSTER).unwrap()),
        task_duration: std::time::Duration::from_millis(100),
        ..Default::default()
    })
    .await
}

fn token(sim: &RunningSim, name: &str, secret: &str) -> Config {
    Config {
        token_id: Some(format!("ops@pve!{name}")),
        secret: Some(secret.to_string().into()),
        ..util::token_config(sim)
    }
}

fn vmids(resources: &[pvekit::types::ClusterResource]) -> Vec<u64> {
    resources.iter().filter_map(|r| r.vmid).collect()
}

#[tokio::test]
async fn a_token_without_sys_audit_on_root_still_discovers_the_nodes() {
    let sim = lab().await;
    // PVEVMUser on /vms only: /cluster/status answers 403, /nodes is open to everyone.
    let c = Client::connect(&token(&sim, "vms", "vms-secret"))
        .await
        .unwrap();
    let names: Vec<String> = c.nodes().iter().map(|n| n.name().to_string()).collect();
    assert_eq!(names, ["pve1", "pve2"]);
    assert!(c.members().iter().all(|n| n.online));
    // It sees the guests its user may audit, not 103 (NoAccess for the user).
    let guests = c.cluster_resources(Some(ResourceType::Vm)).await.unwrap();
    assert_eq!(vmids(&guests), [101, 102]);
    // And may act on 101 (its user has PVEVMUser there) but not on 102.
    let pve1 = c.nodes().into_iter().find(|n| n.name() == "pve1").unwrap();
    pve1.lxc(101).reboot().await.unwrap();
    match pve1.lxc(102).start().await {
        Err(e @ Error::Permission { .. }) => {
            let Error::Permission { message, grant } = &e else {
                unreachable!()
            };
            assert_eq!(message, "Permission check failed (/vms/102, VM.PowerMgmt)");
            assert!(
                grant
                    .as_deref()
                    .is_some_and(|g| g.contains("needs VM.PowerMgmt on /vms/102")),
                "{grant:?}"
            );
            assert_eq!(e.hint(), grant.clone());
            assert!(
                grant.as_deref().is_some_and(|g| g.contains("its user")),
                "{grant:?}"
            );
        }
        other => panic!("expected a permission error, got {other:?}"),
    }
    // The only rejections: the discovery probe and the refused start, both 403.
    let rejected: Vec<(u16, String)> = sim
        .rejections()
        .into_iter()
        .map(|r| (r.status, r.path))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected.iter().all(|(s, _)| *s == 403), "{rejected:?}");
    assert!(rejected[0].1.ends_with("/cluster/status"), "{rejected:?}");
    assert_requests_fit_schema(&sim);
}

#[tokio::test]
async fn an_auditor_reads_everything_it_may_and_cannot_act() {
    let sim = lab().await;
    let c = Client::connect(&token(&sim, "auditor", "auditor-secret"))
        .await
        .unwrap();
    assert_eq!(c.name(), "lab");
    let inventory = Inventory::new(c.clone(), InventoryOptions::default());
    inventory.refresh().await.unwrap();
    let seen: Vec<u64> = inventory
        .snapshot()
        .guests()
        .iter()
        .map(|g| g.vmid)
        .collect();
    assert_eq!(seen, [101, 102]);
    let web = inventory
        .reverse_lookup_resource(None, Some("web.lab.example"), None)
        .unwrap();
    assert_eq!(web.vmid, 101);
    let err = c
        .nodes()
        .into_iter()
        .find(|n| n.name() == "pve1")
        .unwrap()
        .lxc(101)
        .set_shutdown_timeout(std::time::Duration::from_secs(30))
        .await
        .unwrap_err();
    let text = err.hint().unwrap_or_default();
    assert!(
        text.contains("needs one of VM.Config.Disk, VM.Config.CPU"),
        "{text}"
    );
    assert!(matches!(err, Error::Permission { .. }));
    assert_requests_fit_schema(&sim);
}

#[tokio::test]
async fn a_restricted_user_by_password_gets_no_shell_and_a_clear_error() {
    let sim = lab().await;
    let c = Client::connect(&Config {
        username: Some("ops@pve".into()),
        password: Some("ops-password".to_string().into()),
        ..util::token_config(&sim)
    })
    .await
    .unwrap();
    let pve1 = c.nodes().into_iter().find(|n| n.name() == "pve1").unwrap();
    // Terminals need root@pam: pvekit refuses before asking the server, and says why.
    let err = pve1.command("true").await.unwrap_err();
    assert!(
        matches!(&err, Error::NotRootPam { user } if user == "ops@pve"),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("root@pam"));
    // A node's status needs Sys.Audit, which the auditor role gives on every node.
    pve1.status().await.unwrap();
    assert_requests_fit_schema(&sim);
}
