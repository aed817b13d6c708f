//! Rate limits and concurrency bounds against abuse: per client address, per visitor, per
//! account — so that one anonymous visitor, one address or one guessed account cannot take the
//! server's memory, CPU or database for itself.
//!
//! Rates use `governor`'s keyed GCRA limiters (a burst, then a steady rate) on the server's
//! injected clock, so tests move time instead of waiting. Keys are addresses (IPv6 by /64, the
//! block one subscriber usually holds) or ids; every limiter drops keys that have fully
//! recovered once it holds many, so memory follows the addresses active in the last minutes.
//! These limits are per node; docs/security.md says what that means for a cluster.

use crate::config::LimitSettings;
use beckon_domain::{Clock, VisitorId};
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Beckon's clock as a governor clock (milliseconds are fine-grained enough for these limits).
#[derive(Clone)]
pub struct AppClock(Arc<dyn Clock>);

impl GovernorClock for AppClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(u64::try_from(self.0.now().0).unwrap_or(0).saturating_mul(1_000_000))
    }
}

/// A client address as limits count it: an IPv4 address, or the /64 an IPv6 address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrKey(u128);

impl From<IpAddr> for AddrKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => AddrKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey(u128::from(u32::from(v4))),
                None => AddrKey(u128::from(v6) & !((1u128 << 64) - 1)),
            },
        }
    }
}

/// At most `burst` at once, then `per_minute` a minute, per key.
pub struct RateLimit<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DashMapStateStore<K>, AppClock, NoOpMiddleware<Nanos>>,
    clock: AppClock,
    checks: AtomicU64,
}

/// Keys held before the limiter looks for ones that have fully recovered.
const TIDY_ABOVE: usize = 4_096;

impl<K: Hash + Eq + Clone> RateLimit<K> {
    pub fn new(per_minute: u32, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).expect("non-zero");
        let burst = NonZeroU32::new(burst.max(1)).expect("non-zero");
        let clock = AppClock(clock);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one more for `key`: `Err(wait)` when over the limit (nothing is counted then).
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(1_024)
            && self.limiter.len() > TIDY_ABOVE
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Keys held now (tests).
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }
}

/// Bounds concurrent password hashing (argon2 takes ~19 MiB and tens of milliseconds each):
/// `concurrent` at once, `queue` more waiting; beyond that a sign-in is refused at once.
pub struct HashingGate {
    permits: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
}

impl HashingGate {
    pub fn new(concurrent: usize, queue: usize) -> Self {
        Self { permits: Semaphore::new(concurrent.max(1)), waiting: AtomicUsize::new(0), queue }
    }

    /// Sign-ins waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// A permit to hash, or `None` when too many are already waiting.
    pub async fn enter(&self) -> Option<SemaphorePermit<'_>> {
        if let Ok(p) = self.permits.try_acquire() {
            return Some(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = self.permits.acquire().await.ok();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit
    }
}

/// How many of something (sockets) each key holds at once, up to a maximum; a [`Held`] gives
/// its place back when dropped.
pub struct Concurrency<K: Hash + Eq + Copy> {
    held: Mutex<HashMap<K, u32>>,
}

impl<K: Hash + Eq + Copy> Default for Concurrency<K> {
    fn default() -> Self {
        Self { held: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq + Copy> Concurrency<K> {
    /// One more for `key`, unless it holds `max` already.
    pub fn try_hold(self: &Arc<Self>, key: K, max: u32) -> Option<Held<K>> {
        let mut held = self.held.lock();
        let n = held.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Held { of: self.clone(), key })
    }

    /// How many `key` holds now.
    pub fn count(&self, key: K) -> u32 {
        self.held.lock().get(&key).copied().unwrap_or(0)
    }
}

pub struct Held<K: Hash + Eq + Copy> {
    of: Arc<Concurrency<K>>,
    key: K,
}

impl<K: Hash + Eq + Copy> Drop for Held<K> {
    fn drop(&mut self) {
        let mut held = self.of.held.lock();
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// Every limit the server enforces in memory, built from `limits.*` settings.
pub struct Limits {
    pub settings: LimitSettings,
    pub sign_in_by_address: RateLimit<AddrKey>,
    pub hashing: HashingGate,
    pub sockets_by_address: Arc<Concurrency<AddrKey>>,
    pub sockets_by_visitor: Arc<Concurrency<VisitorId>>,
    pub new_visitors_by_address: RateLimit<AddrKey>,
    pub messages_by_visitor: RateLimit<VisitorId>,
    pub messages_by_address: RateLimit<AddrKey>,
    pub page_views_by_visitor: RateLimit<VisitorId>,
    pub page_views_by_address: RateLimit<AddrKey>,
    pub typing_by_visitor: RateLimit<VisitorId>,
    pub attachments_by_visitor: RateLimit<VisitorId>,
    pub attachments_by_address: RateLimit<AddrKey>,
}

impl Limits {
    pub fn new(settings: LimitSettings, clock: Arc<dyn Clock>) -> Self {
        let s = &settings;
        fn rate<K: Hash + Eq + Clone>(per_minute: u32, burst: u32, clock: &Arc<dyn Clock>) -> RateLimit<K> {
            RateLimit::new(per_minute, burst, clock.clone())
        }
        let c = &clock;
        Self {
            sign_in_by_address: rate(s.sign_ins_per_address_per_minute, s.sign_ins_per_address_per_minute, c),
            hashing: HashingGate::new(s.concurrent_password_hashes, s.password_hash_queue),
            sockets_by_address: Arc::default(),
            sockets_by_visitor: Arc::default(),
            new_visitors_by_address: rate(
                s.new_visitors_per_address_per_minute,
                s.new_visitors_per_address_per_minute,
                c,
            ),
            messages_by_visitor: rate(
                s.messages_per_visitor_per_minute,
                s.messages_per_visitor_per_minute / 3,
                c,
            ),
            messages_by_address: rate(
                s.messages_per_address_per_minute,
                s.messages_per_address_per_minute,
                c,
            ),
            page_views_by_visitor: rate(
                s.page_views_per_visitor_per_minute,
                s.page_views_per_visitor_per_minute / 2,
                c,
            ),
            page_views_by_address: rate(
                s.page_views_per_address_per_minute,
                s.page_views_per_address_per_minute,
                c,
            ),
            typing_by_visitor: rate(s.typing_per_visitor_per_minute, s.typing_per_visitor_per_minute / 12, c),
            attachments_by_visitor: rate(
                s.attachments_per_visitor_per_minute,
                s.attachments_per_visitor_per_minute / 3,
                c,
            ),
            attachments_by_address: rate(
                s.attachments_per_address_per_minute,
                s.attachments_per_address_per_minute,
                c,
            ),
            settings,
        }
    }
}

/// How long sign-in is refused after the `failures`-th failure in a row for one email: the
/// first few are free (typos), then the wait doubles from one second up to `max`.
pub fn sign_in_backoff(failures: u32, free: u32, max: Duration) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    let secs = 1u64.checked_shl(over).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(max))
}

/// Whole seconds to tell a client to wait (`Retry-After`), at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::{ManualClock, Timestamp};

    #[test]
    fn a_burst_then_the_steady_rate_per_key_on_the_injected_clock() {
        let clock = ManualClock::new(Timestamp(1_000_000));
        let limit = RateLimit::new(60, 3, Arc::new(clock.clone()));
        let a = AddrKey::from("10.0.0.1".parse::<IpAddr>().unwrap());
        let b = AddrKey::from("10.0.0.2".parse::<IpAddr>().unwrap());
        for _ in 0..3 {
            assert!(limit.check(&a).is_ok());
        }
        let wait = limit.check(&a).unwrap_err();
        assert_eq!(retry_after_secs(wait), 1, "one a second after the burst");
        assert!(limit.check(&b).is_ok(), "another address has its own budget");
        clock.advance_millis(1_000);
        assert!(limit.check(&a).is_ok());
        assert!(limit.check(&a).is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_block() {
        let k = |s: &str| AddrKey::from(s.parse::<IpAddr>().unwrap());
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
        assert_eq!(k("::ffff:10.0.0.1"), k("10.0.0.1"));
    }

    #[test]
    fn sign_in_backoff_doubles_after_the_free_failures_up_to_the_maximum() {
        let max = Duration::from_secs(900);
        assert_eq!(sign_in_backoff(4, 5, max), None);
        assert_eq!(sign_in_backoff(5, 5, max), Some(Duration::from_secs(1)));
        assert_eq!(sign_in_backoff(8, 5, max), Some(Duration::from_secs(8)));
        assert_eq!(sign_in_backoff(30, 5, max), Some(max));
        assert_eq!(sign_in_backoff(200, 5, max), Some(max));
    }

    #[test]
    fn concurrency_holds_up_to_the_maximum_and_gives_back_on_drop() {
        let c = Arc::new(Concurrency::<u8>::default());
        let a = c.try_hold(1, 2).unwrap();
        let _b = c.try_hold(1, 2).unwrap();
        assert!(c.try_hold(1, 2).is_none());
        assert!(c.try_hold(2, 2).is_some(), "another key");
        drop(a);
        assert_eq!(c.count(1), 1);
        assert!(c.try_hold(1, 2).is_some());
    }

    #[tokio::test]
    async fn the_hashing_gate_admits_a_bounded_queue_and_refuses_the_rest() {
        let gate = Arc::new(HashingGate::new(1, 1));
        let first = gate.enter().await.expect("free");
        let g = gate.clone();
        let queued = tokio::spawn(async move { g.enter().await.is_some() });
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(gate.enter().await.is_none(), "the queue is full");
        drop(first);
        assert!(queued.await.unwrap(), "the queued one gets its turn");
    }
}
