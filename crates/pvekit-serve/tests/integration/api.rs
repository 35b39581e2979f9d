//! pvekit's own API: inventory, lookups, history, power actions with progress, events,
//! commands and shells, the OpenAPI document, and the router's answers to garbage.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use pvekit_serve::{ConfiguredToken, Role, ServeOptions, hash_token};
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::util::{Lab, fast, lab, lab_with};

async fn json(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = r.send().await.unwrap();
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Reads a server-sent-event stream until `done` or the time runs out: (event, data) pairs.
async fn sse(lab: &Lab, path: &str, until: &str) -> Vec<(String, Value)> {
    let r = lab.get(path).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = r;
    let mut buf = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.chunk())
            .await
            .expect("the stream ends in time");
        let Some(chunk) = chunk.unwrap() else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut event = "message".to_string();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if data.is_empty() {
                continue; // keep-alive comment
            }
            let done = event == until;
            events.push((event, serde_json::from_str(&data).unwrap()));
            if done {
                return events;
            }
        }
    }
    events
}

/// A WebSocket to the server (plain TCP), with the session's bearer token.
async fn websocket(
    lab: &Lab,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}{path}", lab.url.replace("http://", "ws://"));
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", lab.token).parse().unwrap(),
    );
    let host = lab.url.trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    ws
}

#[tokio::test]
async fn inventory_routes_answer_from_the_live_inventory() {
    let lab = lab().await;
    lab.ready().await;
    let (s, guests) = json(lab.get("/api/v1/guests")).await;
    assert_eq!(s, StatusCode::OK);
    let guests = guests.as_array().unwrap();
    assert_eq!(guests.len(), 5);
    let web = guests.iter().find(|g| g["vmid"] == 100).unwrap();
    assert_eq!(web["cluster"], "lab");
    assert_eq!(web["type"], "lxc");
    assert_eq!(web["name"], "web");
    assert_eq!(web["node"], "pve1");
    assert_eq!(web["status"], "running");
    assert_eq!(web["ips"], serde_json::json!(["10.0.0.100"]));
    assert_eq!(web["netin"], 123456789);

    // Nodes, with figures from the facts poll.
    let mut nodes = Value::Null;
    for _ in 0..100 {
        nodes = json(lab.get("/api/v1/nodes")).await.1;
        if nodes[0]["maxmem"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pve1", "pve2"]);
    assert!(nodes[0]["maxmem"].as_u64().unwrap() > 0, "{nodes}");
    assert_eq!(nodes[0]["online"], true);

    // Lookups by IP, hostname and alias.
    let (s, g) = json(lab.get("/api/v1/lookup?ip=192.168.6.6")).await;
    assert_eq!((s, g["vmid"].as_u64()), (StatusCode::OK, Some(106)));
    let (_, g) = json(lab.get("/api/v1/lookup?hostname=db.lan")).await;
    assert_eq!(g["vmid"], 101);
    let (s, e) = json(lab.get("/api/v1/lookup?ip=10.9.9.9")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["message"], "guest not found");
    let (s, _) = json(lab.get("/api/v1/lookup?ip=not-an-ip")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // One guest: its config, and the actions its state allows.
    let (s, d) = json(lab.get("/api/v1/guests/lab/lxc/106")).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["config"]["memory"], 1024);
    assert!(
        d["actions"]
            .as_array()
            .unwrap()
            .contains(&"shutdown".into())
    );
    let (_, tpl) = json(lab.get("/api/v1/guests/lab/lxc/102")).await;
    assert_eq!(tpl["actions"], serde_json::json!([]));
    let (s, e) = json(lab.get("/api/v1/guests/lab/lxc/999")).await;
    assert_eq!(
        (s, e["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("guest not found"))
    );
    let (s, _) = json(lab.get("/api/v1/guests/lab/docker/100")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = json(lab.get("/api/v1/guests/nope/lxc/100")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // History.
    let (s, points) = json(lab.get("/api/v1/guests/lab/lxc/100/rrd?timeframe=hour")).await;
    assert_eq!(s, StatusCode::OK, "{points}");
    assert!(points.as_array().unwrap().len() > 10);
    let (s, _) = json(lab.get("/api/v1/guests/lab/lxc/100/rrd?timeframe=decade")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    lab.stop().await;
}

#[tokio::test]
async fn a_power_action_streams_its_progress_and_the_tasks_own_error() {
    let lab = lab().await;
    lab.ready().await;
    let (s, started) = json(lab.post("/api/v1/guests/lab/lxc/101/start")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    assert!(started["upid"].as_str().unwrap().starts_with("UPID:pve1:"));
    let events = sse(&lab, started["events"].as_str().unwrap(), "done").await;
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "done", "{events:?}");
    assert_eq!(data["ok"], true);
    assert_eq!(data["exitstatus"], "OK");
    // The state was reached before `done`: the API says running (within a poll).
    let mut status = Value::Null;
    for _ in 0..50 {
        status = json(lab.get("/api/v1/guests/lab/lxc/101")).await.1["guest"]["status"].clone();
        if status == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "running");

    // A template cannot start: `done` carries the task's own error text.
    let (s, started) = json(lab.post("/api/v1/guests/lab/lxc/102/start")).await;
    if s == StatusCode::ACCEPTED {
        let events = sse(&lab, started["events"].as_str().unwrap(), "done").await;
        let (_, data) = events.last().unwrap();
        assert_eq!(data["ok"], false);
        assert!(
            data["exitstatus"].as_str().unwrap().contains("template"),
            "{data}"
        );
    } else {
        // Proxmox VE may refuse before a task exists; then the answer says why.
        assert!(s.is_client_error(), "{s} {started}");
        assert!(
            started["error"].as_str().unwrap().contains("template"),
            "{started}"
        );
    }
    let (s, _) = json(lab.post("/api/v1/guests/lab/lxc/101/explode")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    lab.stop().await;
}

#[tokio::test]
async fn roles_gate_actions_and_terminals() {
    let tokens = [("viewer", Role::Viewer), ("operator", Role::Operator)];
    let mut options = fast();
    options.tokens = tokens
        .iter()
        .map(|(name, role)| ConfiguredToken {
            name: name.to_string(),
            role: *role,
            sha256: hash_token(&format!("pvk_test_{name}")),
        })
        .collect();
    let lab = lab_with(options).await;
    assert!(
        lab.server().admin_token().is_none(),
        "tokens configured: none is made"
    );
    let as_ =
        |name: &str, req: reqwest::RequestBuilder| req.bearer_auth(format!("pvk_test_{name}"));
    let url = |p: &str| format!("{}{p}", lab.url);
    let r = as_("viewer", lab.http.get(url("/api/v1/guests")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = as_(
        "viewer",
        lab.http.post(url("/api/v1/guests/lab/lxc/101/start")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("operator"),
        "{body}"
    );
    // An operator may act, but not open a shell (which is root on the node).
    let r = as_(
        "operator",
        lab.http.get(url("/api/v1/nodes/lab/pve1/shell")),
    )
    .header("connection", "upgrade")
    .header("upgrade", "websocket")
    .header("sec-websocket-version", "13")
    .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = as_(
        "operator",
        lab.http.post(url("/api/v1/guests/lab/lxc/101/start")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    lab.stop().await;
}

#[tokio::test]
async fn the_events_websocket_lists_then_sends_changes_and_keeps_alive() {
    let lab = lab().await;
    lab.ready().await;
    let mut ws = websocket(&lab, "/api/v1/events/ws").await;
    let first: Value = match ws.next().await.unwrap().unwrap() {
        Message::Text(t) => serde_json::from_str(&t).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(first["type"], "listed");
    assert_eq!(first["guests"].as_array().unwrap().len(), 5);
    assert_eq!(first["summary"]["name"], "lab");
    // A change made elsewhere arrives as an update.
    lab.post("/api/v1/guests/lab/lxc/101/start")
        .send()
        .await
        .unwrap();
    ws.send(Message::Text("ping".into())).await.unwrap();
    let mut got_pong = false;
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) if t.as_str() == "pong" => got_pong = true,
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "update"
                        && v["guests"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|g| g["vmid"] == 101 && g["status"] == "running")
                    {
                        return v;
                    }
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the start shows up as an update");
    assert_eq!(found["cluster"], "lab");
    assert!(got_pong, "ping gets pong");
    // Shutdown closes the socket with a close frame (1001).
    let server = lab.server.as_ref().unwrap();
    assert!(server.telemetry_websockets() >= 1);
    let Lab { server, sim, .. } = lab;
    let stopping = tokio::spawn(server.unwrap().shutdown());
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(u16::from(close.unwrap().code), 1001);
    stopping.await.unwrap();
    drop(sim);
}

#[tokio::test]
async fn the_events_stream_also_comes_as_server_sent_events() {
    let lab = lab().await;
    lab.ready().await;
    let events = sse(&lab, "/api/v1/events", "listed").await;
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "listed");
    assert_eq!(data["guests"].as_array().unwrap().len(), 5);
    lab.stop().await;
}

#[tokio::test]
async fn exec_streams_output_then_the_exit_status_and_the_shell_echoes() {
    let lab = lab().await;
    lab.ready().await;
    let mut ws = websocket(
        &lab,
        "/api/v1/guests/lab/lxc/100/exec?command=echo%20hello%3B%20exit%203",
    )
    .await;
    let mut output = Vec::new();
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Binary(b) => output.extend_from_slice(&b),
                Message::Text(t) => return serde_json::from_str::<Value>(&t).unwrap(),
                other => panic!("{other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&output).trim(), "hello");
    assert_eq!(status["exit_status"], 3);

    let mut shell = websocket(&lab, "/api/v1/nodes/lab/pve1/shell?cols=100&rows=30").await;
    shell
        .send(Message::Text(r#"{"resize":{"cols":120,"rows":40}}"#.into()))
        .await
        .unwrap();
    shell
        .send(Message::Binary(b"echo marker-$((6*7))\n".to_vec().into()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !String::from_utf8_lossy(&seen).contains("marker-42") {
            if let Message::Binary(b) = shell.next().await.unwrap().unwrap() {
                seen.extend_from_slice(&b);
            }
        }
    })
    .await
    .expect("the shell runs what is typed");
    shell.close(None).await.unwrap();
    lab.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let lab = lab().await;
    let (s, doc) = json(lab.get("/api/v1/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/session",
        "/api/v1/clusters",
        "/api/v1/nodes",
        "/api/v1/guests",
        "/api/v1/guests/{cluster}/{type}/{vmid}",
        "/api/v1/guests/{cluster}/{type}/{vmid}/rrd",
        "/api/v1/guests/{cluster}/{type}/{vmid}/{action}",
        "/api/v1/tasks/{cluster}/{upid}/events",
        "/api/v1/events",
        "/api/v1/events/ws",
        "/api/v1/lookup",
        "/api/v1/nodes/{cluster}/{node}/shell",
        "/api/v1/guests/{cluster}/{type}/{vmid}/shell",
        "/api/v1/guests/{cluster}/{type}/{vmid}/exec",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    lab.stop().await;
}

#[tokio::test]
async fn a_non_loopback_address_needs_tls_and_tokens() {
    crate::util::install_provider();
    let sim = crate::util::sim().await;
    let client = pvekit::Client::connect(&crate::util::token_config(&sim))
        .await
        .unwrap();
    let options = ServeOptions {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..fast()
    };
    let e = pvekit_serve::Server::start(vec![client.clone()], options.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("requires TLS"), "{e}");
    let options = ServeOptions {
        tls: pvekit_serve::TlsSetup::SelfSigned,
        ..options
    };
    let e = pvekit_serve::Server::start(vec![client], options)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("requires configured tokens"), "{e}");
}

/// Random methods, paths (made of real route words, escapes and junk), query strings and
/// bodies: the router answers each with a JSON error or a success, never 500, never a hang
/// or a panic (a panic in a handler would drop the connection).
#[test]
fn the_router_answers_garbage_with_4xx_json() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lab = rt.block_on(async {
        let lab = lab().await;
        lab.ready().await;
        lab
    });
    let word = prop_oneof![
        Just("api".to_string()),
        Just("v1".to_string()),
        Just("proxmox".to_string()),
        Just("guests".to_string()),
        Just("nodes".to_string()),
        Just("lab".to_string()),
        Just("lxc".to_string()),
        Just("qemu".to_string()),
        Just("pve1".to_string()),
        Just("100".to_string()),
        Just("102".to_string()),
        Just("stats".to_string()),
        Just("journalctl".to_string()),
        Just("tail".to_string()),
        Just("events".to_string()),
        Just("tasks".to_string()),
        Just("rrd".to_string()),
        Just("lookup".to_string()),
        Just("suspend".to_string()),
        Just("..".to_string()),
        Just("%00".to_string()),
        Just("%2F".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        "[a-zA-Z0-9%._~-]{0,12}",
        "\\PC{0,6}",
    ];
    // Half the paths follow a real route with random words in its places, half are any
    // sequence of words.
    let routes = prop_oneof![
        Just("api/v1/guests/{}/{}/{}"),
        Just("api/v1/guests/{}/{}/{}/{}"),
        Just("api/v1/guests/{}/{}/{}/rrd"),
        Just("api/v1/tasks/{}/{}/events"),
        Just("api/v1/nodes/{}/{}/shell"),
        Just("api/v1/lookup"),
        Just("api/v1/proxmox/stats/{}"),
        Just("api/v1/proxmox/stats/{}/{}"),
        Just("api/v1/proxmox/journalctl/{}/{}/{}"),
        Just("api/v1/proxmox/tail"),
        Just("api/v1/proxmox/lxc/{}/{}/{}"),
        Just("pve"),
        Just("login"),
    ];
    let templated = (routes, prop::collection::vec(word.clone(), 4)).prop_map(|(route, words)| {
        let mut out = route.to_string();
        for w in words {
            out = out.replacen("{}", &w, 1);
        }
        out.split('/').map(str::to_string).collect::<Vec<_>>()
    });
    let path = prop_oneof![templated, prop::collection::vec(word, 0..7)];
    let query = prop::collection::vec(("[a-z]{1,8}", "\\PC{0,12}"), 0..4);
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("DELETE"),
        Just("PATCH")
    ];
    let body = prop::collection::vec(any::<u8>(), 0..64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(
        &(method, path, query, body),
        |(method, path, query, body)| {
            let mut url = url::Url::parse(&lab.url).unwrap();
            // Segments are joined raw (already escaped or deliberately odd); the URL parser
            // normalises what a client would.
            url.set_path(&format!("/{}", path.join("/")));
            if !query.is_empty() {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in &query {
                    pairs.append_pair(k, v);
                }
            }
            let path_text = url.path().to_string();
            let (status, content_type, text) = rt.block_on(async {
                let req = lab
                    .http
                    .request(method.parse().unwrap(), url.clone())
                    .bearer_auth(&lab.token)
                    .header("content-type", "application/json")
                    .body(body.clone());
                let r = tokio::time::timeout(Duration::from_secs(20), req.send())
                    .await
                    .expect("an answer in time")
                    .expect("an answer, not a dropped connection");
                let status = r.status();
                let ct = r
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                // Streams (SSE) are not read to the end.
                let text = if ct.starts_with("text/event-stream") {
                    String::new()
                } else {
                    r.text().await.unwrap_or_default()
                };
                (status, ct, text)
            });
            prop_assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {url} -> 500 {text}"
            );
            if status.is_client_error() || status.is_server_error() {
                prop_assert!(
                    content_type.starts_with("application/json"),
                    "{method} {url} -> {status} with {content_type}: {text}"
                );
                let v: Value = serde_json::from_str(&text).map_err(|e| {
                    TestCaseError::fail(format!(
                        "{method} {url} -> {status}: not JSON ({e}): {text}"
                    ))
                })?;
                prop_assert!(v["message"].is_string(), "{method} {url}: {text}");
            }
            if status.is_server_error() {
                // Only the upstream's own failures (a gateway error), never the server's.
                prop_assert!(
                    matches!(status.as_u16(), 502 | 504),
                    "{method} {path_text} -> {status}: {text}"
                );
            }
            Ok(())
        },
    );
    rt.block_on(lab.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
}
