use std::time::Duration;

use pvekit::{Client, Error, Timeouts};
use pvekit_sim::SimOptions;

use crate::util::{self, token_config};

#[tokio::test]
async fn slow_answers_time_out() {
    let sim = util::sim_with(SimOptions {
        latency: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let mut cfg = token_config(&sim);
    cfg.timeouts = Timeouts {
        request: Duration::from_millis(100),
        ..Default::default()
    };
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out after"), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    util::install_provider();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = pvekit::Config {
        url: format!("https://127.0.0.1:{port}"),
        token_id: Some("root@pam!tok".into()),
        secret: Some("x".to_string().into()),
        no_tls_verify: true,
        ..Default::default()
    };
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to https://127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn api_errors_carry_the_server_message() {
    let sim = util::sim().await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    let err = client
        .get::<serde_json::Value>("/nodes/pve1/lxc/999999/status/current")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = client
        .get::<serde_json::Value>("/nodes/pve1/lxc/abc/status/current")
        .await
        .unwrap_err();
    let Error::Api { status, errors, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 400);
    assert!(errors.contains_key("vmid"), "{err}");
    let err = client
        .get::<serde_json::Value>("/no/such/path")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(501));
    assert!(
        err.to_string()
            .contains("Method 'GET /no/such/path' not implemented"),
        "{err}"
    );
}

#[tokio::test]
async fn reads_are_retried_and_writes_are_not() {
    let sim = util::sim_with(SimOptions {
        scenario_inline: Some(
            pvekit_sim::Scenario::from_yaml(
                "cluster: c\nnodes: [{name: up}, {name: down, online: false}]\nguests: [{type: lxc, vmid: 100, node: down}, {type: qemu, vmid: 200, node: up, status: running}]\n",
            )
            .unwrap(),
        ),
        ..Default::default()
    })
    .await;
    let client = Client::connect(&token_config(&sim)).await.unwrap();
    // The node the request is proxied to cannot be reached: a 595, worth two more tries.
    let err = client
        .get::<serde_json::Value>("/nodes/down/status")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(595), "{err}");
    assert_eq!(util::count(&sim, "GET", "/nodes/down/status"), 3);
    // A write may have been carried out: never retried blindly.
    let err = client
        .post::<String>("/nodes/down/lxc/100/status/start", &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(595), "{err}");
    assert_eq!(
        util::count(&sim, "POST", "/nodes/down/lxc/100/status/start"),
        1
    );
    // A definite answer (the guest does not exist) is not retried either.
    let _ = client
        .get::<serde_json::Value>("/nodes/up/lxc/999/status/current")
        .await
        .unwrap_err();
    assert_eq!(
        util::count(&sim, "GET", "/nodes/up/lxc/999/status/current"),
        1
    );
    // Nor is any other 500: Proxmox VE's refusals, such as a VM without a guest agent.
    let err = client
        .get::<serde_json::Value>("/nodes/up/qemu/200/agent/network-get-interfaces")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert_eq!(
        util::count(
            &sim,
            "GET",
            "/nodes/up/qemu/200/agent/network-get-interfaces"
        ),
        1
    );
}

/// A TLS server on loopback that answers every request with `answer(port of the plain
/// listener)`, and a plain listener that counts who connects to it.
struct RawServer {
    port: u16,
    plain_hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RawServer {
    async fn start(answer: impl Fn(u16) -> Vec<u8> + Send + Sync + 'static) -> RawServer {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        util::install_provider();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_port = plain.local_addr().unwrap().port();
        let plain_hits = Arc::new(AtomicUsize::new(0));
        let hits = plain_hits.clone();
        tokio::spawn(async move {
            while plain.accept().await.is_ok() {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        });
        let tls = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tls.local_addr().unwrap().port();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((sock, _)) = tls.accept().await {
                let acceptor = acceptor.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(sock).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = s.write_all(&answer(plain_port)).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        RawServer { port, plain_hits }
    }

    fn config(&self) -> pvekit::Config {
        pvekit::Config {
            url: format!("https://127.0.0.1:{}", self.port),
            username: Some("root@pam".into()),
            password: Some("hunter2-password".to_string().into()),
            no_tls_verify: true,
            ..Default::default()
        }
    }
}

#[tokio::test]
async fn redirects_are_not_followed_and_the_password_stays() {
    for code in [301, 302, 307, 308] {
        let server = RawServer::start(move |plain| {
            format!(
                "HTTP/1.1 {code} Moved\r\nLocation: http://127.0.0.1:{plain}/api2/json/access/ticket?x=1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .into_bytes()
        })
        .await;
        let err = Client::connect(&server.config()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("follows no redirects"), "{code}: {text}");
        assert!(!text.contains("hunter2"), "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            server.plain_hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{code}: the login was sent on to the redirect target"
        );
    }
}

#[tokio::test]
async fn an_endless_answer_is_cut_off() {
    // Announces 1 GiB and keeps sending.
    let server = RawServer::start(|_| {
        let mut a = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"data\":\"".to_vec();
        a.resize(a.len() + (40 << 20), b'x');
        a
    })
    .await;
    let err = Client::connect(&server.config()).await.unwrap_err();
    assert!(err.to_string().contains("larger than 32 MiB"), "{err}");
    let server = RawServer::start(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n{".to_vec()
    })
    .await;
    let err = Client::connect(&server.config()).await.unwrap_err();
    assert!(err.to_string().contains("larger than 32 MiB"), "{err}");
}
