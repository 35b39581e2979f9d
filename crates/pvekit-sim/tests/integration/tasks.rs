//! Power actions, UPIDs and the task endpoints.

use std::time::Duration;

use pvekit_sim::{Scenario, SimOptions};
use serde_json::Value;

use crate::util::{Sim, TASK, opts, start};

/// A cluster with one guest per situation the tests need.
pub const GUESTS: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
  - name: pve3
    online: false
guests:
  - type: lxc
    vmid: 100
    node: pve1
    name: web
    status: running
    uptime: 5000
  - type: lxc
    vmid: 101
    node: pve1
    name: db
    config:
      net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:01,ip=dhcp,ip6=auto,type=veth
  - type: lxc
    vmid: 102
    node: pve1
    template: true
  - type: lxc
    vmid: 103
    node: pve1
    status: running
    lock: backup
  - type: lxc
    vmid: 104
    node: pve1
    start_error: "startup for container '104' failed"
  - type: lxc
    vmid: 105
    node: pve1
    task_secs: 600
  - type: lxc
    vmid: 106
    node: pve1
    status: running
    counters:
      cpu: 0.311
      mem: 268435456
      disk: 1073741824
      netin: 123456789
      netout: 98765432
      diskread: 5555555
      diskwrite: 4444444
  - type: lxc
    vmid: 107
    node: pve1
    lock: backup
  - type: qemu
    vmid: 200
    node: pve1
    name: vm200
    status: running
    agent: true
    uptime: 7000
  - type: qemu
    vmid: 201
    node: pve1
    agent: true
  - type: qemu
    vmid: 202
    node: pve1
    status: running
  - type: qemu
    vmid: 203
    node: pve1
    status: running
    agent: true
    agent_running: false
  - type: qemu
    vmid: 204
    node: pve1
    status: running
    lock: backup
  - type: qemu
    vmid: 205
    node: pve1
    template: true
  - type: qemu
    vmid: 206
    node: pve1
    start_error: "start failed: QEMU exited with code 1"
  - type: lxc
    vmid: 300
    node: pve2
    status: running
"#;

pub fn guest_opts() -> SimOptions {
    SimOptions {
        scenario_inline: Some(Scenario::from_yaml(GUESTS).expect("scenario")),
        task_duration: TASK,
        ..opts()
    }
}

pub async fn start_guests() -> Sim {
    start(guest_opts()).await
}

/// Checks the UPID format and returns its fields.
fn upid_fields(upid: &str, node: &str, kind: &str, id: &str, user: &str) -> Vec<String> {
    let f: Vec<String> = upid.split(':').map(str::to_string).collect();
    assert_eq!(f.len(), 9, "{upid}");
    assert_eq!(f[0], "UPID");
    assert_eq!(f[1], node);
    for hex in &f[2..5] {
        assert_eq!(hex.len(), 8, "{upid}");
        assert!(
            hex.bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)),
            "upper-case hex: {upid}"
        );
    }
    assert_eq!(f[5], kind);
    assert_eq!(f[6], id);
    assert_eq!(f[7], user);
    assert_eq!(f[8], "", "trailing colon: {upid}");
    f
}

async fn status(s: &Sim, kind: &str, vmid: u32) -> Value {
    s.data(&format!("/nodes/pve1/{kind}/{vmid}/status/current"))
        .await
}

async fn resource(s: &Sim, vmid: u32) -> Value {
    let all = s.data("/cluster/resources?type=vm").await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == vmid)
        .cloned()
        .expect("guest in cluster/resources")
}

async fn list_item(s: &Sim, kind: &str, vmid: u32) -> Value {
    let all = s.data(&format!("/nodes/pve1/{kind}")).await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|g| g["vmid"] == vmid)
        .cloned()
        .expect("guest in list")
}

/// Status, uptime, lock and template agree in status/current, the node list and
/// cluster/resources.
async fn assert_consistent(s: &Sim, kind: &str, vmid: u32) -> Value {
    let cur = status(s, kind, vmid).await;
    let item = list_item(s, kind, vmid).await;
    let res = resource(s, vmid).await;
    for key in ["status", "lock", "name"] {
        assert_eq!(cur[key], item[key], "{key}: {cur} vs {item}");
        assert_eq!(cur[key], res[key], "{key}: {cur} vs {res}");
    }
    // Real time passes between the calls: a second may tick over. `cluster/resources` shows
    // the figures of the node's last `pvestatd` cycle, up to 10 s old.
    let up = |v: &Value| v["uptime"].as_u64().expect("uptime");
    assert!(up(&item).abs_diff(up(&cur)) <= 1, "{cur} vs {item}");
    assert!(
        up(&res) <= up(&cur) + 1 && up(&cur) <= up(&res) + 11,
        "{cur} vs {res}"
    );
    assert_eq!(cur["template"], item["template"]);
    assert_eq!(
        res["template"],
        cur.get("template").cloned().unwrap_or(0.into())
    );
    cur
}

#[tokio::test]
async fn lxc_start_task_runs_then_changes_state() {
    let s = start_guests().await;
    let upid = s.action("/nodes/pve1/lxc/101/status/start", &[]).await;
    upid_fields(&upid, "pve1", "vzstart", "101", "root@pam!pvekit");
    let t = s.task(&upid).await;
    assert_eq!(t["status"], "running");
    assert!(t.get("exitstatus").is_none(), "{t}");
    assert_eq!(t["upid"], upid);
    assert_eq!(t["node"], "pve1");
    assert_eq!(t["type"], "vzstart");
    assert_eq!(t["id"], "101");
    assert_eq!(t["user"], "root@pam");
    assert_eq!(t["tokenid"], "pvekit");
    for k in ["pid", "pstart", "starttime"] {
        assert!(t[k].is_u64(), "{k} is an integer: {t}");
    }
    let f: Vec<&str> = upid.split(':').collect();
    assert_eq!(t["pid"], u64::from_str_radix(f[2], 16).unwrap());
    assert_eq!(t["pstart"], u64::from_str_radix(f[3], 16).unwrap());
    assert_eq!(t["starttime"], u64::from_str_radix(f[4], 16).unwrap());
    // Still stopped while the task runs; no interfaces yet.
    assert_eq!(status(&s, "lxc", 101).await["status"], "stopped");
    assert_eq!(s.data("/nodes/pve1/lxc/101/interfaces").await, Value::Null);
    assert_eq!(s.task_log(&upid).await, vec!["no content"]);

    let t = s.finish(&upid).await;
    assert_eq!(t["exitstatus"], "OK");
    assert_eq!(s.task_log(&upid).await, vec!["TASK OK"]);
    let cur = assert_consistent(&s, "lxc", 101).await;
    assert_eq!(cur["status"], "running");
    assert!(cur["uptime"].as_u64().unwrap() <= 2, "fresh uptime: {cur}");
    assert!(cur["pid"].is_u64());
    // DHCP address (and SLAAC) after start.
    let ifaces = s.data("/nodes/pve1/lxc/101/interfaces").await;
    let eth0 = ifaces
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .cloned()
        .expect("eth0");
    let inet = eth0["inet"].as_str().expect("DHCP IPv4");
    assert!(
        inet.starts_with("192.168.") && inet.ends_with("/24"),
        "{inet}"
    );
    assert_eq!(eth0["hwaddr"], "bc:24:11:00:01:01");
    // Deterministic: the same seed gives the same lease.
    let again = start_guests().await;
    let u = again.action("/nodes/pve1/lxc/101/status/start", &[]).await;
    again.finish(&u).await;
    let ifaces2 = again.data("/nodes/pve1/lxc/101/interfaces").await;
    assert_eq!(ifaces, ifaces2);
}

#[tokio::test]
async fn lxc_every_action() {
    let s = start_guests().await;
    let base = "/nodes/pve1/lxc/100/status";
    let old = status(&s, "lxc", 100).await;
    assert!(old["uptime"].as_u64().unwrap() >= 5000);

    let upid = s
        .action(&format!("{base}/reboot"), &[("timeout", "30")])
        .await;
    upid_fields(&upid, "pve1", "vzreboot", "100", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "lxc", 100).await;
    assert_eq!(cur["status"], "running");
    assert!(
        cur["uptime"].as_u64().unwrap() <= 2,
        "reboot resets uptime: {cur}"
    );
    assert_ne!(cur["pid"], old["pid"], "a new init process");

    // Suspend checkpoints the container: it is stopped afterwards (lxc-checkpoint -s).
    let upid = s.action(&format!("{base}/suspend"), &[]).await;
    upid_fields(&upid, "pve1", "vzsuspend", "100", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "lxc", 100).await;
    assert_eq!(cur["status"], "stopped");
    assert_eq!(cur["uptime"], 0);

    let upid = s.action(&format!("{base}/resume"), &[]).await;
    upid_fields(&upid, "pve1", "vzresume", "100", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    assert_eq!(assert_consistent(&s, "lxc", 100).await["status"], "running");

    let upid = s
        .action(
            &format!("{base}/shutdown"),
            &[("timeout", "60"), ("forceStop", "1")],
        )
        .await;
    upid_fields(&upid, "pve1", "vzshutdown", "100", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "lxc", 100).await;
    assert_eq!(cur["status"], "stopped");
    assert!(cur.get("pid").is_none());
    assert_eq!(s.data("/nodes/pve1/lxc/100/interfaces").await, Value::Null);

    let upid = s.action(&format!("{base}/start"), &[]).await;
    s.finish(&upid).await;
    let upid = s.action(&format!("{base}/stop"), &[]).await;
    upid_fields(&upid, "pve1", "vzstop", "100", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    assert_eq!(assert_consistent(&s, "lxc", 100).await["status"], "stopped");

    // Counters start from zero after a start.
    let upid = s.action(&format!("{base}/start"), &[]).await;
    s.finish(&upid).await;
    let cur = status(&s, "lxc", 100).await;
    assert!(
        cur["netin"].as_u64().unwrap() < old["netin"].as_u64().unwrap(),
        "{cur} vs {old}"
    );
}

#[tokio::test]
async fn qemu_every_action() {
    let s = start_guests().await;
    let base = "/nodes/pve1/qemu/200/status";

    let upid = s.action(&format!("{base}/suspend"), &[]).await;
    upid_fields(&upid, "pve1", "qmpause", "200", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "qemu", 200).await;
    assert_eq!(cur["status"], "running");
    assert_eq!(cur["qmpstatus"], "paused");
    // A paused VM refuses shutdown and reboot at once.
    for action in ["shutdown", "reboot"] {
        let r = s.post(&format!("{base}/{action}"), &[]).await;
        assert_eq!(r.status, 500);
        assert_eq!(r.message(), "VM is paused - cannot shutdown\n");
    }

    let upid = s.action(&format!("{base}/resume"), &[]).await;
    upid_fields(&upid, "pve1", "qmresume", "200", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    assert_eq!(status(&s, "qemu", 200).await["qmpstatus"], "running");

    let old = status(&s, "qemu", 200).await;
    let upid = s.action(&format!("{base}/reboot"), &[]).await;
    upid_fields(&upid, "pve1", "qmreboot", "200", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "qemu", 200).await;
    assert_eq!(cur["status"], "running");
    assert!(cur["uptime"].as_u64().unwrap() <= 2, "{cur}");
    assert_ne!(cur["pid"], old["pid"]);

    let upid = s
        .action(&format!("{base}/shutdown"), &[("timeout", "120")])
        .await;
    upid_fields(&upid, "pve1", "qmshutdown", "200", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "qemu", 200).await;
    assert_eq!(cur["status"], "stopped");
    assert_eq!(cur["qmpstatus"], "stopped");
    assert!(cur.get("pid").is_none());

    // Stopping a stopped VM is not refused: the task just has nothing to do.
    let upid = s.action(&format!("{base}/stop"), &[]).await;
    upid_fields(&upid, "pve1", "qmstop", "200", "root@pam!pvekit");
    assert_eq!(s.task(&upid).await["exitstatus"], "OK");

    let upid = s.action(&format!("{base}/start"), &[]).await;
    upid_fields(&upid, "pve1", "qmstart", "200", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");
    let cur = assert_consistent(&s, "qemu", 200).await;
    assert_eq!(cur["qmpstatus"], "running");

    // Suspend to disk: stopped with a `suspended` lock; resume starts it again.
    let upid = s
        .action(&format!("{base}/suspend"), &[("todisk", "1")])
        .await;
    upid_fields(&upid, "pve1", "qmsuspend", "200", "root@pam!pvekit");
    s.finish(&upid).await;
    let cur = assert_consistent(&s, "qemu", 200).await;
    assert_eq!(cur["status"], "stopped");
    assert_eq!(cur["lock"], "suspended");
    let upid = s.action(&format!("{base}/resume"), &[]).await;
    s.finish(&upid).await;
    let cur = assert_consistent(&s, "qemu", 200).await;
    assert_eq!(cur["status"], "running");
    assert!(cur.get("lock").is_none(), "{cur}");

    let upid = s.action(&format!("{base}/stop"), &[]).await;
    s.finish(&upid).await;
    assert_eq!(status(&s, "qemu", 200).await["status"], "stopped");
}

#[tokio::test]
async fn immediate_refusals() {
    let s = start_guests().await;
    let cases = [
        ("lxc/100/status/start", "CT 100 already running\n"),
        ("lxc/100/status/resume", "CT 100 already running\n"),
        ("lxc/101/status/stop", "CT 101 not running\n"),
        ("lxc/101/status/shutdown", "CT 101 not running\n"),
        ("lxc/101/status/suspend", "CT 101 not running\n"),
        // Sic: the LXC reboot handler says "VM".
        ("lxc/101/status/reboot", "VM 101 not running\n"),
        ("qemu/201/status/suspend", "VM 201 not running\n"),
        ("qemu/201/status/resume", "VM 201 not running\n"),
        ("qemu/201/status/reboot", "VM 201 not running\n"),
        (
            "lxc/999/status/start",
            "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n",
        ),
        (
            "qemu/100/status/start",
            "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n",
        ),
    ];
    for (path, message) in cases {
        let r = s.post(&format!("/nodes/pve1/{path}"), &[]).await;
        assert_eq!(r.status, 500, "{path}");
        assert_eq!(r.message(), message, "{path}");
    }
    let r = s.post("/nodes/pve3/lxc/300/status/start", &[]).await;
    assert_eq!(r.status, 595);
    // Root-only options: a token is not root@pam.
    for path in [
        "lxc/101/status/start",
        "lxc/100/status/stop",
        "qemu/201/status/start",
        "qemu/200/status/suspend",
    ] {
        let r = s
            .post(&format!("/nodes/pve1/{path}"), &[("skiplock", "1")])
            .await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.error("skiplock"), "Only root may use this option.");
    }
    let r = s
        .post("/nodes/pve1/qemu/200/status/stop", &[("keepActive", "1")])
        .await;
    assert_eq!(r.error("keepActive"), "Only root may use this option.");
    // skiplock=0 is no option at all.
    let r = s
        .post("/nodes/pve1/lxc/101/status/start", &[("skiplock", "0")])
        .await;
    assert_eq!(r.status, 200);
    // Nothing was started by the refused calls.
    assert_eq!(status(&s, "lxc", 101).await["status"], "stopped");
}

#[tokio::test]
async fn failures_inside_the_task() {
    let s = start_guests().await;
    let cases = [
        (
            "lxc/102/status/start",
            "you can't start a CT if it's a template",
        ),
        ("lxc/107/status/start", "CT is locked (backup)"),
        ("lxc/103/status/stop", "CT is locked (backup)"),
        ("lxc/103/status/shutdown", "CT is locked (backup)"),
        ("lxc/103/status/suspend", "CT is locked (backup)"),
        (
            "lxc/101/status/resume",
            "command 'lxc-checkpoint -n 101 -r --foreground -D /var/lib/vz/dump' failed: exit code 1",
        ),
        (
            "qemu/205/status/start",
            "you can't start a vm if it's a template",
        ),
        ("qemu/200/status/start", "VM 200 already running"),
        ("qemu/204/status/stop", "VM is locked (backup)"),
        ("qemu/204/status/shutdown", "VM is locked (backup)"),
        ("qemu/204/status/reboot", "VM is locked (backup)"),
    ];
    for (path, text) in cases {
        let upid = s.action(&format!("/nodes/pve1/{path}"), &[]).await;
        // Checks inside the worker fail within milliseconds.
        let t = s.task(&upid).await;
        assert_eq!(t["status"], "stopped", "{path}: {t}");
        assert_eq!(t["exitstatus"], text, "{path}");
        let log = s.task_log(&upid).await;
        assert_eq!(
            log.last().unwrap(),
            &format!("TASK ERROR: {text}"),
            "{path}"
        );
    }
    // The guests did not change.
    assert_eq!(status(&s, "lxc", 102).await["status"], "stopped");
    assert_eq!(status(&s, "lxc", 103).await["status"], "running");
    assert_eq!(status(&s, "qemu", 204).await["status"], "running");
    // A backup lock does not keep a VM from being paused.
    let upid = s.action("/nodes/pve1/qemu/204/status/suspend", &[]).await;
    assert_eq!(s.finish(&upid).await["exitstatus"], "OK");

    // root@pam may skip the lock.
    let login = s.login().await;
    let r = s
        .post_as_root(
            &login,
            "/nodes/pve1/lxc/107/status/start",
            &[("skiplock", "1")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let upid = r.data().as_str().unwrap().to_string();
    upid_fields(&upid, "pve1", "vzstart", "107", "root@pam");
    let t = s.finish(&upid).await;
    assert_eq!(t["exitstatus"], "OK");
    assert_eq!(t["user"], "root@pam");
    assert!(t.get("tokenid").is_none(), "{t}");
    assert_eq!(status(&s, "lxc", 107).await["status"], "running");

    // A scenario start error: the task runs its full time, then fails with that text.
    let upid = s.action("/nodes/pve1/lxc/104/status/start", &[]).await;
    assert_eq!(s.task(&upid).await["status"], "running");
    let t = s.finish(&upid).await;
    assert_eq!(t["exitstatus"], "startup for container '104' failed");
    let log = s.task_log(&upid).await;
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(
        log.last().unwrap(),
        "TASK ERROR: startup for container '104' failed"
    );
    assert_eq!(status(&s, "lxc", 104).await["status"], "stopped");
    let upid = s.action("/nodes/pve1/qemu/206/status/start", &[]).await;
    let t = s.finish(&upid).await;
    assert_eq!(t["exitstatus"], "start failed: QEMU exited with code 1");
    assert_eq!(status(&s, "qemu", 206).await["status"], "stopped");
}

#[tokio::test]
async fn task_log_paging_and_errors() {
    let s = start_guests().await;
    let upid = s.action("/nodes/pve1/lxc/104/status/start", &[]).await;
    s.finish(&upid).await;
    let base = format!("/nodes/pve1/tasks/{upid}/log");
    let r = s.get(&base).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"], 4);
    let lines = r.data();
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["n"], i as u64 + 1);
        assert!(l["t"].is_string());
    }
    let r = s.get(&format!("{base}?start=1&limit=2")).await;
    assert_eq!(r.json()["total"], 4);
    let d = r.data();
    let ns: Vec<u64> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, vec![2, 3]);
    let r = s.get(&format!("{base}?start=3&limit=0")).await;
    assert_eq!(r.data()[0]["n"], 4);
    assert_eq!(
        r.data()[0]["t"],
        "TASK ERROR: startup for container '104' failed"
    );
    let r = s.get(&format!("{base}?start=10")).await;
    assert_eq!(r.data(), serde_json::json!([]));
    assert_eq!(r.json()["total"], 4);
    let r = s.get(&format!("{base}?download=1&limit=5")).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "'download' cannot be used together with 'start' or 'limit' parameters\n"
    );

    // The UPID may be percent-encoded.
    let encoded = upid
        .replace(':', "%3A")
        .replace('!', "%21")
        .replace('@', "%40");
    let t = s.data(&format!("/nodes/pve1/tasks/{encoded}/status")).await;
    assert_eq!(t["upid"], upid);

    // Malformed UPIDs; as pve-common's PVE::UPID::decode, also white space in the id or user.
    for bad in [
        "nonsense",
        "UPID:pve1:1:2:3:vzstart:100:root@pam:",
        "UPID:pve1:0000AAAA:0000BBBB:66F1A2B3:vzstart:1%2000:root@pam:",
        "UPID:pve1:0000AAAA:0000BBBB:66F1A2B3:vzstart:100:root%09@pam:",
    ] {
        for what in ["status", "log"] {
            let r = s.get(&format!("/nodes/pve1/tasks/{bad}/{what}")).await;
            assert_eq!(r.status, 400, "{bad} {what}");
            assert_eq!(r.message(), "Parameter verification failed.\n");
            assert_eq!(r.error("upid"), "unable to parse worker upid");
        }
    }
    // Well-formed but unknown; or asked on another node than the one that ran it.
    let unknown = "UPID:pve1:0000AAAA:0000BBBB:66F1A2B3:vzstart:100:root@pam:";
    let other = upid.replacen(":pve1:", ":pve2:", 1);
    for (node, u) in [
        ("pve1", unknown),
        ("pve2", upid.as_str()),
        ("pve2", other.as_str()),
    ] {
        let r = s.get(&format!("/nodes/{node}/tasks/{u}/status")).await;
        assert_eq!(r.status, 400, "{node} {u}");
        assert_eq!(r.error("upid"), "no such task");
        // The log call has no such check: it reports the missing file as its only line.
        let r = s.get(&format!("/nodes/{node}/tasks/{u}/log")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["total"], 1);
        assert_eq!(
            r.data(),
            serde_json::json!([{"n": 1, "t": "unable to open file - No such file or directory"}])
        );
    }
    let r = s.get(&format!("/nodes/pve3/tasks/{upid}/status")).await;
    assert_eq!(r.status, 595);
}

#[tokio::test]
async fn distinct_pids_and_start_times() {
    let s = start_guests().await;
    let mut pids = std::collections::HashSet::new();
    let mut upids = Vec::new();
    for path in [
        "lxc/101/status/start",
        "lxc/100/status/reboot",
        "lxc/106/status/stop",
        "qemu/201/status/start",
        "qemu/202/status/stop",
    ] {
        let upid = s.action(&format!("/nodes/pve1/{path}"), &[]).await;
        let f: Vec<&str> = upid.split(':').collect();
        assert!(pids.insert(f[2].to_string()), "distinct pid: {upid}");
        let pid = u32::from_str_radix(f[2], 16).unwrap();
        assert!((100..4_194_304).contains(&pid));
        upids.push(upid);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for u in &upids {
        let t = s.task(u).await;
        let st = t["starttime"].as_u64().unwrap();
        assert!(st + 60 > now && st < now + 60, "{t}");
        assert!(t["pstart"].as_u64().unwrap() > 0);
    }
    // A task on another node.
    let upid = s.action("/nodes/pve2/lxc/300/status/stop", &[]).await;
    upid_fields(&upid, "pve2", "vzstop", "300", "root@pam!pvekit");
    assert_eq!(s.finish(&upid).await["node"], "pve2");
}

#[tokio::test]
async fn task_duration_and_clock() {
    // Real time: a short default duration finishes on its own.
    let s = start(SimOptions {
        task_duration: Duration::from_millis(60),
        ..guest_opts()
    })
    .await;
    let upid = s.action("/nodes/pve1/lxc/101/status/start", &[]).await;
    assert_eq!(s.task(&upid).await["status"], "running");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let t = s.task(&upid).await;
    assert_eq!(t["status"], "stopped");
    assert_eq!(t["exitstatus"], "OK");
    assert_eq!(status(&s, "lxc", 101).await["status"], "running");

    // A guest whose tasks take 600 s outlasts the default and any client timeout...
    let upid = s.action("/nodes/pve1/lxc/105/status/start", &[]).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.task(&upid).await["status"], "running");
    s.sim.advance_clock(Duration::from_secs(599));
    assert_eq!(s.task(&upid).await["status"], "running");
    assert_eq!(status(&s, "lxc", 105).await["status"], "stopped");
    // ...until the clock passes its end.
    s.sim.advance_clock(Duration::from_secs(2));
    let t = s.task(&upid).await;
    assert_eq!(t["status"], "stopped");
    assert_eq!(t["exitstatus"], "OK");
    let cur = status(&s, "lxc", 105).await;
    assert_eq!(cur["status"], "running");
    assert!(cur["uptime"].as_u64().unwrap() <= 2, "{cur}");

    // A shutdown slower than its timeout fails, unless forceStop.
    let upid = s
        .action("/nodes/pve1/lxc/105/status/shutdown", &[("timeout", "10")])
        .await;
    s.sim.advance_clock(Duration::from_secs(11));
    let log = s.task_log(&upid).await;
    assert_eq!(
        log,
        vec!["command 'lxc-stop -n 105 --nokill --timeout 10' failed: exit code 1"]
    );
    s.sim.advance_clock(Duration::from_secs(20));
    let t = s.task(&upid).await;
    assert_eq!(t["exitstatus"], "container did not stop");
    assert_eq!(status(&s, "lxc", 105).await["status"], "running");
    let upid = s
        .action(
            "/nodes/pve1/lxc/105/status/shutdown",
            &[("timeout", "10"), ("forceStop", "1")],
        )
        .await;
    s.sim.advance_clock(Duration::from_secs(11));
    assert_eq!(s.task(&upid).await["exitstatus"], "OK");
    assert_eq!(status(&s, "lxc", 105).await["status"], "stopped");
}

#[tokio::test]
async fn qemu_shutdown_timeout() {
    let yaml = r#"
nodes:
  - name: solo
guests:
  - type: qemu
    vmid: 100
    node: solo
    status: running
    task_secs: 300
"#;
    let s = start(SimOptions {
        scenario_inline: Some(Scenario::from_yaml(yaml).unwrap()),
        ..opts()
    })
    .await;
    let upid = s.action("/nodes/solo/qemu/100/status/shutdown", &[]).await;
    s.sim.advance_clock(Duration::from_secs(61));
    assert_eq!(
        s.task(&upid).await["exitstatus"],
        "VM quit/powerdown failed - got timeout"
    );
    let upid = s
        .action(
            "/nodes/solo/qemu/100/status/shutdown",
            &[("forceStop", "1"), ("timeout", "5")],
        )
        .await;
    s.sim.advance_clock(Duration::from_secs(7));
    assert_eq!(s.task(&upid).await["exitstatus"], "OK");
    assert_eq!(
        s.task_log(&upid).await,
        vec!["VM still running - terminating now with SIGTERM", "TASK OK"]
    );
    let cur = s.data("/nodes/solo/qemu/100/status/current").await;
    assert_eq!(cur["status"], "stopped");
}

#[tokio::test]
async fn pinned_counters() {
    let s = start_guests().await;
    for _ in 0..2 {
        let cur = status(&s, "lxc", 106).await;
        let res = resource(&s, 106).await;
        let item = list_item(&s, "lxc", 106).await;
        for v in [&cur, &res, &item] {
            assert_eq!(v["cpu"], 0.311, "{v}");
            assert_eq!(v["mem"], 268_435_456u64);
            assert_eq!(v["disk"], 1_073_741_824u64);
            assert_eq!(v["netin"], 123_456_789u64);
            assert_eq!(v["netout"], 98_765_432u64);
            assert_eq!(v["diskread"], 5_555_555u64);
            assert_eq!(v["diskwrite"], 4_444_444u64);
        }
        s.sim.advance_clock(Duration::from_secs(3600));
    }
    // Stopped guests report zeros, as real ones do.
    let upid = s.action("/nodes/pve1/lxc/106/status/stop", &[]).await;
    s.finish(&upid).await;
    let cur = status(&s, "lxc", 106).await;
    assert_eq!(cur["cpu"], 0);
    assert_eq!(cur["netin"], 0);
}
