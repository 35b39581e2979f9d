//! Conformance with the official schema file: the hand-written parameter table must match
//! it, and the implemented GET endpoints must answer in the documented shapes.

use pvekit_sim::conformance::SchemaSet;
use serde_json::Value;

use crate::util::{opts, start};

fn schema() -> SchemaSet {
    let path = SchemaSet::default_path();
    // A missing file is a failure, not a skip.
    SchemaSet::load(&path).unwrap_or_else(|e| panic!("schema file required: {e}"))
}

#[test]
fn parameter_table_matches_schema() {
    let diffs = schema().compare_rules(&pvekit_sim::endpoint_rules());
    assert!(
        diffs.is_empty(),
        "table differs from schema:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn request_checker() {
    let s = schema();
    assert!(
        s.check_request("GET", "/cluster/resources", &[("type".into(), "vm".into())])
            .is_ok()
    );
    assert!(
        s.check_request("GET", "/api2/json/nodes/pve1/lxc/101/status/current", &[])
            .is_ok()
    );
    assert!(
        s.check_request("GET", "/nodes/{node}/lxc/{vmid}/status/current", &[])
            .is_ok()
    );
    let e = s
        .check_request(
            "POST",
            "/nodes/pve1/lxc/101/status/stop",
            &[("skiplock".into(), "true".into())],
        )
        .unwrap_err();
    assert!(e[0].contains("boolean"), "{e:?}");
    assert!(s.check_request("GET", "/nodes/pve1/nothing", &[]).is_err());
}

#[tokio::test]
async fn responses_match_schema_and_requests_pass() {
    let schema = schema();
    let s = start(pvekit_sim::SimOptions {
        containers: 40,
        vms: 10,
        nodes: 4,
        ..opts()
    })
    .await;
    let mut paths = vec![
        "/version".to_string(),
        "/cluster/status".to_string(),
        "/cluster/resources".to_string(),
        "/cluster/resources?type=vm".to_string(),
        "/nodes".to_string(),
    ];
    for node in ["pve1", "pve2", "pve3"] {
        paths.push(format!("/nodes/{node}/status"));
        paths.push(format!("/nodes/{node}/lxc"));
        paths.push(format!("/nodes/{node}/qemu"));
        let cts = s.data(&format!("/nodes/{node}/lxc")).await;
        for ct in cts.as_array().unwrap() {
            let vmid = &ct["vmid"];
            paths.push(format!("/nodes/{node}/lxc/{vmid}/status/current"));
            paths.push(format!("/nodes/{node}/lxc/{vmid}/config"));
            paths.push(format!("/nodes/{node}/lxc/{vmid}/interfaces"));
            paths.push(format!("/nodes/{node}/lxc/{vmid}/rrddata?timeframe=hour"));
        }
        let vms = s.data(&format!("/nodes/{node}/qemu")).await;
        for vm in vms.as_array().unwrap() {
            paths.push(format!("/nodes/{node}/qemu/{}/status/current", vm["vmid"]));
            paths.push(format!("/nodes/{node}/qemu/{}/config", vm["vmid"]));
        }
    }
    let mut problems = Vec::new();
    for p in &paths {
        let data = s.data(p).await;
        let bare = p.split('?').next().unwrap();
        if data == Value::Null && bare.ends_with("/interfaces") {
            continue; // a stopped container: null is the documented answer
        }
        if let Err(e) = schema.check_response("GET", bare, &data) {
            problems.extend(e.into_iter().map(|e| format!("{p}: {e}")));
        }
    }
    let ticket = s.login().await;
    assert!(!ticket.ticket.is_empty());
    for r in s.sim.requests() {
        if let Err(e) = schema.check_request(&r.method, &r.path, &r.params) {
            problems.extend(e);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn task_config_and_agent_responses_match_schema() {
    let schema = schema();
    let s = crate::tasks::start_guests().await;
    let mut problems = Vec::new();
    let mut check = |method: &str, path: &str, data: &Value| {
        if let Err(e) = schema.check_response(method, path, data) {
            problems.extend(e.into_iter().map(|e| format!("{method} {path}: {e}")));
        }
    };
    let mut upids = Vec::new();
    for (kind, vmid, actions) in [
        (
            "lxc",
            101,
            &["start", "reboot", "suspend", "resume", "shutdown"][..],
        ),
        ("lxc", 100, &["stop"][..]),
        ("lxc", 102, &["start"][..]),
        (
            "qemu",
            201,
            &["start", "suspend", "resume", "reboot", "shutdown", "stop"][..],
        ),
        ("qemu", 206, &["start"][..]),
    ] {
        for action in actions {
            let path = format!("/nodes/pve1/{kind}/{vmid}/status/{action}");
            let r = s.post(&path, &[]).await;
            assert_eq!(
                r.status,
                200,
                "{path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            check("POST", &path, &r.data());
            let upid = r.data().as_str().unwrap().to_string();
            let running = s.task(&upid).await;
            check("GET", &format!("/nodes/pve1/tasks/{upid}/status"), &running);
            s.finish(&upid).await;
            upids.push(upid);
        }
    }
    for upid in &upids {
        for what in ["status", "log"] {
            let path = format!("/nodes/pve1/tasks/{upid}/{what}");
            let r = s.get(&path).await;
            assert_eq!(r.status, 200);
            check("GET", &path, &r.data());
            if what == "log" {
                assert!(r.json()["total"].is_u64());
            }
        }
    }
    let path = "/nodes/pve1/lxc/101/config";
    let r = s
        .put(path, &[("cores", "2"), ("net1", "name=eth1,bridge=vmbr0")])
        .await;
    assert_eq!(r.status, 200);
    check("PUT", path, &r.data());
    check("GET", path, &s.data(path).await);
    let path = "/nodes/pve1/qemu/200/agent/network-get-interfaces";
    check("GET", path, &s.data(path).await);
    for vmid in [100, 101, 103, 104, 106] {
        let path = format!("/nodes/pve1/lxc/{vmid}/status/current");
        check("GET", &path, &s.data(&path).await);
    }
    for vmid in [200, 201, 204] {
        let path = format!("/nodes/pve1/qemu/{vmid}/status/current");
        check("GET", &path, &s.data(&path).await);
    }
    check(
        "GET",
        "/cluster/resources",
        &s.data("/cluster/resources").await,
    );
    for r in s.sim.requests() {
        if let Err(e) = schema.check_request(&r.method, &r.path, &r.params) {
            problems.extend(e);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The project's copy of the schema holds every endpoint of the steering copy beside the
/// repository, unchanged (it may hold more). Without the steering copy (a clone on its
/// own) there is nothing to compare, and the project's copy alone serves every test.
#[test]
fn schema_copy_matches_the_shared_subset() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/pve-api/schema-subset.json");
    let Ok(text) = std::fs::read_to_string(&shared) else {
        eprintln!(
            "no {} beside the repository: nothing to compare",
            shared.display()
        );
        return;
    };
    let read = |text: &str| -> Vec<Value> {
        let doc: Value = serde_json::from_str(text).unwrap();
        doc["endpoints"].as_array().unwrap().clone()
    };
    let ours = read(&std::fs::read_to_string(SchemaSet::project_copy()).unwrap());
    let theirs = read(&text);
    assert!(!theirs.is_empty());
    for e in &theirs {
        let key = (&e["method"], &e["path"]);
        let mine = ours
            .iter()
            .find(|o| (&o["method"], &o["path"]) == key)
            .unwrap_or_else(|| panic!("{} {} is missing from the project's copy", key.0, key.1));
        assert_eq!(
            mine, e,
            "{} {} differs from the shared subset",
            key.0, key.1
        );
    }
}
