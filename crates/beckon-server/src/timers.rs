//! Waiting for a moment in Beckon's time (offer timeouts now; trigger time conditions and invite
//! expiry later), with the injected clock.
//!
//! `sleep_until` sleeps in real time for as long as the clock says is left, then checks the
//! clock again; `poke` wakes every sleeper to re-check at once. With the system clock that is an
//! ordinary timer; with a test's manual clock, the test moves the clock and pokes, and whatever
//! became due runs immediately — no test ever waits for real time to pass.

use beckon_domain::{Clock, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct Timers {
    clock: Arc<dyn Clock>,
    tick: watch::Sender<u64>,
}

impl Timers {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, tick: watch::Sender::new(0) }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Returns once the clock reads `at` or later.
    pub async fn sleep_until(&self, at: Timestamp) {
        let mut poked = self.tick.subscribe();
        loop {
            let now = self.clock.now();
            if now >= at {
                return;
            }
            let left = Duration::from_millis(at.since(now).max(1) as u64);
            tokio::select! {
                _ = tokio::time::sleep(left) => {}
                _ = poked.changed() => {}
            }
        }
    }

    /// Wakes every sleeper to check the clock again (after a test moved it).
    pub fn poke(&self) {
        self.tick.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::ManualClock;

    #[tokio::test]
    async fn sleepers_wake_when_the_manual_clock_reaches_them() {
        let clock = ManualClock::new(Timestamp(0));
        let timers = Arc::new(Timers::new(Arc::new(clock.clone())));
        let t = timers.clone();
        let sleeper = tokio::spawn(async move { t.sleep_until(Timestamp(30_000)).await });
        tokio::task::yield_now().await;
        clock.advance_millis(10_000);
        timers.poke();
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "not due yet");
        clock.advance_millis(20_000);
        timers.poke();
        tokio::time::timeout(Duration::from_secs(5), sleeper).await.expect("woke up").unwrap();
    }
}
