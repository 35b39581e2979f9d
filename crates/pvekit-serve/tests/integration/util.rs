//! Shared helpers: a simulator, a server over it, and an HTTP client.

#![allow(dead_code)]

use std::time::Duration;

use pvekit::{Client, Config};
use pvekit_serve::{Running, ServeOptions, Server};
use pvekit_sim::{RunningSim, Scenario, SimOptions, Simulator};
use secrecy::ExposeSecret as _;

/// A small cluster with running and stopped containers, a template, a VM.
pub const CLUSTER: &str = r#"
cluster: lab
nodes:
  - name: pve1
  - name: pve2
guests:
  - {type: lxc, vmid: 100, node: pve1, name: web, status: running,
     config: {net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.100/24,type=veth"},
     counters: {cpu: 0.311, mem: 268435456, netin: 123456789, netout: 98765432, diskread: 5555555, diskwrite: 4444444}}
  - {type: lxc, vmid: 101, node: pve1, name: db,
     config: {net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:01,ip=10.0.0.101/24,type=veth"}}
  - {type: lxc, vmid: 102, node: pve1, name: tpl, template: true}
  - {type: lxc, vmid: 106, node: pve2, name: busy, status: running, docker: true,
     config: {memory: 1024, net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:06:01,ip=192.168.6.6/24,type=veth"}}
  - {type: qemu, vmid: 200, node: pve2, name: vm-agent, status: running, agent: true}
"#;

/// A simulator, a server watching it, and what a caller needs.
pub struct Lab {
    pub sim: RunningSim,
    pub server: Option<Running>,
    pub url: String,
    /// The admin token made at start.
    pub token: String,
    pub http: reqwest::Client,
}

impl Lab {
    pub fn server(&self) -> &Running {
        self.server.as_ref().unwrap()
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
    }

    pub fn anonymous(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    /// Waits until the server's inventory of every cluster is in.
    pub async fn ready(&self) {
        for _ in 0..200 {
            let r = self.get("/api/v1/clusters").send().await.unwrap();
            if r.status().is_success() {
                let v: serde_json::Value = r.json().await.unwrap();
                if v.as_array().is_some_and(|a| {
                    !a.is_empty() && a.iter().all(|c| c["guests"].as_u64().unwrap_or(0) > 0)
                }) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server's inventory did not fill");
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

pub async fn sim() -> RunningSim {
    Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        strict: true,
        scenario_inline: Some(Scenario::from_yaml(CLUSTER).unwrap()),
        task_duration: Duration::from_millis(150),
        ..Default::default()
    })
    .await
    .expect("simulator starts")
}

pub fn token_config(sim: &RunningSim) -> Config {
    let info = sim.info();
    Config {
        url: info.url.clone(),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        fingerprint: Some(info.fingerprint.clone()),
        ..Default::default()
    }
}

/// Password login (root@pam): what exec, journals and shells need.
pub fn password_config(sim: &RunningSim) -> Config {
    let info = sim.info();
    Config {
        url: info.url.clone(),
        username: Some(info.username.clone()),
        password: Some(info.password.clone().into()),
        fingerprint: Some(info.fingerprint.clone()),
        ..Default::default()
    }
}

/// Fast polls, so tests see changes quickly.
pub fn fast() -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        watch: pvekit::WatchConfig {
            interval: Duration::from_millis(200),
            ..Default::default()
        },
        guest_stats_interval: Duration::from_millis(300),
        node_stats_interval: Duration::from_millis(200),
        ..Default::default()
    }
}

pub async fn lab() -> Lab {
    lab_with(fast()).await
}

/// The tests' own HTTP client (reqwest) needs a process-wide rustls provider; pvekit does not.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub async fn lab_with(options: ServeOptions) -> Lab {
    install_provider();
    let sim = sim().await;
    // Token and password login both: a root@pam password login opens terminals.
    let mut config = password_config(&sim);
    let token = token_config(&sim);
    config.token_id = token.token_id;
    config.secret = token.secret;
    let client = Client::connect(&config).await.expect("client connects");
    let server = Server::start(vec![client], options)
        .await
        .expect("server starts");
    let url = server.url().to_string();
    let token = server
        .admin_token()
        .map(|t| t.expose_secret().to_string())
        .unwrap_or_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Lab {
        sim,
        server: Some(server),
        url,
        token,
        http,
    }
}
