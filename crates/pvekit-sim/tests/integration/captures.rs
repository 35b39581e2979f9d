//! The simulator's answers against real Proxmox VE 9 answers: for every endpoint with a
//! PVE 9 capture in `tests/captures/` (see `SOURCES.md` there), the simulator's answer has
//! the same keys, and the same JSON type per key (string, number, null, array, object), as
//! the capture. Items of lists are compared by their `type`, over the union of their keys.
//!
//! Deliberate differences are listed in [`ALLOWED`], each with its reason. Captures of
//! older versions are decoded by the library's tests but not compared here: the simulator
//! is a PVE 9 node.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{Sim, start_default};

/// (what, key, why): a key that may be in one answer and not the other.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "cluster-resources node",
        "hastate",
        "only on clusters with HA resources (pve-manager PVE/API2Tools.pm adds it from the HA \
         manager's status); the simulated cluster has no HA configured",
    ),
    (
        "cluster-resources qemu",
        "hastate",
        "only for guests that are HA resources; no simulated guest is one",
    ),
    (
        "cluster-resources qemu",
        "tags",
        "only for guests with tags; the captured guests have none, some simulated ones do",
    ),
    ("cluster-resources lxc", "tags", "only for guests with tags"),
    (
        "termproxy",
        "cert",
        "the capture is vncproxy's answer, which adds the node certificate; termproxy has \
         none (pve-manager PVE/API2/Nodes.pm, termproxy's returns)",
    ),
    (
        "termproxy",
        "password",
        "vncproxy's generated VNC password; termproxy has none",
    ),
];

fn allowed(what: &str, key: &str) -> bool {
    ALLOWED.iter().any(|(w, k, _)| *w == what && *k == key)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key of the objects, with the first value seen for each.
fn union<'a>(items: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for item in items {
        for (k, v) in item.as_object().into_iter().flatten() {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// The differences between a capture's shape and the simulator's, nested objects included.
fn differences(what: &str, capture: &Value, sim: &Value, out: &mut Vec<String>) {
    let (c, s) = (union([capture]), union([sim]));
    for (k, cv) in &c {
        match s.get(k) {
            None if !allowed(what, k) => {
                out.push(format!("{what}: `{k}` missing in the simulator"))
            }
            None => {}
            Some(sv) if json_type(cv) != json_type(sv) => out.push(format!(
                "{what}: `{k}` is a {} in the capture ({cv}) but a {} in the simulator ({sv})",
                json_type(cv),
                json_type(sv)
            )),
            Some(sv) if cv.is_object() => differences(&format!("{what}.{k}"), cv, sv, out),
            Some(_) => {}
        }
    }
    for k in s.keys() {
        if !c.contains_key(k) && !allowed(what, k) {
            out.push(format!("{what}: `{k}` is only in the simulator"));
        }
    }
}

/// Compares list items grouped by `type` (or all together).
fn list_differences(what: &str, capture: &Value, sim: &Value, out: &mut Vec<String>) {
    let group = |v: &Value| -> BTreeMap<String, Vec<Value>> {
        let mut g: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for item in v.as_array().into_iter().flatten() {
            let t = item["type"].as_str().unwrap_or("").to_string();
            g.entry(t).or_default().push(item.clone());
        }
        g
    };
    let (c, s) = (group(capture), group(sim));
    assert!(!c.is_empty(), "{what}: empty capture");
    for (t, items) in &c {
        let Some(sim_items) = s.get(t) else {
            out.push(format!("{what}: no `{t}` items in the simulator"));
            continue;
        };
        let name = if t.is_empty() {
            what.to_string()
        } else {
            format!("{what} {t}")
        };
        differences(
            &name,
            &Value::Object(union(items).into_iter().collect()),
            &Value::Object(union(sim_items).into_iter().collect()),
            out,
        );
    }
}

/// The PVE 9 captures of an endpoint: (file, data).
fn captures(endpoint: &str) -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/captures")
        .join(endpoint);
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".json") && name.contains("pve9")
        })
        .map(|p| {
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                raw["data"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no PVE 9 capture of {endpoint}");
    out
}

async fn finished_task_by_token(sim: &Sim) -> Value {
    let resources = sim.data("/cluster/resources?type=vm").await;
    let stopped = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "lxc" && r["status"] == "stopped" && r["template"] != 1)
        .expect("a stopped container")
        .clone();
    let upid = sim
        .action(
            &format!(
                "/nodes/{}/lxc/{}/status/start",
                stopped["node"].as_str().unwrap(),
                stopped["vmid"]
            ),
            &[],
        )
        .await;
    sim.finish(&upid).await
}

#[tokio::test]
async fn answers_have_the_shape_of_real_pve9_answers() {
    let sim = start_default().await;
    let mut diffs = Vec::new();
    for (file, capture) in captures("version") {
        differences(
            &format!("version ({file})"),
            &capture,
            &sim.data("/version").await,
            &mut diffs,
        );
    }
    let resources = sim.data("/cluster/resources").await;
    for (file, capture) in captures("cluster-resources") {
        let _ = file;
        list_differences("cluster-resources", &capture, &resources, &mut diffs);
    }
    for (file, capture) in captures("node-status") {
        let _ = file;
        differences(
            "node-status",
            &capture,
            &sim.data("/nodes/pve1/status").await,
            &mut diffs,
        );
    }
    let lxc = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "lxc")
        .unwrap()
        .clone();
    let rrd = sim
        .data(&format!(
            "/nodes/{}/lxc/{}/rrddata?timeframe=hour&cf=AVERAGE",
            lxc["node"].as_str().unwrap(),
            lxc["vmid"]
        ))
        .await;
    for (file, capture) in captures("rrddata") {
        if file.contains("lxc") {
            list_differences("rrddata", &capture, &rrd, &mut diffs);
        }
    }
    // A task started with an API token, once stopped.
    let task = finished_task_by_token(&sim).await;
    for (file, capture) in captures("task-status") {
        if file.contains("stopped") && file.contains("apitoken") {
            differences("task-status", &capture, &task, &mut diffs);
        }
    }
    // Ticket logins and the terminal proxy.
    let login = sim.login().await;
    let ticket = sim
        .send(sim.http.post(sim.url("/access/ticket")).form(&[
            ("username", "root@pam"),
            ("password", crate::util::PASSWORD),
        ]))
        .await
        .data();
    for (_, capture) in captures("access-ticket") {
        differences("access-ticket", &capture, &ticket, &mut diffs);
    }
    let proxy = sim
        .post_as_root(&login, "/nodes/pve1/termproxy", &[])
        .await
        .data();
    for (_, capture) in captures("termproxy") {
        differences("termproxy", &capture, &proxy, &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "the simulator's answers differ from real PVE 9 answers:\n{}",
        diffs.join("\n")
    );
}
