//! GET /nodes/{node}/lxc/{vmid}/rrddata: slots, resolutions, rates, offline gaps, errors.

use pvekit_sim::{Scenario, SimOptions};
use serde_json::Value;

use crate::util::{Sim, opts, start};

const YAML: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
    online: false
guests:
  - { type: lxc, vmid: 101, node: pve1, name: web, status: running }
  - { type: lxc, vmid: 102, node: pve1, name: db }
  - { type: lxc, vmid: 103, node: pve2, name: away }
  - { type: qemu, vmid: 200, node: pve1, name: vm, status: running }
"#;

async fn lab() -> Sim {
    start(SimOptions {
        scenario_inline: Some(Scenario::from_yaml(YAML).unwrap()),
        ..opts()
    })
    .await
}

fn slots(v: &Value) -> &Vec<Value> {
    v.as_array().expect("an array of slots")
}

/// What a running container's slot holds (no `memhost`: pvestatd leaves it unknown for
/// containers).
const SOURCES: [&str; 16] = [
    "maxcpu",
    "cpu",
    "maxmem",
    "mem",
    "maxdisk",
    "disk",
    "netin",
    "netout",
    "diskread",
    "diskwrite",
    "pressurecpusome",
    "pressurecpufull",
    "pressureiosome",
    "pressureiofull",
    "pressurememorysome",
    "pressurememoryfull",
];

#[tokio::test]
async fn time_frames_have_the_pve9_resolutions() {
    let s = lab().await;
    for (frame, reso, count) in [
        ("hour", 60, 60),
        ("day", 60, 1440),
        ("week", 1800, 336),
        ("month", 1800, 1440),
        ("year", 21_600, 1440),
    ] {
        let v = s
            .data(&format!("/nodes/pve1/lxc/101/rrddata?timeframe={frame}"))
            .await;
        let slots = slots(&v);
        assert_eq!(slots.len(), count, "{frame}");
        let times: Vec<i64> = slots.iter().map(|x| x["time"].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] == reso), "{frame}");
        assert_eq!(times[0] % reso, 0, "{frame}: aligned");
        // Labelled by their end: the newest slot ends at or before now, within one step.
        let now = s.sim.clock_now();
        assert!(
            times[count - 1] <= now && now - times[count - 1] < reso,
            "{frame}"
        );
        // The guest runs now (for more than a minute); slots from before its start hold only
        // the limits.
        if reso == 60 {
            let last = slots.last().unwrap();
            for k in SOURCES {
                assert!(last[k].is_number(), "{frame}: {k} in {last}");
            }
            assert_eq!(last.as_object().unwrap().len(), SOURCES.len() + 1, "{last}");
        }
        for slot in slots {
            let n = slot.as_object().unwrap().len();
            assert!(n == SOURCES.len() + 1 || n == 5, "{frame}: {slot}");
        }
    }
}

#[tokio::test]
async fn running_guests_move_stopped_ones_rest() {
    let s = lab().await;
    let hour = s.data("/nodes/pve1/lxc/101/rrddata?timeframe=hour").await;
    let last = slots(&hour).last().unwrap().clone();
    assert!(last["cpu"].as_f64().unwrap() > 0.0, "{last}");
    assert!(last["netin"].as_f64().unwrap() > 0.0, "a rate: {last}");
    assert!(
        last["netin"].as_f64().unwrap() < 1e7,
        "bytes per second, not a counter: {last}"
    );
    assert!(last["mem"].as_f64().unwrap() <= last["maxmem"].as_f64().unwrap());
    // MAX is never below AVERAGE.
    let max = s
        .data("/nodes/pve1/lxc/101/rrddata?timeframe=hour&cf=MAX")
        .await;
    for (a, m) in slots(&hour).iter().zip(slots(&max)) {
        assert!(m["cpu"].as_f64() >= a["cpu"].as_f64(), "{a} vs {m}");
    }
    // A stopped container: only its limits and root disk are recorded.
    let stopped = s.data("/nodes/pve1/lxc/102/rrddata?timeframe=hour").await;
    for slot in slots(&stopped) {
        let mut keys: Vec<&str> = slot
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["disk", "maxcpu", "maxdisk", "maxmem", "time"],
            "{slot}"
        );
    }
    // Every node has every guest's RRD file (the method is not proxied, the node name is
    // not checked), and VMs have one too, with `memhost`.
    let vm = s.data("/nodes/pve2/lxc/200/rrddata?timeframe=hour").await;
    assert_eq!(slots(&vm).len(), 60);
    assert!(slots(&vm).last().unwrap()["memhost"].is_number());
}

#[tokio::test]
async fn gaps_and_errors() {
    let s = lab().await;
    // A guest on an offline node: time-only slots, the trailing one dropped.
    let away = s.data("/nodes/pve1/lxc/103/rrddata?timeframe=hour").await;
    assert_eq!(slots(&away).len(), 59);
    assert!(
        slots(&away)
            .iter()
            .all(|x| x.as_object().unwrap().len() == 1)
    );
    let r = s.get("/nodes/pve1/lxc/999/rrddata?timeframe=hour").await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "RRD error: opening '/var/lib/rrdcached/db/pve-vm-9.0/999': No such file or directory\n"
    );
    let r = s.get("/nodes/pve1/lxc/101/rrddata?timeframe=decade").await;
    assert_eq!(r.status, 400);
    assert!(
        r.error("timeframe")
            .starts_with("value 'decade' does not have a value in the enumeration"),
        "{}",
        r.error("timeframe")
    );
}
