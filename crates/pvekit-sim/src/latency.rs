//! The injected latency ([`crate::SimOptions::latency`]), accurate to a few tens of
//! microseconds.
//!
//! tokio's timer has a 1 ms resolution and rounds every deadline up to its next tick, so
//! `tokio::time::sleep` of 2 ms takes 2 to 3 ms (3.14 ms median, measured). [`Latency`]
//! instead hands each request's wake-up time to one timer thread of the simulator's own,
//! which waits for the earliest one with the kernel's high-resolution timers (a futex
//! timeout through [`std::sync::mpsc::Receiver::recv_timeout`], with the thread's timer
//! slack lowered from Linux's 50 µs to 1 ns) and wakes the request's task through a oneshot
//! channel. It wakes it [`SPIN`] (0.5 ms) before the deadline; the task then yields to the
//! other tasks (`tokio::task::yield_now`) until the deadline has passed: a thread woken from
//! idle is late by tens of microseconds and slow for a while after (its CPU's idle state),
//! which the short loop absorbs. Measured: `wait` of 2 ms takes 2.002 ms (median), and a
//! request to a simulator with 2 ms latency takes 2.02 to 2.09 ms longer than one to a
//! simulator without (the integration test `latency`).
//!
//! The cost: at most [`SPIN`] of yielding per request, and one sleeping thread, only with a
//! non-zero latency; with zero there is no thread and no loop. The thread ends with the
//! simulator (when its sender is dropped); should it be gone, requests fall back to tokio's
//! timer for the first part.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long before the deadline the timer wakes a request, which then yields to the other
/// tasks until the deadline has passed: a worker thread that just woke from idle is slow for
/// a while (its CPU's idle state, caches), and a woken futex is itself late by tens of
/// microseconds; the short yield loop keeps it awake across the deadline.
const SPIN: Duration = Duration::from_micros(500);

/// What a request hands the timer thread: when to wake it, and how.
type Request = (Instant, oneshot::Sender<()>);

/// One waiting request.
struct Wake {
    at: Instant,
    /// Arrival order, so equal deadlines wake first come first.
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Wake {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Wake {}
impl PartialOrd for Wake {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Wake {
    /// Reversed: the max-heap yields the earliest deadline.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The delay added before every answer.
#[derive(Debug)]
pub(crate) struct Latency {
    delay: Duration,
    /// The timer thread's queue (`None` for a zero latency, or when the thread could not
    /// start).
    timer: Option<Mutex<mpsc::Sender<Request>>>,
}

impl Latency {
    /// A latency of `delay`; starts the timer thread when it is not zero.
    pub fn new(delay: Duration) -> Latency {
        let timer = (!delay.is_zero())
            .then(|| {
                let (tx, rx) = mpsc::channel();
                std::thread::Builder::new()
                    .name("pvekit-sim-latency".into())
                    .spawn(move || run(rx))
                    .map_err(|e| {
                        tracing::warn!(error = %e, "pvekit-sim: no precise latency timer; using tokio's");
                    })
                    .ok()
                    .map(|_| Mutex::new(tx))
            })
            .flatten();
        Latency { delay, timer }
    }

    /// Waits for the configured delay, counted from now; returns at once for zero.
    pub async fn wait(&self) {
        if self.delay.is_zero() {
            return;
        }
        let deadline = Instant::now() + self.delay;
        let wake = deadline.checked_sub(SPIN).unwrap_or(deadline);
        if let Some(timer) = &self.timer {
            let (tx, rx) = oneshot::channel();
            let sent = timer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .send((wake, tx))
                .is_ok();
            if !(sent && rx.await.is_ok()) {
                tokio::time::sleep_until(wake.into()).await;
            }
        } else {
            tokio::time::sleep_until(wake.into()).await;
        }
        while Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
    }
}

/// The timer thread: wakes each waiting request at its deadline, earliest first.
fn run(rx: mpsc::Receiver<Request>) {
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    let mut heap: BinaryHeap<Wake> = BinaryHeap::new();
    let mut seq: u64 = 0;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|w| w.at <= now) {
            if let Some(w) = heap.pop() {
                // The request may be gone (its connection closed): nothing to wake then.
                let _ = w.tx.send(());
            }
        }
        let next = match heap.peek() {
            Some(w) => rx.recv_timeout(w.at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((at, tx)) => {
                seq += 1;
                heap.push(Wake { at, seq, tx });
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The simulator is gone.
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_in_deadline_order_and_zero_is_free() {
        let zero = Latency::new(Duration::ZERO);
        assert!(zero.timer.is_none());
        let t = Instant::now();
        zero.wait().await;
        assert!(t.elapsed() < Duration::from_millis(1));

        let l = std::sync::Arc::new(Latency::new(Duration::from_millis(3)));
        let t = Instant::now();
        let waits: Vec<_> = (0..20)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move { l.wait().await })
            })
            .collect();
        for w in waits {
            w.await.expect("wait");
        }
        assert!(t.elapsed() >= Duration::from_millis(3));
    }
}
