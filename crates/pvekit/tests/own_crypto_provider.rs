//! The library brings its own rustls crypto provider: a program that installs none can
//! connect, call the API and open a terminal. This test runs in its own binary, so nothing
//! else in the process installs a default provider.

use pvekit::{Client, Config};
use pvekit_sim::{SimOptions, Simulator};

#[tokio::test]
async fn no_program_has_to_install_a_crypto_provider() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let info = sim.info();
    let config = Config {
        url: info.url.clone(),
        token_id: Some(info.token_id.clone()),
        secret: Some(info.secret.clone().into()),
        username: Some(info.username.clone()),
        password: Some(info.password.clone().into()),
        fingerprint: Some(info.fingerprint.clone()),
        ..Default::default()
    };
    let client = Client::connect(&config).await.unwrap();
    assert!(!client.members().is_empty());
    let (out, status) = client
        .node("pve1")
        .command("echo hi")
        .await
        .unwrap()
        .output()
        .await
        .unwrap();
    assert_eq!((out, status), (b"hi\n".to_vec(), 0));
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "nothing installed a process-wide provider"
    );
}
