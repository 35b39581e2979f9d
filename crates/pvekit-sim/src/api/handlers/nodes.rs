//! GET /nodes and GET /nodes/{node}/status.

use serde_json::{Value, json};

use super::{PVE_REPOID, num};
use crate::api::Call;
use crate::error::ApiError;
use crate::model::counters::{self, mix};

/// A fingerprint-looking string for nodes other than the one serving.
fn fake_fingerprint(seed: u64) -> String {
    (0..32u64)
        .map(|i| format!("{:02X}", mix(seed ^ i) & 0xff))
        .collect::<Vec<_>>()
        .join(":")
}

/// Node list; the figures only of nodes the caller has Sys.Audit on.
pub(crate) fn list(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let now = call.state.clock.now_f64();
    let out = model
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            // Each node's own certificate (the listener's); made up only if it had none.
            let fp = call
                .state
                .listeners
                .fingerprint(i)
                .unwrap_or_else(|| fake_fingerprint(n.seed));
            let mut item = json!({
                "node": n.name,
                "status": if n.online { "online" } else { "offline" },
                "id": format!("node/{}", n.name),
                "type": "node",
                "ssl_fingerprint": fp,
            });
            if n.online {
                item["level"] = Value::from(n.level.clone());
            }
            if n.online && call.can(&format!("/nodes/{}", n.name), "Sys.Audit") {
                super::cluster::node_figures(&mut item, n, now);
            }
            item
        })
        .collect();
    Ok(Value::Array(out))
}

/// Node status: uptime, load, memory, kernel, CPU info, versions.
pub(crate) fn status(call: &Call<'_>) -> Result<Value, ApiError> {
    let model = call.state.model();
    let node = model.reachable_node(call.local, &call.node()?)?;
    let s = counters::node(node, call.state.clock.now_f64());
    let release = "6.14.8-2-pve";
    let version = "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)";
    Ok(json!({
        "uptime": s.uptime,
        "idle": 0,
        "cpu": num(s.cpu),
        "wait": num(s.wait),
        "loadavg": s.loadavg.iter().map(|l| format!("{l:.2}")).collect::<Vec<_>>(),
        "kversion": format!("Linux {release} {version}"),
        "current-kernel": {
            "sysname": "Linux",
            "release": release,
            "version": version,
            "machine": "x86_64",
        },
        "boot-info": { "mode": "efi", "secureboot": 0 },
        "cpuinfo": {
            "model": "AMD EPYC 7302P 16-Core Processor",
            "cpus": node.cpus,
            "sockets": node.sockets,
            "cores": (node.cpus / 2 / node.sockets).max(1),
            "user_hz": 100,
            // `vendor` and `family` came with pve-common 9.1.6 (commit d2582a9, January
            // 2026); the 9.1.2 node this simulates has neither (real capture:
            // tests/captures/node-status/pvexport-pve9.1.2-n100.json).
            "mhz": "3000.000",
            "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif v_spec_ctrl umip rdpid overflow_recov succor smca sev sev_es",
            "hvm": "1",
        },
        "memory": {
            "total": node.mem_total,
            "used": s.mem_used,
            "free": s.mem_free,
            "available": s.mem_available,
        },
        "swap": {
            "total": s.swap_total,
            "used": s.swap_used,
            "free": s.swap_total - s.swap_used,
        },
        "ksm": { "shared": s.ksm_shared },
        "rootfs": {
            "total": node.rootfs_total,
            "used": s.rootfs_used,
            "free": node.rootfs_total - s.rootfs_used,
            "avail": node.rootfs_total - s.rootfs_used,
        },
        "pveversion": format!("pve-manager/{}/{PVE_REPOID}", super::PVE_VERSION),
    }))
}
