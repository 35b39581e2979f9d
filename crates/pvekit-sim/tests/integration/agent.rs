//! QEMU guest agent: network-get-interfaces.

use crate::tasks::start_guests;

fn path(vmid: u32) -> String {
    format!("/nodes/pve1/qemu/{vmid}/agent/network-get-interfaces")
}

#[tokio::test]
async fn interfaces_shape() {
    let s = start_guests().await;
    let d = s.data(&path(200)).await;
    let list = d["result"].as_array().expect("result array");
    assert_eq!(d.as_object().unwrap().len(), 1, "only `result`: {d}");
    let lo = &list[0];
    assert_eq!(lo["name"], "lo");
    assert_eq!(lo["hardware-address"], "00:00:00:00:00:00");
    let nic = list
        .iter()
        .find(|i| i["name"] == "ens18")
        .expect("ens18")
        .clone();
    let cfg = s.data("/nodes/pve1/qemu/200/config").await;
    let mac = cfg["net0"]
        .as_str()
        .unwrap()
        .split(',')
        .find_map(|kv| kv.strip_prefix("virtio="))
        .unwrap()
        .to_lowercase();
    assert_eq!(nic["hardware-address"], mac.as_str());
    let addrs = nic["ip-addresses"].as_array().unwrap();
    let v4 = addrs
        .iter()
        .find(|a| a["ip-address-type"] == "ipv4")
        .expect("an IPv4 address");
    assert!(v4["ip-address"].as_str().unwrap().starts_with("192.168."));
    assert_eq!(v4["prefix"], 24);
    let v6 = addrs
        .iter()
        .find(|a| a["ip-address-type"] == "ipv6")
        .expect("an IPv6 address");
    assert!(v6["ip-address"].as_str().unwrap().starts_with("fe80::"));
    assert_eq!(v6["prefix"], 64);
    for a in addrs {
        assert!(!a["ip-address"].as_str().unwrap().contains('/'));
    }
    let st = nic["statistics"].as_object().expect("statistics");
    for k in [
        "rx-bytes",
        "rx-packets",
        "rx-errs",
        "rx-dropped",
        "tx-bytes",
        "tx-packets",
        "tx-errs",
        "tx-dropped",
    ] {
        assert!(st[k].is_u64(), "{k}: {nic}");
    }
}

#[tokio::test]
async fn agent_errors() {
    let s = start_guests().await;
    let cases = [
        (201, "VM 201 is not running\n"),
        (202, "No QEMU guest agent configured\n"),
        (203, "QEMU guest agent is not running\n"),
    ];
    for (vmid, message) in cases {
        let r = s.get(&path(vmid)).await;
        assert_eq!(r.status, 500, "{vmid}");
        assert_eq!(r.message(), message, "{vmid}");
    }
    let r = s
        .get("/nodes/pve1/qemu/999/agent/network-get-interfaces")
        .await;
    assert_eq!(r.status, 500);
    assert!(r.message().contains("does not exist"));

    // A paused guest cannot answer.
    let upid = s.action("/nodes/pve1/qemu/200/status/suspend", &[]).await;
    s.finish(&upid).await;
    let r = s.get(&path(200)).await;
    assert_eq!(r.message(), "QEMU guest agent is not running\n");

    // Interfaces appear once the VM runs.
    let upid = s.action("/nodes/pve1/qemu/201/status/start", &[]).await;
    assert_eq!(s.get(&path(201)).await.status, 500);
    s.finish(&upid).await;
    let d = s.data(&path(201)).await;
    assert!(d["result"].as_array().unwrap().len() >= 2, "{d}");
    let upid = s.action("/nodes/pve1/qemu/201/status/stop", &[]).await;
    s.finish(&upid).await;
    assert_eq!(s.get(&path(201)).await.message(), "VM 201 is not running\n");
}
