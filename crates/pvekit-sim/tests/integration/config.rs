//! PUT /nodes/{node}/lxc/{vmid}/config.

use serde_json::{Value, json};

use crate::tasks::start_guests;

const CFG: &str = "/nodes/pve1/lxc/101/config";

#[tokio::test]
async fn put_persists_and_changes_digest() {
    let s = start_guests().await;
    let before = s.data(CFG).await;
    let r = s
        .put(
            CFG,
            &[
                ("startup", "order=2,up=30"),
                ("hostname", "db-new"),
                ("memory", "2048"),
                ("cores", "4"),
                ("onboot", "1"),
                ("description", "line one\nline two"),
                ("tags", "Prod;db,prod web"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"data": null}));
    let after = s.data(CFG).await;
    assert_eq!(after["startup"], "order=2,up=30");
    assert_eq!(after["hostname"], "db-new");
    assert_eq!(after["memory"], 2048);
    assert_eq!(after["cores"], 4);
    assert_eq!(after["onboot"], 1);
    assert_eq!(after["description"], "line one\nline two");
    assert_eq!(after["tags"], "db;prod;web", "unique, lower case, sorted");
    assert_ne!(after["digest"], before["digest"]);
    assert_eq!(after["digest"].as_str().unwrap().len(), 40);
    // The other views follow.
    let cur = s.data("/nodes/pve1/lxc/101/status/current").await;
    assert_eq!(cur["name"], "db-new");
    assert_eq!(cur["maxmem"], 2048u64 << 20);
    assert_eq!(cur["cpus"], 4);
    assert_eq!(cur["tags"], "db;prod;web");
    let res = s.data("/cluster/resources?type=vm").await;
    let item = res
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == 101)
        .unwrap()
        .clone();
    assert_eq!(item["name"], "db-new");
    assert_eq!(item["maxmem"], 2048u64 << 20);

    // The current digest guards the next write; a stale one is refused.
    let digest = after["digest"].as_str().unwrap().to_string();
    let r = s.put(CFG, &[("cores", "2"), ("digest", &digest)]).await;
    assert_eq!(r.status, 200);
    let r = s.put(CFG, &[("cores", "3"), ("digest", &digest)]).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "detected modified configuration - file changed by other user? Try again.\n"
    );
    assert_eq!(s.data(CFG).await["cores"], 2);

    // A JSON body works too (booleans as JSON).
    let r = s
        .send(
            s.http
                .put(s.url(CFG))
                .header("Authorization", s.token_header())
                .json(&json!({"onboot": false, "swap": 256})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let cfg = s.data(CFG).await;
    assert_eq!(cfg["onboot"], 0);
    assert_eq!(cfg["swap"], 256);

    // A running container is changed as well.
    let r = s
        .put("/nodes/pve1/lxc/100/config", &[("startup", "order=1")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.data("/nodes/pve1/lxc/100/config").await["startup"],
        "order=1"
    );
}

#[tokio::test]
async fn put_net_is_canonical() {
    let s = start_guests().await;
    let r = s
        .put(
            CFG,
            &[(
                "net1",
                "ip=10.1.1.5/24,bridge=vmbr1,name=eth1,gw=10.1.1.1,firewall=1",
            )],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let net1 = s.data(CFG).await["net1"].as_str().unwrap().to_string();
    let mac = net1
        .split(',')
        .find_map(|kv| kv.strip_prefix("hwaddr="))
        .expect("a generated MAC");
    assert_eq!(
        net1,
        format!(
            "name=eth1,bridge=vmbr1,firewall=1,gw=10.1.1.1,hwaddr={mac},ip=10.1.1.5/24,type=veth"
        )
    );
    assert!(mac.starts_with("BC:24:11:"), "{mac}");
    assert_eq!(mac, mac.to_uppercase());
    // A given MAC is kept; `type=veth` is forced first.
    let r = s
        .put(
            CFG,
            &[(
                "net0",
                "name=eth0,hwaddr=BC:24:11:AA:BB:CC,ip6=auto,bridge=vmbr0",
            )],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.data(CFG).await["net0"],
        "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip6=auto,type=veth"
    );
    // Validation comes from the parameter table.
    let r = s.put(CFG, &[("net2", "bridge=vmbr0")]).await;
    assert_eq!(r.status, 400);
    assert!(r.error("net2").contains("name"), "{:?}", r.json());
}

#[tokio::test]
async fn put_delete() {
    let s = start_guests().await;
    let r = s
        .put(CFG, &[("startup", "order=3"), ("description", "x")])
        .await;
    assert_eq!(r.status, 200);
    let r = s.put(CFG, &[("delete", "startup,description")]).await;
    assert_eq!(r.status, 200);
    let cfg = s.data(CFG).await;
    assert!(cfg.get("startup").is_none(), "{cfg}");
    assert!(cfg.get("description").is_none(), "{cfg}");
    // Deleting what is not set is only a warning.
    let r = s.put(CFG, &[("delete", "startup")]).await;
    assert_eq!(r.status, 200);

    let r = s.put(CFG, &[("delete", "memory")]).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.message(), "unable to delete required option 'memory'\n");
    let r = s.put(CFG, &[("delete", "unprivileged")]).await;
    assert_eq!(
        r.message(),
        "unable to delete read-only option: 'unprivileged'\n"
    );
    let r = s.put(CFG, &[("unprivileged", "0")]).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "unable to modify read-only option: 'unprivileged'\n"
    );
    let r = s.put(CFG, &[("delete", "bogus")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error("delete"), "unknown option 'bogus'");
    let r = s.put(CFG, &[("delete", "cores"), ("cores", "2")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error("delete"),
        "you can't use '-cores' and -delete cores' at the same time"
    );
    // A refused update changes nothing.
    let r = s
        .put(CFG, &[("delete", "memory"), ("hostname", "changed")])
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(s.data(CFG).await["hostname"], "db");
}

#[tokio::test]
async fn put_refusals() {
    let s = start_guests().await;
    let r = s.put(CFG, &[]).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.message(), "no options specified\n");
    let digest = s.data(CFG).await["digest"].as_str().unwrap().to_string();
    let r = s.put(CFG, &[("digest", &digest)]).await;
    assert_eq!(r.message(), "no options specified\n");
    let r = s.put("/nodes/pve1/lxc/103/config", &[("cores", "2")]).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.message(), "CT is locked (backup)\n");
    let r = s.put("/nodes/pve2/lxc/101/config", &[("cores", "2")]).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "Configuration file 'nodes/pve2/lxc/101.conf' does not exist\n"
    );
    let r = s.put("/nodes/pve1/lxc/101/config", &[("cores", "0")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error("cores"), "value must have a minimum value of 1");
    let cfg: Value = s.data(CFG).await;
    assert_eq!(cfg["digest"], digest.as_str());
}

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let scenario = pvekit_sim::Scenario::from_yaml(
        "nodes:\n  - name: pve1\nusers:\n  - userid: ops@pve\n    password: user-pw-7\n    tokens:\n      - name: ci\n        secret: token-secret-8\n",
    )
    .expect("scenario");
    let opts = pvekit_sim::SimOptions {
        password: Some("opt-pw-1".into()),
        secret: Some("opt-secret-2".into()),
        scenario_inline: Some(scenario),
        ..crate::util::opts()
    };
    let text = format!("{opts:?} {opts:#?}");
    let sim = pvekit_sim::Simulator::start(opts).await.expect("starts");
    let text = format!("{text} {:?} {:#?} {sim:?}", sim.info(), sim.info());
    for secret in [
        "opt-pw-1",
        "opt-secret-2",
        "user-pw-7",
        "token-secret-8",
        sim.info().password.as_str(),
        sim.info().secret.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("<redacted>"), "{text}");
    assert!(text.contains("root@pam!pvekit") && text.contains("127.0.0.1"));
}
