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

/// A cluster that stops answering: polls back off, the store keeps its last snapshot marked
/// stale, and the first good poll is reported even without changes, at the normal pace.
#[tokio::test]
async fn failed_polls_back_off_keep_a_stale_snapshot_and_recover_at_once() {
    use pvekit_sim::{Fault, FaultKind};
    let sim = crate::util::sim().await;
    let client = pvekit::Client::connect(&crate::util::token_config(&sim))
        .await
        .unwrap();
    let store = pvekit::Store::new();
    let config = pvekit::WatchConfig {
        interval: std::time::Duration::from_millis(50),
        ..Default::default()
    };
    let events = pvekit::watcher(client, config).reflect(store.clone());
    futures_util::pin_mut!(events);
    let first = events.next().await.unwrap().unwrap();
    assert!(matches!(first, pvekit::WatchEvent::Listed(_)));
    let guests = store.snapshot().guests().len();
    assert!(guests > 0);

    sim.control()
        .faults()
        .add(
            Fault::new(FaultKind::Status {
                code: 503,
                reason: None,
            })
            .matching("GET /cluster/resources"),
        )
        .unwrap();
    let mut at = Vec::new();
    for _ in 0..4 {
        let item = events.next().await.unwrap();
        assert!(item.is_err(), "{item:?}");
        at.push(std::time::Instant::now());
    }
    // 50 ms between good polls; after failures 100, 200, 400 ms from start to start (a
    // failed poll's own length, with its read retries, varies: the gaps between the errors
    // only approach these).
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(
        gaps[1] >= 150 && gaps[2] >= 250 && gaps.iter().sum::<u128>() >= 600,
        "{gaps:?}"
    );
    let stale = store.snapshot();
    assert_eq!(stale.guests().len(), guests, "the last snapshot is kept");
    assert!(
        stale.stale.as_deref().is_some_and(|s| s.contains("503")),
        "{:?}",
        stale.stale
    );
    assert!(stale.age().is_some());

    sim.control().faults().clear();
    let restored = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
        .await
        .expect("the next poll recovers")
        .unwrap()
        .unwrap();
    // Reported although nothing changed: the snapshot is fresh again.
    assert!(
        matches!(&restored, pvekit::WatchEvent::Changed { changes, .. } if changes.is_empty()),
        "{restored:?}"
    );
    assert!(store.snapshot().stale.is_none());
    assert_eq!(store.snapshot().guests().len(), guests);
}

#[tokio::test]
async fn every_poll_reports_polls_without_changes_and_counts_answers() {
    let sim = lab().await;
    let c = client(&sim).await;
    let quiet = watcher(c.clone(), fast());
    let every = watcher(
        c.clone(),
        WatchConfig {
            every_poll: true,
            ..fast()
        },
    );
    futures_util::pin_mut!(quiet, every);
    assert!(matches!(
        every.next().await,
        Some(Ok(WatchEvent::Listed(_)))
    ));
    assert!(matches!(
        quiet.next().await,
        Some(Ok(WatchEvent::Listed(_)))
    ));
    // Nothing changes in the cluster: the default watcher stays quiet for several intervals,
    // while `every_poll` reports each poll, with no changes.
    for _ in 0..3 {
        let Some(Ok(WatchEvent::Changed { changes, snapshot })) = every.next().await else {
            panic!("every poll is reported")
        };
        assert!(changes.is_empty(), "{changes:?}");
        assert!(snapshot.stale.is_none());
    }
    let waited = tokio::time::timeout(Duration::from_millis(350), quiet.next()).await;
    assert!(
        waited.is_err(),
        "a poll without changes is not reported by default"
    );
    // Every request is counted once under its answer's status (the 500s are the QEMU guest
    // agent's "not running" for the VM without an agent, as Proxmox VE answers).
    let answers = c.answers_by_status();
    assert!(
        answers.iter().any(|(s, n)| *s == Some(200) && *n >= 5),
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|(s, _)| matches!(s, Some(200 | 500))),
        "{answers:?}"
    );
    let counted: u64 = answers.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, c.requests_sent(), "{answers:?}");
    assert_clean(&sim);
}
