//! Trust on first use and least-privilege tokens against the simulator.

use std::time::Duration;

use pvekit::access::{Role, TokenSetup};
use pvekit::{Client, Config, Error};

use crate::util::{password_config, sim};

#[tokio::test]
async fn the_certificate_is_described_before_any_trust() {
    let sim = sim().await;
    let cert = pvekit::inspect_certificate(&sim.info().url, Duration::from_secs(5))
        .await
        .expect("one handshake");
    assert_eq!(cert.fingerprint.to_string(), sim.info().fingerprint);
    assert!(!cert.trusted_by_system, "a self-signed certificate");
    assert!(cert.valid_now);
    assert!(
        !cert.subject.is_empty() && !cert.not_after.is_empty(),
        "{cert:?}"
    );
    assert!(sim.requests().is_empty(), "nothing but a handshake");
    let e = pvekit::inspect_certificate("http://example.invalid", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
    // A closed port is a connect error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e =
        pvekit::inspect_certificate(&format!("https://127.0.0.1:{port}"), Duration::from_secs(2))
            .await
            .unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
}

#[tokio::test]
async fn a_viewer_token_lists_but_cannot_power_and_rotation_leaves_one() {
    let sim = sim().await;
    let admin = Client::connect(&password_config(&sim)).await.unwrap();
    let access = admin.access();
    let token = access
        .setup_token(&TokenSetup::new("root@pam", "kit", Role::Viewer))
        .await
        .expect("token set up");
    assert_eq!(token.full_id, "root@pam!kit");
    assert!(!format!("{token:?}").contains(pvekit::ExposeSecret::expose_secret(&token.secret)));
    let viewer = Client::connect(&Config {
        url: sim.info().url.clone(),
        token_id: Some(token.full_id.clone()),
        secret: Some(token.secret.clone()),
        fingerprint: Some(sim.info().fingerprint.clone()),
        ..Default::default()
    })
    .await
    .expect("the token logs in");
    assert!(!viewer.cluster_resources(None).await.unwrap().is_empty());
    let guest = viewer
        .cluster_resources(Some(pvekit::types::ResourceType::Vm))
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.guest_kind().is_some())
        .unwrap();
    let handle = viewer
        .node(guest.node.as_deref().unwrap())
        .lxc(guest.vmid.unwrap());
    let e = handle.begin(pvekit::Action::Start).await.unwrap_err();
    assert!(e.to_string().contains("VM.PowerMgmt"), "{e}");
    // Exactly the role's privileges, as the token sees them.
    let perms = viewer.access().permissions(Some("/"), None).await.unwrap();
    let mut granted: Vec<&str> = perms["/"].keys().map(String::as_str).collect();
    granted.sort_unstable();
    assert_eq!(granted, Role::Viewer.privileges(9));

    // Again without replace: refused; with replace: a new secret, one token.
    let e = access
        .setup_token(&TokenSetup::new("root@pam", "kit", Role::Viewer))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    let again = access
        .setup_token(&TokenSetup {
            replace: true,
            ..TokenSetup::new("root@pam", "kit", Role::Operator)
        })
        .await
        .unwrap();
    assert!(again.replaced);
    let kits = access
        .tokens("root@pam")
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.tokenid == "kit")
        .count();
    assert_eq!(kits, 1);
    // The old secret no longer works.
    let old = Client::connect(&Config {
        url: sim.info().url.clone(),
        token_id: Some(token.full_id.clone()),
        secret: Some(token.secret.clone()),
        fingerprint: Some(sim.info().fingerprint.clone()),
        ..Default::default()
    })
    .await;
    assert!(matches!(old, Err(Error::Auth { .. })), "{old:?}");
}
