use pvekit::{Client, Error};

use crate::util::{self, assert_clean, token_config};

#[tokio::test]
async fn system_trust_refuses_the_self_signed_certificate() {
    let sim = util::sim().await;
    let mut cfg = token_config(&sim);
    cfg.fingerprint = None;
    let err = Client::connect(&cfg).await.unwrap_err();
    let Error::Tls { presented, .. } = &err else {
        panic!("expected a TLS error, got {err:?}")
    };
    assert_eq!(presented.as_deref(), Some(sim.info().fingerprint.as_str()));
    let msg = err.hint().unwrap_or_default();
    assert!(
        msg.contains("fingerprint") && msg.contains("no_tls_verify"),
        "{msg}"
    );
    assert!(
        sim.requests().is_empty(),
        "nothing is sent over an untrusted connection"
    );
}

#[tokio::test]
async fn pinned_fingerprint_connects_in_any_spelling() {
    let sim = util::sim().await;
    let mut cfg = token_config(&sim);
    cfg.fingerprint = Some(sim.info().fingerprint.replace(':', "").to_lowercase());
    Client::connect(&cfg).await.unwrap();
    assert_clean(&sim);
}

#[tokio::test]
async fn wrong_pin_is_refused() {
    let sim = util::sim().await;
    let mut cfg = token_config(&sim);
    cfg.fingerprint = Some("AB:".repeat(31) + "AB");
    let err = Client::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("does not match the pinned fingerprint"),
        "{err}"
    );
}

#[tokio::test]
async fn skipping_verification_connects() {
    let sim = util::sim().await;
    let mut cfg = token_config(&sim);
    cfg.fingerprint = None;
    cfg.no_tls_verify = true;
    Client::connect(&cfg).await.unwrap();
    assert_clean(&sim);
}
