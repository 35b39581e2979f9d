//! Guest services (a test fixture): real listeners on a guest's loopback address while it
//! runs, over the real network stack. Each test uses loopback addresses of its own
//! (127.77.<test>.x) and a port the OS reports free there, so tests in parallel never meet.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use pvekit_sim::{
    ControlError, Scenario, ScenarioGuest, ScenarioNode, ScenarioService, ServiceError, SimError,
    SimOptions, Simulator,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{Sim, opts, start};

/// A port that is free on `ip` right now (the OS picks it).
fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port on a loopback address")
        .port()
}

/// A container's net0 with a static address.
fn net(ip: Ipv4Addr) -> String {
    format!("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:07:01,ip={ip}/8,type=veth")
}

/// A standalone node `pve1` with these guests; tasks take `task_ms`.
fn sim_opts(guests: Vec<ScenarioGuest>, task_ms: u64) -> SimOptions {
    SimOptions {
        scenario_inline: Some(Scenario {
            cluster: None,
            nodes: vec![ScenarioNode::new("pve1")],
            guests,
            users: Vec::new(),
        }),
        task_duration: Duration::from_millis(task_ms),
        ..opts()
    }
}

/// Whether a TCP connection to `addr` is accepted (refused or timed out: false).
async fn connects(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Waits until connecting to `addr` succeeds (`up`) or is refused (`!up`); how long it took.
async fn wait_until(addr: SocketAddr, up: bool, within: Duration) -> Duration {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if connects(addr).await == up {
            return t0.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{addr} still {} after {within:?}",
        if up { "refuses" } else { "accepts" }
    );
}

/// Posts a power action and follows its task until it ends OK; when it ended (as seen).
async fn power(s: &Sim, path: &str) -> Instant {
    let upid = s.action(path, &[]).await;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let t = s.task(&upid).await;
        if t["status"] == "stopped" {
            assert_eq!(t["exitstatus"], "OK", "{path}: {t}");
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{path}: the task did not end");
}

/// Whether the peer closes (or resets) an open connection within `within`.
async fn dropped(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn http_service_follows_start_and_stop() {
    let ip = Ipv4Addr::new(127, 77, 1, 1);
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let ct = ScenarioGuest::lxc(101, "pve1")
        .with_name("web")
        .with_net(0, net(ip))
        .with_service(ScenarioService::http(port).with_ready_after_ms(300));
    let s = start(sim_opts(vec![ct], 50)).await;

    assert!(!connects(addr).await, "a stopped guest does not listen");
    assert!(s.sim.service_listeners().is_empty());

    let running = power(&s, "/nodes/pve1/lxc/101/status/start").await;
    assert!(
        !connects(addr).await,
        "refused until ready_after_ms has passed"
    );
    let cur = s.data("/nodes/pve1/lxc/101/status/current").await;
    assert_eq!(cur["status"], "running", "{cur}");
    // The address a client looks up is the one that will listen.
    let ifaces = s.data("/nodes/pve1/lxc/101/interfaces").await;
    assert!(ifaces.to_string().contains("127.77.1.1/8"), "{ifaces}");
    wait_until(addr, true, Duration::from_secs(5)).await;
    let waited = running.elapsed();
    // The task ended at most a poll before it was seen, so the wait is nearly 300 ms.
    assert!(
        waited >= Duration::from_millis(200),
        "ready after {waited:?}"
    );
    assert_eq!(s.sim.service_listeners(), vec![addr]);

    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let r = http
        .get(format!("http://{addr}/any/path?x=1"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("web") && body.contains("101") && body.contains(&port.to_string()),
        "{body}"
    );

    // A connection left open drops when the guest stops; the port refuses as soon as the
    // API reports the guest stopped.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    power(&s, "/nodes/pve1/lxc/101/status/stop").await;
    assert!(!connects(addr).await, "refused once stopped");
    assert!(dropped(&mut idle, Duration::from_secs(2)).await);
    assert!(s.sim.service_listeners().is_empty());

    // Started again: ready_after_ms counts from the new start.
    power(&s, "/nodes/pve1/lxc/101/status/start").await;
    assert!(!connects(addr).await);
    wait_until(addr, true, Duration::from_secs(5)).await;
    s.sim.shutdown().await;
    assert!(
        !connects(addr).await,
        "the listener ends with the simulator"
    );
}

#[tokio::test]
async fn plain_tcp_service_accepts_while_running() {
    let ip = Ipv4Addr::new(127, 77, 2, 1);
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let ct = ScenarioGuest::lxc(101, "pve1")
        .running()
        .with_net(0, net(ip))
        .with_service(ScenarioService::tcp(port));
    let s = start(sim_opts(vec![ct], 20)).await;

    // Running from the start (with an uptime of an hour or more): listening at once.
    assert_eq!(s.sim.service_listeners(), vec![addr]);
    for _ in 0..3 {
        let mut c = TcpStream::connect(addr).await.expect("accepted");
        c.write_all(b"anything\r\n").await.expect("write");
        // Not HTTP: nothing is answered, the connection stays open until we close it.
        let mut buf = [0u8; 16];
        assert!(
            tokio::time::timeout(Duration::from_millis(100), c.read(&mut buf))
                .await
                .is_err()
        );
    }
    // An HTTP request gets no answer here either.
    let mut c = TcpStream::connect(addr).await.expect("accepted");
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 16];
    assert!(
        tokio::time::timeout(Duration::from_millis(100), c.read(&mut buf))
            .await
            .is_err()
    );

    power(&s, "/nodes/pve1/lxc/101/status/suspend").await;
    assert!(!connects(addr).await, "a suspended container is stopped");
    assert!(dropped(&mut c, Duration::from_secs(2)).await);
    power(&s, "/nodes/pve1/lxc/101/status/resume").await;
    assert!(connects(addr).await);
}

#[tokio::test]
async fn paused_vm_and_reboot() {
    let ip = Ipv4Addr::new(127, 77, 3, 1);
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let vm = ScenarioGuest::qemu(200, "pve1")
        .with_name("vm")
        .running()
        .with_config("agent", 1)
        .with_config("ipconfig0", format!("ip={ip}/8,gw=127.0.0.1"))
        .with_service(ScenarioService::http(port).with_ready_after_ms(200));
    let s = start(sim_opts(vec![vm], 20)).await;

    // The guest agent reports the address the service listens on.
    let agent = s
        .data("/nodes/pve1/qemu/200/agent/network-get-interfaces")
        .await;
    assert!(agent.to_string().contains("127.77.3.1"), "{agent}");
    assert!(connects(addr).await);

    power(&s, "/nodes/pve1/qemu/200/status/suspend").await;
    let cur = s.data("/nodes/pve1/qemu/200/status/current").await;
    assert_eq!(cur["qmpstatus"], "paused", "{cur}");
    assert!(!connects(addr).await, "a paused VM does not listen");
    // Resuming a pause does not wait ready_after_ms again.
    power(&s, "/nodes/pve1/qemu/200/status/resume").await;
    assert!(connects(addr).await);

    // A reboot does.
    power(&s, "/nodes/pve1/qemu/200/status/reboot").await;
    assert!(!connects(addr).await, "rebooted: not ready yet");
    wait_until(addr, true, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn readiness_follows_the_simulator_clock() {
    let ip = Ipv4Addr::new(127, 77, 4, 1);
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    // Tasks of a minute, a service ready an hour after start: only the clock gets there.
    let ct = ScenarioGuest::lxc(101, "pve1")
        .with_net(0, net(ip))
        .with_service(ScenarioService::tcp(port).with_ready_after_ms(3_600_000));
    let s = start(sim_opts(vec![ct], 60_000)).await;
    let upid = s.action("/nodes/pve1/lxc/101/status/start", &[]).await;
    s.sim.advance_clock(Duration::from_secs(61));
    assert_eq!(s.task(&upid).await["status"], "stopped");
    assert!(!connects(addr).await);
    // No request needed: the simulator's timer opens it once the clock has passed.
    s.sim.advance_clock(Duration::from_secs(3600));
    wait_until(addr, true, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn address_changes_move_the_listener() {
    let ip = Ipv4Addr::new(127, 77, 5, 1);
    let port = free_port(ip);
    let moved = Ipv4Addr::new(127, 77, 5, 2);
    let ct = ScenarioGuest::lxc(101, "pve1")
        .running()
        .with_net(0, net(ip))
        .with_service(ScenarioService::tcp(port));
    let s = start(sim_opts(vec![ct], 20)).await;
    assert!(connects(SocketAddr::from((ip, port))).await);

    let r = s
        .put("/nodes/pve1/lxc/101/config", &[("net0", &net(moved))])
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(!connects(SocketAddr::from((ip, port))).await);
    assert!(connects(SocketAddr::from((moved, port))).await);

    // A non-loopback address set at run time is not served (only logged).
    let away = "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:07:01,ip=10.0.0.5/24,type=veth";
    let r = s.put("/nodes/pve1/lxc/101/config", &[("net0", away)]).await;
    assert_eq!(r.status, 200);
    assert!(s.sim.service_listeners().is_empty());
    assert!(!connects(SocketAddr::from((moved, port))).await);
}

#[tokio::test]
async fn non_loopback_addresses_are_refused() {
    let away = "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:07:01,ip=10.0.0.5/24,type=veth";
    let ct = ScenarioGuest::lxc(101, "pve1")
        .running()
        .with_net(0, away)
        .with_service(ScenarioService::http(8080));
    let expected = "guest 101 declares services but its address 10.0.0.5 is not a loopback \
                    address; the simulator only listens on 127.0.0.0/8";
    match Simulator::start(sim_opts(vec![ct.clone()], 20)).await {
        Err(SimError::Service { source, .. }) => {
            assert_eq!(
                source,
                ServiceError::NotLoopback {
                    vmid: 101,
                    addr: Ipv4Addr::new(10, 0, 0, 5)
                }
            );
            assert_eq!(source.to_string(), expected);
        }
        other => panic!("expected a service error, got {:?}", other.map(|_| ())),
    }

    // The same from a YAML file.
    let yaml = format!(
        "nodes:\n  - name: pve1\nguests:\n  - type: lxc\n    vmid: 101\n    node: pve1\n    \
         status: running\n    config:\n      net0: {away}\n    services: [{{port: 8080, http: \
         true, ready_after_ms: 1500}}]\n"
    );
    let err = Scenario::from_yaml(&yaml).unwrap_err();
    assert!(err.contains(expected), "{err}");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("away.yaml");
    std::fs::write(&file, &yaml).expect("write");
    match Simulator::start(SimOptions {
        scenario: Some(file.clone()),
        ..opts()
    })
    .await
    {
        Err(e @ SimError::Service { .. }) => {
            assert!(e.to_string().contains(expected), "{e}");
            assert!(e.to_string().contains(&file.display().to_string()), "{e}");
        }
        other => panic!("expected a service error, got {:?}", other.map(|_| ())),
    }

    // The control handle refuses such a guest too, and opens nothing.
    let s = start(sim_opts(Vec::new(), 20)).await;
    let ctl = s.sim.control();
    assert_eq!(
        ctl.add_guest(ct),
        Err(ControlError::Service(ServiceError::NotLoopback {
            vmid: 101,
            addr: Ipv4Addr::new(10, 0, 0, 5)
        }))
    );
    assert_eq!(s.get("/nodes/pve1/lxc/101/config").await.status, 500);
    assert!(s.sim.service_listeners().is_empty());
}

#[tokio::test]
async fn other_service_errors() {
    let ip = Ipv4Addr::new(127, 77, 6, 1);
    let ct = |vmid| ScenarioGuest::lxc(vmid, "pve1").with_net(0, net(ip));
    let check = |guests: Vec<ScenarioGuest>| {
        Scenario {
            cluster: None,
            nodes: vec![ScenarioNode::new("pve1")],
            guests,
            users: Vec::new(),
        }
        .check_services()
    };
    let dhcp = "name=eth0,bridge=vmbr0,ip=dhcp,type=veth";
    let no_addr = ScenarioGuest::lxc(101, "pve1")
        .with_net(0, dhcp)
        .with_service(ScenarioService::tcp(80));
    assert_eq!(
        check(vec![no_addr.clone()]),
        Err(ServiceError::NoAddress { vmid: 101 })
    );
    // No net0 at all, and a VM without a cloud-init address.
    let bare = ScenarioGuest::lxc(101, "pve1").with_service(ScenarioService::tcp(80));
    assert_eq!(
        check(vec![bare]),
        Err(ServiceError::NoAddress { vmid: 101 })
    );
    let vm = ScenarioGuest::qemu(102, "pve1").with_service(ScenarioService::tcp(80));
    assert_eq!(check(vec![vm]), Err(ServiceError::NoAddress { vmid: 102 }));
    assert_eq!(
        check(vec![ct(101).with_service(ScenarioService::tcp(0))]),
        Err(ServiceError::PortZero { vmid: 101 })
    );
    assert_eq!(
        check(vec![
            ct(101)
                .with_service(ScenarioService::tcp(80))
                .with_service(ScenarioService::http(80))
        ]),
        Err(ServiceError::DuplicatePort {
            vmid: 101,
            port: 80
        })
    );
    assert_eq!(
        check(vec![
            ct(101).with_service(ScenarioService::tcp(80)),
            ct(102).with_service(ScenarioService::http(80)),
        ]),
        Err(ServiceError::Clash {
            vmid: 102,
            other: 101,
            addr: ip,
            port: 80
        })
    );
    let mut stated = ct(101).with_service(ScenarioService::tcp(80));
    stated.interfaces = Some(Vec::new());
    assert_eq!(
        check(vec![stated]),
        Err(ServiceError::NotReported {
            vmid: 101,
            addr: ip
        })
    );
    // Without services nothing of this is asked.
    assert_eq!(
        check(vec![ScenarioGuest::lxc(101, "pve1").with_net(0, dhcp)]),
        Ok(())
    );

    // The control handle: no address, and a port another guest already declares.
    let s = start(sim_opts(
        vec![ct(101).with_service(ScenarioService::tcp(80))],
        20,
    ))
    .await;
    let ctl = s.sim.control();
    assert_eq!(
        ctl.add_guest(no_addr),
        Err(ControlError::Service(ServiceError::NoAddress { vmid: 101 }))
    );
    assert_eq!(
        ctl.add_guest(ct(102).with_service(ScenarioService::tcp(80))),
        Err(ControlError::Service(ServiceError::Clash {
            vmid: 102,
            other: 101,
            addr: ip,
            port: 80
        }))
    );
    assert!(
        ctl.add_guest(ct(103).with_service(ScenarioService::tcp(81)))
            .is_ok()
    );
}

#[tokio::test]
async fn yaml_services() {
    let s = Scenario::from_yaml(
        "nodes:\n  - name: pve1\nguests:\n  - type: lxc\n    vmid: 101\n    node: pve1\n    \
         config:\n      net0: name=eth0,ip=127.0.0.23/8\n    services:\n      - {port: 8080, \
         http: true, ready_after_ms: 1500}\n      - {port: 22}\n",
    )
    .expect("scenario");
    assert_eq!(
        s.guests[0].services,
        vec![
            ScenarioService::http(8080).with_ready_after_ms(1500),
            ScenarioService::tcp(22)
        ]
    );
    let err = Scenario::from_yaml(
        "nodes:\n  - name: pve1\nguests:\n  - type: lxc\n    vmid: 101\n    node: pve1\n    \
         services: [{port: 80, tls: true}]\n",
    )
    .unwrap_err();
    assert!(err.contains("tls"), "{err}");
}

#[tokio::test]
async fn removing_a_running_guest_closes_its_listener() {
    let ip = Ipv4Addr::new(127, 77, 7, 1);
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let s = start(sim_opts(Vec::new(), 20)).await;
    let ctl = s.sim.control();
    // Added running with an uptime of 0: it waits its whole ready_after_ms.
    let mut ct = ScenarioGuest::lxc(101, "pve1")
        .running()
        .with_net(0, net(ip))
        .with_service(ScenarioService::http(port).with_ready_after_ms(150));
    ct.uptime = Some(0);
    ctl.add_guest(ct).expect("added");
    assert!(!connects(addr).await);
    wait_until(addr, true, Duration::from_secs(3)).await;
    let mut idle = TcpStream::connect(addr).await.expect("connect");

    ctl.remove_guest(101).expect("removed");
    assert!(!connects(addr).await, "closed before remove_guest returns");
    assert!(dropped(&mut idle, Duration::from_secs(2)).await);
    assert!(s.sim.service_listeners().is_empty());
}

#[tokio::test]
async fn http_requests_are_bounded() {
    let ip = Ipv4Addr::new(127, 77, 8, 1);
    let port = free_port(ip);
    let addr = SocketAddr::from((ip, port));
    let ct = ScenarioGuest::lxc(101, "pve1")
        .with_name("bounded")
        .running()
        .with_net(0, net(ip))
        .with_service(ScenarioService::http(port));
    let _s = start(sim_opts(vec![ct], 20)).await;

    let exchange = |request: Vec<u8>| async move {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        let _ = c.write_all(&request).await;
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(8), c.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).to_string()
    };
    let ok = exchange(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()).await;
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.ends_with("\r\n\r\n"), "HEAD has no body: {ok}");
    let bad = exchange(b"NOT HTTP\r\n\r\n".to_vec()).await;
    assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
    let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 20_000));
    let big = exchange(huge).await;
    assert!(big.starts_with("HTTP/1.1 431 "), "{big}");
    // A client that never finishes its head is cut off after a few seconds.
    let t0 = Instant::now();
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
    assert!(dropped(&mut slow, Duration::from_secs(8)).await);
    assert!(t0.elapsed() < Duration::from_secs(7), "{:?}", t0.elapsed());
}
