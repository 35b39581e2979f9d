//! The simulator's clock: real time plus an adjustable offset, which tests may freeze.
//!
//! Tickets, CSRF tokens, uptimes and counters all read this clock, so
//! [`RunningSim::advance_clock`](crate::RunningSim::advance_clock) ages everything at once
//! without waiting, and [`RunningSim::freeze_clock`](crate::RunningSim::freeze_clock) holds
//! every figure still, so two clients reading at different moments see the same values.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `frozen_ms` when the clock runs.
const RUNNING: i64 = i64::MIN;

/// Real time shifted by an offset; while frozen, the real time it was frozen at.
#[derive(Debug)]
pub(crate) struct Clock {
    offset_ms: AtomicI64,
    /// The real time (unix ms) the clock was frozen at, or [`RUNNING`].
    frozen_ms: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset_ms: AtomicI64::new(0),
            frozen_ms: AtomicI64::new(RUNNING),
        }
    }
}

fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// Now, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let frozen = self.frozen_ms.load(Ordering::Relaxed);
        let real = if frozen == RUNNING { real_ms() } else { frozen };
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, in unix seconds.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Now, in fractional unix seconds.
    pub fn now_f64(&self) -> f64 {
        self.now_ms() as f64 / 1000.0
    }

    /// Moves the clock forward (frozen or not).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Stops the clock where it is (a no-op when already frozen).
    pub fn freeze(&self) {
        let _ = self.frozen_ms.compare_exchange(
            RUNNING,
            real_ms(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Lets a frozen clock run again from where it stopped, so it never jumps (the time it
    /// stood still is taken off the offset).
    pub fn resume(&self) {
        let frozen = self.frozen_ms.swap(RUNNING, Ordering::Relaxed);
        if frozen != RUNNING {
            self.offset_ms
                .fetch_sub(real_ms() - frozen, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stands_still_advances_on_demand_and_resumes_without_a_jump() {
        let clock = Clock::default();
        clock.freeze();
        let t = clock.now_ms();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now_ms(), t);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now_ms(), t + 5000);
        clock.resume();
        let after = clock.now_ms();
        assert!((t + 5000..t + 5000 + 1000).contains(&after), "{t} {after}");
    }
}
