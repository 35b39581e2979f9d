//! The live inventory against the simulator.

use pvekit::types::ResourceStatus;
use std::time::Duration;

use pvekit::types::GuestKind;
use pvekit::{Action, ActionOptions, Error, Inventory, InventoryEvent, InventoryOptions};

use crate::guests::{client, lab};
use crate::util::assert_clean;

#[tokio::test]
async fn refresh_fills_a_snapshot_with_ips_and_indexes() {
    let sim = lab().await;
    let c = client(&sim).await;
    let inv = Inventory::new(c.clone(), InventoryOptions::default());
    assert!(matches!(
        inv.reverse_lookup_resource(None, Some("web"), None),
        Err(Error::NoResources)
    ));
    inv.refresh().await.unwrap();
    let snap = inv.snapshot();
    assert_eq!(snap.guests().len(), 10);
    assert!(snap.stale.is_none());
    let web = inv.get_resource(GuestKind::Lxc, 100).unwrap();
    assert_eq!(
        *web.ips,
        ["10.0.0.100".parse::<std::net::IpAddr>().unwrap()]
    );
    // Lookups: by IP, by the first label of a hostname, by alias.
    let ip = "10.0.0.100".parse().unwrap();
    assert_eq!(
        inv.reverse_lookup_resource(Some(ip), None, None)
            .unwrap()
            .vmid,
        100
    );
    assert_eq!(
        inv.reverse_lookup_resource(None, Some("web.example.lan"), None)
            .unwrap()
            .vmid,
        100
    );
    assert_eq!(
        inv.reverse_lookup_resource(None, Some("nope.lan"), Some("db"))
            .unwrap()
            .vmid,
        101
    );
    assert!(matches!(
        inv.reverse_lookup_resource(None, Some("nope"), None),
        Err(Error::ResourceNotFound(_))
    ));
    assert!(matches!(
        inv.get_resource(GuestKind::Qemu, 100),
        Err(Error::ResourceNotFound(_))
    ));
    assert_eq!(
        inv.reverse_lookup_node(Some("pve2.lan"), None, None)
            .as_deref(),
        Some("pve2")
    );
    let pve1_ip = c.members()[0].ip.as_deref().unwrap().parse().unwrap();
    assert_eq!(
        inv.reverse_lookup_node(None, Some(pve1_ip), None)
            .as_deref(),
        Some("pve1")
    );
    assert_clean(&sim);
}

#[tokio::test]
async fn a_steady_poll_is_one_request() {
    let sim = lab().await;
    let c = client(&sim).await;
    let inv = Inventory::new(c.clone(), InventoryOptions::default());
    inv.refresh().await.unwrap();
    let before = c.requests_sent();
    inv.refresh().await.unwrap();
    assert_eq!(
        c.requests_sent() - before,
        1,
        "unchanged guests reuse their IPs"
    );
    // After the IP TTL every guest is looked up again.
    let short = Inventory::new(
        c.clone(),
        InventoryOptions {
            ip_ttl: Duration::ZERO,
            ..Default::default()
        },
    );
    short.refresh().await.unwrap();
    let before = c.requests_sent();
    short.refresh().await.unwrap();
    assert!(c.requests_sent() - before > 1);
}

#[tokio::test]
async fn events_follow_a_guest_that_starts() {
    let sim = lab().await;
    let c = client(&sim).await;
    let inv = Inventory::new(c.clone(), InventoryOptions::default());
    inv.refresh().await.unwrap();
    let mut events = inv.subscribe();
    let _poller = inv.spawn_poller(Duration::from_millis(100));
    let opts = ActionOptions {
        poll: Duration::from_millis(50),
        timeout: Duration::from_secs(10),
        log: false,
    };
    let pve1 = c.nodes().into_iter().find(|n| n.name() == "pve1").unwrap();
    pve1.lxc(101)
        .action_with(Action::Start, opts)
        .await
        .unwrap();
    let mut saw_status = false;
    let mut saw_ips = false;
    tokio::time::timeout(Duration::from_secs(10), async {
        while !(saw_status && saw_ips) {
            match events.recv().await.unwrap() {
                InventoryEvent::StatusChanged { guest, from } if guest.vmid == 101 => {
                    assert_eq!(
                        (from.as_str(), guest.status()),
                        ("stopped", &ResourceStatus::Running)
                    );
                    saw_status = true;
                }
                InventoryEvent::IpsChanged { guest, .. } if guest.vmid == 101 => saw_ips = true,
                _ => {}
            }
        }
    })
    .await
    .expect("status and IP change events arrive");
    // Readers see the new state without waiting for anything.
    assert_eq!(
        inv.get_resource(GuestKind::Lxc, 101).unwrap().status(),
        &ResourceStatus::Running
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_snapshot() {
    let sim = lab().await;
    let c = client(&sim).await;
    let inv = Inventory::new(c, InventoryOptions::default());
    inv.refresh().await.unwrap();
    let mut events = inv.subscribe();
    sim.shutdown().await;
    assert!(inv.refresh().await.is_err());
    let snap = inv.snapshot();
    assert_eq!(snap.guests().len(), 10, "the last good data stays");
    assert!(snap.stale.is_some());
    assert!(matches!(
        events.recv().await.unwrap(),
        InventoryEvent::RefreshFailed(_)
    ));
    assert_eq!(
        inv.reverse_lookup_resource(None, Some("web"), None)
            .unwrap()
            .vmid,
        100
    );
}

#[tokio::test]
async fn dropping_the_poller_stops_it() {
    let sim = lab().await;
    let c = client(&sim).await;
    let inv = Inventory::new(c.clone(), InventoryOptions::default());
    let poller = inv.spawn_poller(Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(poller);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = c.requests_sent();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        c.requests_sent(),
        after_drop,
        "no polling after the handle is dropped"
    );
}

#[tokio::test]
async fn zero_intervals_are_raised_not_fatal() {
    let sim = lab().await;
    let c = client(&sim).await;
    let inv = Inventory::new(c.clone(), InventoryOptions::default());
    // A zero period used to panic inside the poller's task, which then died silently.
    let poller = inv.spawn_poller(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!inv.snapshot().guests().is_empty(), "the poller refreshed");
    let before = c.requests_sent();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let polls = c.requests_sent() - before;
    assert!(polls >= 1, "the poller still runs");
    drop(poller);
    // A task wait with a zero poll interval does not spin: at most one poll per 50 ms.
    let pve1 = c.nodes().into_iter().find(|n| n.name() == "pve1").unwrap();
    let action = pve1.lxc(101).begin(Action::Start).await.unwrap();
    let before = c.requests_sent();
    let started = tokio::time::Instant::now();
    action
        .options(ActionOptions {
            poll: Duration::ZERO,
            ..Default::default()
        })
        .wait()
        .await
        .unwrap();
    let polls = c.requests_sent() - before;
    let allowed = started.elapsed().as_millis() / 50 + 2;
    assert!(
        polls as u128 <= allowed,
        "{polls} polls in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_sweep_spends_at_most_one_request_per_hundred_guests_per_poll() {
    let sim = crate::util::sim_with(pvekit_sim::SimOptions {
        containers: 300,
        vms: 0,
        nodes: 3,
        ..Default::default()
    })
    .await;
    let c = client(&sim).await;
    let ttl = Duration::from_millis(100);
    let inv = Inventory::new(
        c.clone(),
        InventoryOptions {
            ip_ttl: ttl,
            ..Default::default()
        },
    );
    inv.refresh().await.unwrap();
    let guests = inv.snapshot().guests().len();
    assert_eq!(guests, 300);
    // Past the TTL every guest is due, so the sweep is limited by its budget alone.
    tokio::time::sleep(ttl).await;
    let start = tokio::time::Instant::now();
    let polls = 110;
    let mut per_poll = Vec::new();
    for _ in 0..polls {
        let before = c.requests_sent();
        inv.refresh().await.unwrap();
        per_poll.push(c.requests_sent() - before);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let average = per_poll.iter().sum::<u64>() as f64 / polls as f64;
    let allowed = 1.0 + guests as f64 / 100.0;
    assert!(
        average <= allowed,
        "{average} requests per poll on average, more than {allowed}: {per_poll:?}"
    );
    assert!(average > 1.0, "the sweep runs: {per_poll:?}");
    // Spread evenly: no poll pays for several at once.
    let most = *per_poll.iter().max().unwrap();
    assert!(
        most <= 1 + 3 + 1,
        "a burst of {most} requests: {per_poll:?}"
    );
    // In 110 polls of 3 the sweep has been round every guest it can ask (not the ones
    // on offline nodes).
    let snapshot = inv.snapshot();
    let reachable = snapshot
        .guests()
        .iter()
        .filter(|g| *g.status() != ResourceStatus::Unknown)
        .collect::<Vec<_>>();
    assert!(!reachable.is_empty());
    let missed: Vec<u64> = reachable
        .iter()
        .filter(|g| g.ips_resolved < start)
        .map(|g| g.vmid)
        .collect();
    assert!(missed.is_empty(), "never swept: {missed:?}");
}

#[tokio::test]
async fn a_restarted_guest_gets_fresh_ips_at_the_next_poll() {
    let sim = lab().await;
    let c = client(&sim).await;
    // No sweep, no settling after a start: only the restart can cause a look-up.
    let inv = Inventory::new(
        c.clone(),
        InventoryOptions {
            ip_ttl: Duration::ZERO,
            ip_sweep_polls: 0,
            ..Default::default()
        },
    );
    inv.refresh().await.unwrap();
    let web = inv.get_resource(GuestKind::Lxc, 100).unwrap();
    assert_eq!(
        *web.ips,
        ["10.0.0.100".parse::<std::net::IpAddr>().unwrap()]
    );
    let before = c.requests_sent();
    inv.refresh().await.unwrap();
    assert_eq!(c.requests_sent() - before, 1, "nothing happened");

    // Between two polls the guest goes down and comes back running, with a new address
    // (another DHCP lease): same status, node, name and config figures, only a lower uptime.
    let control = sim.control();
    control.remove_guest(100).unwrap();
    let mut again = pvekit_sim::ScenarioGuest::lxc(100, "pve1")
        .with_name("web")
        .running()
        .with_config("startup", "order=2,up=10")
        .with_net(
            0,
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.199/24,type=veth",
        );
    again.uptime = Some(5);
    control.add_guest(again).unwrap();
    let mut events = inv.subscribe();
    let before = c.requests_sent();
    inv.refresh().await.unwrap();
    assert_eq!(
        c.requests_sent() - before,
        2,
        "the list and the guest's interfaces"
    );
    let web = inv.get_resource(GuestKind::Lxc, 100).unwrap();
    assert_eq!(web.status(), &ResourceStatus::Running);
    assert_eq!(
        *web.ips,
        ["10.0.0.199".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(matches!(
        events.try_recv().unwrap(),
        InventoryEvent::IpsChanged { guest, .. } if guest.vmid == 100
    ));

    // Stop and start through the API, both between two polls, after the guest has run a
    // minute. `/cluster/resources` shows the figures of the node's last `pvestatd` cycle (every
    // 10 s): the restart shows at the first poll after the next cycle.
    sim.advance_clock(Duration::from_secs(60));
    let before = c.requests_sent();
    inv.refresh().await.unwrap();
    assert_eq!(c.requests_sent() - before, 1, "the guest only ran on");
    let opts = ActionOptions {
        poll: Duration::from_millis(50),
        timeout: Duration::from_secs(10),
        log: false,
    };
    let ct = c.node("pve1").lxc(100);
    ct.action_with(Action::Stop, opts).await.unwrap();
    ct.action_with(Action::Start, opts).await.unwrap();
    sim.advance_clock(Duration::from_secs(10));
    let resolved = web.ips_resolved;
    let before = c.requests_sent();
    inv.refresh().await.unwrap();
    assert_eq!(
        c.requests_sent() - before,
        2,
        "the list and the guest's interfaces"
    );
    let web = inv.get_resource(GuestKind::Lxc, 100).unwrap();
    assert_eq!(web.status(), &ResourceStatus::Running);
    assert!(web.ips_resolved > resolved, "the IPs were resolved again");
    assert_clean(&sim);
}
