//! The watcher stream and the store against the simulator.

use pvekit::types::ResourceStatus;
use std::time::Duration;

use futures_util::StreamExt;
use pvekit::types::GuestKind;
use pvekit::{Action, InventoryEvent, Store, WatchConfig, WatchEvent, WatchStreamExt, watcher};

use crate::guests::{client, lab};
use crate::util::assert_clean;

fn fast() -> WatchConfig {
    WatchConfig {
        interval: Duration::from_millis(100),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_watcher_lists_then_reports_changes_into_a_store() {
    let sim = lab().await;
    let c = client(&sim).await;
    let store = Store::new();
    let events = watcher(c.clone(), fast()).reflect(store.clone());
    futures_util::pin_mut!(events);
    let WatchEvent::Listed(all) = events.next().await.unwrap().unwrap() else {
        panic!("the first event lists every guest")
    };
    assert!(all.guests().len() > 3);
    assert_eq!(store.guests().len(), all.guests().len());
    let before = store.get(GuestKind::Lxc, 101).unwrap();
    assert_eq!(before.status(), &ResourceStatus::Stopped);
    // A change made elsewhere (another client, the web UI) shows up as an event.
    c.node("pve1").lxc(101).action(Action::Start).await.unwrap();
    let changes = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let WatchEvent::Changed { changes, .. } = events.next().await.unwrap().unwrap() {
                return changes;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        changes.iter().any(|e| matches!(e,
            InventoryEvent::StatusChanged { guest, from } if guest.vmid == 101 && from == "stopped")),
        "{changes:?}"
    );
    assert_eq!(
        store.get(GuestKind::Lxc, 101).unwrap().status(),
        &ResourceStatus::Running
    );
    let name = before.name().unwrap().to_string();
    assert_eq!(
        store
            .reverse_lookup(None, Some(&format!("{name}.lan")), None)
            .map(|g| g.vmid),
        Some(101)
    );
    assert_clean(&sim);
}

#[tokio::test]
async fn a_slow_reader_never_lags_and_a_dropped_watcher_stops() {
    let sim = lab().await;
    let c = client(&sim).await;
    let mut events = Box::pin(watcher(c.clone(), fast()));
    assert!(matches!(
        events.next().await,
        Some(Ok(WatchEvent::Listed(_)))
    ));
    // Nothing is polled while the reader does not ask.
    let idle = c.requests_sent();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.requests_sent(), idle, "no poll without a reader");
    // Two changes while the reader is away: its next pulls report both, from the state of
    // their own polls.
    c.node("pve1").lxc(101).action(Action::Start).await.unwrap();
    c.node("pve1").lxc(100).action(Action::Stop).await.unwrap();
    let mut changed = std::collections::BTreeSet::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while changed.len() < 2 {
            if let Some(Ok(WatchEvent::Changed { changes, .. })) = events.next().await {
                for e in changes {
                    if let InventoryEvent::StatusChanged { guest, .. } = e {
                        changed.insert(guest.vmid);
                    }
                }
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(changed.into_iter().collect::<Vec<_>>(), [100, 101]);
    drop(events);
    let after = c.requests_sent();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.requests_sent(), after, "a dropped watcher polls no more");
}
