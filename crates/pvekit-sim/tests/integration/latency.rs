//! The injected latency is accurate: a 2 ms delay adds 2 ms, not 2 to 3 ms (tokio's timer
//! rounds up to its 1 ms ticks).

use std::time::{Duration, Instant};

use pvekit_sim::SimOptions;

use crate::util::{Sim, opts, start};

async fn timed_get(s: &Sim) -> Duration {
    let t = Instant::now();
    let r = s.get("/version").await;
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn injected_latency_is_accurate() {
    const LATENCY: Duration = Duration::from_millis(2);
    const N: usize = 200;
    let plain = start(opts()).await;
    let slow = start(SimOptions {
        latency: LATENCY,
        ..opts()
    })
    .await;
    // Connections set up, code paths warm.
    for _ in 0..20 {
        timed_get(&plain).await;
        timed_get(&slow).await;
    }
    // Interleaved, so both see the same load of this shared machine; a round disturbed by
    // other work (tests run in parallel on few cores) is measured again, up to three rounds.
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let (mut base, mut with) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for _ in 0..N {
            base.push(timed_get(&plain).await);
            with.push(timed_get(&slow).await);
        }
        let (base, with) = (median(base), median(with));
        let added = with.saturating_sub(base);
        eprintln!(
            "latency {LATENCY:?}: median request {base:?} without, {with:?} with; added {added:?}"
        );
        rounds.push(added);
        if added.abs_diff(LATENCY) <= Duration::from_micros(200) {
            return;
        }
    }
    panic!("the added latency for {LATENCY:?} was {rounds:?} (medians of {N} requests)");
}
