//! Waiting for a moment in Beckon's time (offer timeouts now; trigger time conditions and invite
//! expiry later), with the injected clock.
//!
//! `sleep_until` sleeps in real time for as long as the clock says is left, then checks the
//! clock again; `poke` wakes every sleeper to re-check at once. With the system clock that is an
//! ordinary timer; with a test's manual clock, the test moves the clock and pokes, and whatever
//! became due runs immediately — no test ever waits for real time to pass.

use beckon_domain::{Clock, Timestamp};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

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

/// One wake-up instant per key (e.g. per live visitor), all served by one waiting task.
///
/// The alternative, a sleeping task per key, costs a task allocation per idle visitor (over a
/// kilobyte each); here a key costs a set entry and a map entry.
pub struct Schedule<K> {
    inner: Mutex<ScheduleInner<K>>,
    changed: Notify,
}

struct ScheduleInner<K> {
    by_time: BTreeSet<(Timestamp, K)>,
    by_key: HashMap<K, Timestamp>,
}

impl<K: Ord + Hash + Copy> Default for Schedule<K> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(ScheduleInner { by_time: BTreeSet::new(), by_key: HashMap::new() }),
            changed: Notify::new(),
        }
    }
}

impl<K: Ord + Hash + Copy> Schedule<K> {
    /// Sets (or with `None` clears) the key's wake-up, replacing any earlier one.
    pub fn set(&self, key: K, at: Option<Timestamp>) {
        let mut inner = self.inner.lock();
        if let Some(old) = inner.by_key.remove(&key) {
            inner.by_time.remove(&(old, key));
        }
        let Some(at) = at else { return };
        inner.by_key.insert(key, at);
        inner.by_time.insert((at, key));
        let earliest = inner.by_time.first().is_some_and(|(first, k)| *first == at && *k == key);
        drop(inner);
        if earliest {
            // The waiting task may be sleeping towards a later instant.
            self.changed.notify_one();
        }
    }

    /// How many keys have a wake-up.
    pub fn len(&self) -> usize {
        self.inner.lock().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until at least one wake-up is due on `timers`' clock, and returns (and clears) all
    /// the due ones.
    pub async fn next_due(&self, timers: &Timers) -> Vec<K> {
        loop {
            let earliest = {
                let mut inner = self.inner.lock();
                let now = timers.now();
                let mut due = Vec::new();
                while let Some(&(at, key)) = inner.by_time.first()
                    && at <= now
                {
                    inner.by_time.pop_first();
                    inner.by_key.remove(&key);
                    due.push(key);
                }
                if !due.is_empty() {
                    return due;
                }
                inner.by_time.first().map(|(at, _)| *at)
            };
            // `notify_one` leaves a permit when nobody waits, so a `set` between reading the
            // earliest instant and waiting here is not missed.
            match earliest {
                Some(at) => {
                    tokio::select! {
                        _ = timers.sleep_until(at) => {}
                        _ = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::ManualClock;

    #[tokio::test]
    async fn a_schedule_returns_keys_when_due_in_order_and_honours_changes() {
        let clock = ManualClock::new(Timestamp(0));
        let timers = Arc::new(Timers::new(Arc::new(clock.clone())));
        let schedule = Arc::new(Schedule::<u32>::default());
        schedule.set(1, Some(Timestamp(5_000)));
        schedule.set(2, Some(Timestamp(3_000)));
        schedule.set(3, Some(Timestamp(9_000)));
        schedule.set(3, None);
        schedule.set(1, Some(Timestamp(4_000)));
        assert_eq!(schedule.len(), 2);
        let (s, t) = (schedule.clone(), timers.clone());
        let waiter = tokio::spawn(async move { s.next_due(&t).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "nothing is due at 0 s");
        clock.set(Timestamp(4_000));
        timers.poke();
        assert_eq!(waiter.await.unwrap(), vec![2, 1], "both due, earliest first");
        assert!(schedule.is_empty());

        // A key set earlier than the one being waited for wakes the waiter.
        schedule.set(7, Some(Timestamp(60_000)));
        let (s, t) = (schedule.clone(), timers.clone());
        let waiter = tokio::spawn(async move { s.next_due(&t).await });
        tokio::task::yield_now().await;
        schedule.set(8, Some(Timestamp(3_000)));
        assert_eq!(waiter.await.unwrap(), vec![8], "already due when set");
        assert_eq!(schedule.len(), 1);
    }

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
