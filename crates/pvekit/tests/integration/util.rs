//! Shared helpers: start a simulator, build configs for it, check what the client sent.

use pvekit::Config;
use pvekit_sim::{RunningSim, SimOptions, Simulator};

pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts a strict simulator on a free port.
pub async fn sim_with(opts: SimOptions) -> RunningSim {
    install_provider();
    Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        strict: true,
        ..opts
    })
    .await
    .expect("simulator starts")
}

pub async fn sim() -> RunningSim {
    sim_with(SimOptions::default()).await
}

/// Token auth with the certificate pinned.
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

/// Password auth with the certificate pinned.
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

/// Asserts the simulator rejected nothing and every request fits the official schema.
pub fn assert_clean(sim: &RunningSim) {
    let rejected = sim.rejections();
    assert!(
        rejected.is_empty(),
        "the simulator rejected requests: {rejected:#?}"
    );
    crate::util::assert_requests_fit_schema(sim);
}

pub fn assert_requests_fit_schema(sim: &RunningSim) {
    let schema = pvekit_sim::conformance::SchemaSet::load_default().expect(
        "the official schema subset is readable (crates/pvekit-sim/schema/schema-subset.json)",
    );
    let problems = schema.off_schema(&sim.requests());
    assert!(
        problems.is_empty(),
        "requests outside the schema: {problems:#?}"
    );
}

pub fn count(sim: &RunningSim, method: &str, path: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}
