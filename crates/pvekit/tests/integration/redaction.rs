use pvekit::Client;

use crate::util::{self, password_config, token_config};

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let sim = util::sim().await;
    let info = sim.info().clone();
    let pw = password_config(&sim);
    let tok = token_config(&sim);
    let client = Client::connect(&pw).await.unwrap();
    for text in [
        format!("{pw:?}"),
        format!("{tok:?}"),
        format!("{client:?}"),
        format!("{info:?}"),
    ] {
        assert!(!text.contains(&info.password), "{text}");
        assert!(!text.contains(&info.secret), "{text}");
        assert!(!text.contains("PVE:"), "{text}");
    }
}

/// A writer shared with the tracing subscriber, to read back everything that was logged.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_stay_out_of_trace_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global, not scoped: callsites shared with tests on other threads would otherwise keep
    // a cached "not interested". Only this test installs a subscriber.
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    let sim = util::sim().await;
    let info = sim.info().clone();
    let client = Client::connect(&password_config(&sim)).await.unwrap();
    let _: serde_json::Value = client.get("/nodes").await.unwrap();
    let token_client = Client::connect(&token_config(&sim)).await.unwrap();
    let _: serde_json::Value = token_client.get("/nodes").await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("connected"),
        "tracing captured nothing: {logs}"
    );
    assert!(!logs.contains(&info.password), "password leaked into logs");
    assert!(
        !logs.contains(&info.secret),
        "token secret leaked into logs"
    );
    assert!(!logs.contains("PVE:root@pam:"), "ticket leaked into logs");
}
