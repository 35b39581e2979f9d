//! A reverse proxy that wakes its container on demand and puts it back to sleep, as GoDoxy's
//! idle watcher does, against the embedded simulator:
//!
//! ```text
//! cargo run -p pvekit --example wake_proxy
//! ```
//!
//! 1. A simulated node `pve1` with container 101 `web`, stopped; once started it serves
//!    HTTP on 127.80.0.1:8080 after a 1.5 s boot.
//! 2. The route `web.lan` binds to it with a `NodeConfig` (`node: pve1`, no `vmid`: found by
//!    the route's host name), resolved from a watcher's store.
//! 3. The proxy (on a free loopback port) wakes the container on each request, waits until
//!    it answers, and forwards the request; an [`IdleWatcher`] shuts it down after 3 s
//!    without requests.
//! 4. The example sends a request (the container wakes), waits for the idle shutdown, and
//!    sends another (it wakes again), printing each step.
//!
//! Against a real cluster, connect with your own [`pvekit::Config`] and keep the default
//! [`IpPolicy`] (private addresses only); the simulator's containers have loopback addresses.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use pvekit::{
    Client, Config, Guest, IdleEvent, IdleOptions, IdleWatcher, InventoryOptions, IpPolicy,
    NodeConfig, Probe, RouteHints, SleepMethod, Store, WakeOptions, Waker, WatchConfig,
    WatchStreamExt, watcher,
};
use pvekit_sim::{Scenario, ScenarioGuest, ScenarioNode, ScenarioService, SimOptions, Simulator};

const UPSTREAM_IP: Ipv4Addr = Ipv4Addr::new(127, 80, 0, 1);
const UPSTREAM_PORT: u16 = 8080;

/// What the proxy's handler needs.
struct Upstream {
    guest: Guest,
    waker: Waker,
    idle: IdleWatcher,
    wake: WakeOptions,
    http: reqwest::Client,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // pvekit brings its own TLS setup; this example's own HTTP clients (reqwest, built here
    // without a default crypto provider) need one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();

    // 1. The simulated cluster.
    let web = ScenarioGuest::lxc(101, "pve1")
        .with_name("web")
        .with_net(
            0,
            format!("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:0A:01,ip={UPSTREAM_IP}/8,type=veth"),
        )
        .with_service(ScenarioService::http(UPSTREAM_PORT).with_ready_after_ms(1500));
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse()?,
        scenario_inline: Some(Scenario {
            cluster: None,
            nodes: vec![ScenarioNode::new("pve1")],
            guests: vec![web],
            users: Vec::new(),
        }),
        task_duration: Duration::from_millis(500),
        ..Default::default()
    })
    .await?;
    let info = sim.info();
    let client = Client::connect(&Config {
        url: info.url.clone(),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        fingerprint: Some(info.fingerprint.clone()),
        ..Default::default()
    })
    .await?;
    let all_addresses = IpPolicy {
        private_only: false,
    };

    // 2. The route's binding, from a watcher's store (no request per resolution).
    let store = Store::new();
    let watch = WatchConfig {
        inventory: InventoryOptions {
            ip_policy: all_addresses,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut events = Box::pin(watcher(client.clone(), watch).reflect(store.clone()));
    events.next().await.transpose()?;
    let watching = tokio::spawn(async move { while events.next().await.is_some() {} });
    let config: NodeConfig = serde_saphyr::from_str("node: pve1\nservice: nginx\n")?;
    let route = config.resolve(&store.snapshot(), &RouteHints::hostname("web.lan"))?;
    println!(
        "route web.lan binds to {} {} ({}) on {}",
        route.kind().map_or("node".into(), |k| k.to_string()),
        route.vmid,
        route.vmname,
        route.node
    );
    let guest = route
        .guest_handle(&client)
        .ok_or_else(|| anyhow::anyhow!("the route binds to a node"))?;

    // 3. The proxy.
    let waker = Waker::new();
    let idle = IdleWatcher::new(
        &waker,
        guest.clone(),
        IdleOptions {
            timeout: Duration::from_secs(3),
            method: SleepMethod::Shutdown,
            ..Default::default()
        },
    )?;
    let mut slept = idle.events();
    let upstream = Arc::new(Upstream {
        guest,
        waker,
        idle,
        wake: WakeOptions {
            probe: Probe::Http {
                port: UPSTREAM_PORT,
                path: "/".into(),
            },
            timeout: Duration::from_secs(30),
            ip_policy: all_addresses,
            ..Default::default()
        },
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?,
    });
    let app = axum::Router::new().fallback(proxy).with_state(upstream);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = listener.local_addr()?;
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("proxy listening on http://{proxy_addr}");

    // 4. Requests: wake, idle shutdown, wake again.
    let browser = reqwest::Client::builder().no_proxy().build()?;
    request(&browser, proxy_addr, "first request").await?;
    println!("waiting for the idle shutdown (3 s without requests)...");
    tokio::time::timeout(Duration::from_secs(30), slept.changed()).await??;
    if let Some(IdleEvent::Slept { method }) = &*slept.borrow() {
        println!("the container was put to sleep ({method:?})");
    }
    request(&browser, proxy_addr, "request after the sleep").await?;

    serving.abort();
    watching.abort();
    sim.shutdown().await;
    Ok(())
}

/// Sends one request through the proxy and prints what came back.
async fn request(http: &reqwest::Client, proxy: SocketAddr, what: &str) -> anyhow::Result<()> {
    let t = Instant::now();
    let r = http
        .get(format!("http://{proxy}/hello"))
        .header("host", "web.lan")
        .send()
        .await?;
    let status = r.status();
    let body = r.text().await?;
    println!(
        "{what}: {status} after {:.1}s: {}",
        t.elapsed().as_secs_f64(),
        body.trim()
    );
    Ok(())
}

/// Wakes the upstream (sharing the wake with concurrent requests), then forwards.
async fn proxy(State(up): State<Arc<Upstream>>, request: Request) -> Response {
    // Keeps the container awake while this request is in flight.
    let _active = up.idle.guard();
    let ready = match up.waker.wake(&up.guest, up.wake.clone()).ready().await {
        Ok(ready) => ready,
        Err(e) => return (StatusCode::GATEWAY_TIMEOUT, format!("{e}\n")).into_response(),
    };
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let forwarded = up
        .http
        .request(
            request.method().clone(),
            format!("http://{}{path}", ready.address),
        )
        .send()
        .await;
    match forwarded {
        Ok(r) => {
            let status = r.status();
            match r.bytes().await {
                Ok(body) => (status, body).into_response(),
                Err(e) => (StatusCode::BAD_GATEWAY, format!("{e}\n")).into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e}\n")).into_response(),
    }
}
