//! Routes and wake on demand against the simulator, whose guests serve real ports on
//! loopback addresses (127.78.<test>.1; only loopback is ever probed).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use pvekit::{
    Client, Error, IdleEvent, IdleOptions, IdleWatcher, IpPolicy, NodeConfig, Probe, RouteHints,
    SleepMethod, Store, WakeEventKind, WakeOptions, Waker, WatchConfig, WatchStreamExt, watcher,
};
use pvekit_sim::{RunningSim, Scenario, ScenarioGuest, ScenarioNode, ScenarioService, SimOptions};

use crate::util::{assert_clean, sim_with, token_config};

fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port on a loopback address")
        .port()
}

/// A container on `pve1` at `ip` serving HTTP on `port` from `ready_ms` after its start.
fn web(vmid: u32, ip: Ipv4Addr, port: u16, ready_ms: u64) -> ScenarioGuest {
    ScenarioGuest::lxc(vmid, "pve1")
        .with_name("web")
        .with_net(
            0,
            format!("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:08:01,ip={ip}/8,type=veth"),
        )
        .with_service(ScenarioService::http(port).with_ready_after_ms(ready_ms))
}

async fn lab(guests: Vec<ScenarioGuest>, task_ms: u64) -> (RunningSim, Client) {
    let sim = sim_with(SimOptions {
        scenario_inline: Some(Scenario {
            cluster: None,
            nodes: vec![ScenarioNode::new("pve1")],
            guests,
            users: Vec::new(),
        }),
        task_duration: Duration::from_millis(task_ms),
        ..Default::default()
    })
    .await;
    let client = Client::connect(&token_config(&sim)).await.expect("connect");
    (sim, client)
}

/// Loopback addresses are what the simulated guests have; a real proxy keeps the default.
fn options(probe: Probe) -> WakeOptions {
    WakeOptions {
        probe,
        timeout: Duration::from_secs(10),
        ip_policy: IpPolicy {
            private_only: false,
        },
        ..Default::default()
    }
}

fn starts(sim: &RunningSim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/status/start"))
        .count()
}

#[tokio::test]
async fn wake_starts_a_stopped_container_and_waits_until_it_answers() {
    let ip = Ipv4Addr::new(127, 78, 1, 1);
    let port = free_port(ip);
    let (sim, client) = lab(vec![web(101, ip, port, 300)], 100).await;
    let guest = client.node("pve1").lxc(101);
    let waker = Waker::new();
    let probe = Probe::Http {
        port,
        path: "/health".into(),
    };
    let mut wake = waker.wake(&guest, options(probe));
    let kinds: Vec<WakeEventKind> = wake.events().map(|e| e.kind).collect().await;
    let ready = wake.ready().await.expect("ready");
    assert_eq!(
        kinds,
        [
            WakeEventKind::Starting,
            WakeEventKind::ContainerWoke,
            WakeEventKind::WaitingReady,
            WakeEventKind::Ready
        ]
    );
    assert_eq!(ready.address, SocketAddr::from((ip, port)));
    assert!(ready.started);
    // The boot delay was waited out: the service answers now.
    let answer = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{}/", ready.address))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(answer.status(), 200);
    assert!(ready.elapsed >= Duration::from_millis(400), "{ready:?}");
    assert_eq!(starts(&sim), 1);
    assert_eq!(waker.in_flight(), 0, "a finished flight is forgotten");
    assert_clean(&sim);
}

#[tokio::test]
async fn a_probe_that_never_passes_ends_in_the_timeout_error() {
    let ip = Ipv4Addr::new(127, 78, 2, 1);
    let port = free_port(ip);
    let closed = free_port(ip);
    let (sim, client) = lab(vec![web(101, ip, port, 0).running()], 100).await;
    let guest = client.node("pve1").lxc(101);
    let mut wake = Waker::new().wake(
        &guest,
        WakeOptions {
            timeout: Duration::from_millis(800),
            ..options(Probe::Tcp { port: closed })
        },
    );
    let mut last = None;
    while let Some(e) = wake.next_event().await {
        last = Some(e);
    }
    let last = last.expect("events");
    assert_eq!(last.kind, WakeEventKind::Error);
    assert!(
        last.error.as_deref().is_some_and(|e| e.contains("refused")),
        "{last:?}"
    );
    match wake.ready().await {
        Err(
            e @ Error::WakeFailed {
                timed_out: true, ..
            },
        ) => {
            assert!(e.to_string().contains("waiting for the probe"), "{e}");
            assert!(e.hint().is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(starts(&sim), 0, "a running guest is not started again");
}

#[tokio::test]
async fn a_thousand_concurrent_wakes_send_one_start() {
    let ip = Ipv4Addr::new(127, 78, 3, 1);
    let port = free_port(ip);
    let (sim, client) = lab(vec![web(101, ip, port, 200)], 300).await;
    let guest = client.node("pve1").lxc(101);
    let waker = Waker::new();
    let probe = Probe::Http {
        port,
        path: "/".into(),
    };
    let handles: Vec<_> = (0..1000)
        .map(|_| waker.wake(&guest, options(probe.clone())))
        .collect();
    assert_eq!(waker.in_flight(), 1);
    let ready = futures_util::future::join_all(handles.into_iter().map(|h| h.ready())).await;
    assert!(
        ready.iter().all(|r| r.is_ok()),
        "{:?}",
        ready.iter().find(|r| r.is_err())
    );
    assert_eq!(starts(&sim), 1, "one start for a thousand wakes");
}

#[tokio::test]
async fn a_guest_started_elsewhere_counts_as_woken() {
    let ip = Ipv4Addr::new(127, 78, 4, 1);
    let port = free_port(ip);
    let (sim, client) = lab(vec![web(101, ip, port, 0)], 300).await;
    let guest = client.node("pve1").lxc(101);
    // Someone starts it in the Proxmox UI; the wake comes while that task runs.
    let other = Client::connect(&token_config(&sim)).await.unwrap();
    let task = other
        .node("pve1")
        .lxc(101)
        .begin(pvekit::Action::Start)
        .await
        .unwrap();
    let ready = Waker::new()
        .wake(&guest, options(Probe::Tcp { port }))
        .ready()
        .await
        .expect("ready");
    task.wait().await.unwrap();
    assert_eq!(ready.address.port(), port);
    // Already running when asked, or its own start failed because it was: never a second
    // running start.
    let ok_starts = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/status/start") && r.status == 200)
        .count();
    assert!(ok_starts >= 1);
    // Afterwards, a wake finds it running and starts nothing.
    let before = starts(&sim);
    let again = Waker::new()
        .wake(&guest, options(Probe::Tcp { port }))
        .ready()
        .await
        .unwrap();
    assert!(!again.started);
    assert_eq!(starts(&sim), before);
}

#[tokio::test]
async fn idle_sleep_stops_the_guest_and_an_open_guard_keeps_it_up() {
    let ip = Ipv4Addr::new(127, 78, 5, 1);
    let port = free_port(ip);
    let (_sim, client) = lab(vec![web(101, ip, port, 0).running()], 100).await;
    let guest = client.node("pve1").lxc(101);
    let waker = Waker::new();
    let idle = IdleWatcher::new(
        &waker,
        guest.clone(),
        IdleOptions {
            timeout: Duration::from_millis(300),
            method: SleepMethod::Stop,
            ..Default::default()
        },
    )
    .unwrap();
    let mut events = idle.events();
    let guard = idle.guard();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(guest.is_running().await.unwrap(), "a guard keeps it up");
    assert!(events.borrow().is_none());
    drop(guard);
    tokio::time::timeout(Duration::from_secs(5), events.changed())
        .await
        .expect("it sleeps after the idle timeout")
        .unwrap();
    assert_eq!(
        *events.borrow(),
        Some(IdleEvent::Slept {
            method: SleepMethod::Stop
        })
    );
    assert!(guest.is_stopped().await.unwrap());

    // The next request wakes it again.
    idle.touch();
    let ready = waker
        .wake(&guest, options(Probe::Tcp { port }))
        .ready()
        .await
        .unwrap();
    assert!(ready.started);

    // Containers cannot be suspended when idle.
    let e = IdleWatcher::new(
        &waker,
        guest,
        IdleOptions {
            method: SleepMethod::Suspend,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
}

#[tokio::test]
async fn node_configs_resolve_from_the_store() {
    let ip = Ipv4Addr::new(127, 78, 6, 1);
    let port = free_port(ip);
    let (sim, client) = lab(vec![web(101, ip, port, 0).running()], 100).await;
    let store = Store::new();
    let config = WatchConfig {
        inventory: pvekit::InventoryOptions {
            ip_policy: IpPolicy {
                private_only: false,
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let events = watcher(client.clone(), config).reflect(store.clone());
    futures_util::pin_mut!(events);
    events.next().await.unwrap().unwrap();
    let before = sim.requests().len();

    let auto: NodeConfig = serde_json::from_str(r#"{"node": "pve1", "service": "nginx"}"#).unwrap();
    let by_ip = auto
        .resolve(&store.snapshot(), &RouteHints::ip(ip.into()))
        .unwrap();
    assert_eq!((by_ip.vmid, by_ip.vmname.as_str()), (101, "web"));
    let handle = by_ip.guest_handle(&client).unwrap();
    assert_eq!(handle.vmid(), 101);
    let node: NodeConfig = serde_json::from_str(r#"{"node": "pve1", "vmid": 0}"#).unwrap();
    assert!(
        node.resolve(&store.snapshot(), &RouteHints::default())
            .unwrap()
            .guest
            .is_none()
    );
    let missing: NodeConfig = serde_json::from_str(r#"{"node": "pve1", "vmid": 555}"#).unwrap();
    assert!(matches!(
        missing.resolve(&store.snapshot(), &RouteHints::default()),
        Err(Error::ResourceNotFound(_))
    ));
    let elsewhere: NodeConfig = serde_json::from_str(r#"{"node": "pve7"}"#).unwrap();
    assert!(matches!(
        elsewhere.resolve(&store.snapshot(), &RouteHints::hostname("web")),
        Err(Error::NodeNotFound { .. })
    ));
    assert_eq!(sim.requests().len(), before, "resolution sends no request");
}
