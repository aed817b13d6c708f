//! New visitors are kept in memory until they do something.
//!
//! A `hello` without a known token makes a new visitor: it gets its id and token at once (the
//! widget needs them), but nothing is written until the visitor does something — sends any frame
//! after `hello`, stays on the page for `limits.store_visitor_after_secs` (on the injected clock,
//! one schedule for all), or is sent an invite — so a flood of sockets that connect and say hello
//! leaves nothing in the database. Then the visitor, its first visit (with the browser's facts)
//! and the page it arrived on are stored in one transaction, with the id it already has.
//!
//! Coming back is doing something: a second tab, the next page of a multi-page site (a new
//! socket with the same token) or a reconnect joins the visitor and stores it. So that the next
//! page finds it, a visitor whose last tab closed is remembered here for `LINGER_MS` more. Once
//! stored, a visitor is forgotten here: the store has it.
//!
//! The registry is this node's: a tab that reaches another node in that moment starts a new
//! visitor (the widget then keeps the newer token).

use crate::timers::{Schedule, Timers};
use beckon_domain::VisitorId;
use beckon_domain::model::Visit;
use beckon_store::{NewVisitor, Store, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// How long a new visitor whose last tab closed is remembered, for its next page to find.
pub const LINGER_MS: i64 = 60_000;

pub struct NewVisitors {
    inner: Mutex<Inner>,
    /// When each visitor has stayed long enough to be stored anyway.
    due: Schedule<VisitorId>,
    store_after_ms: i64,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<VisitorId, Entry>,
    by_token: HashMap<String, VisitorId>,
}

struct Entry {
    record: NewVisitor,
    tabs: u32,
    /// The last tab closed at this moment (the entry is dropped `LINGER_MS` later).
    left_at: Option<beckon_domain::Timestamp>,
    /// Filled once, by whoever stores the visitor first; everyone else waits for it.
    stored: Arc<OnceCell<Visit>>,
}

/// A random visitor id, in [2^40, 2^53): never one of the sequential ids older versions gave,
/// exact in JavaScript, and not guessable from another visitor's.
pub fn new_visitor_id() -> VisitorId {
    use rand::Rng;
    VisitorId(rand::thread_rng().gen_range((1i64 << 40)..(1i64 << 53)))
}

impl NewVisitors {
    pub fn new(store_after_ms: i64) -> Self {
        Self { inner: Mutex::default(), due: Schedule::default(), store_after_ms }
    }

    /// A new visitor arrived (its first tab).
    pub fn add(&self, record: NewVisitor) {
        self.due.set(record.id, Some(record.arrived_at.plus_millis(self.store_after_ms)));
        let mut inner = self.lock();
        inner.by_token.insert(record.token_hash.clone(), record.id);
        inner
            .by_id
            .insert(record.id, Entry { record, tabs: 1, left_at: None, stored: Arc::new(OnceCell::new()) });
    }

    /// Another tab (or the next page) presented a token of a visitor not stored yet: it joins
    /// that visitor (and the caller stores it: coming back is doing something).
    pub fn join(&self, token_hash: &str) -> Option<NewVisitor> {
        let mut inner = self.lock();
        let id = *inner.by_token.get(token_hash)?;
        let entry = inner.by_id.get_mut(&id)?;
        entry.tabs += 1;
        entry.left_at = None;
        Some(entry.record.clone())
    }

    /// A tab of a visitor that may not be stored closed. After the last, the visitor is
    /// remembered for `LINGER_MS` (its next page may come), then forgotten.
    pub fn leave(&self, id: VisitorId, now: beckon_domain::Timestamp) {
        let mut inner = self.lock();
        let Some(entry) = inner.by_id.get_mut(&id) else { return };
        entry.tabs = entry.tabs.saturating_sub(1);
        if entry.tabs == 0 {
            entry.left_at = Some(now);
            drop(inner);
            self.due.set(id, Some(now.plus_millis(LINGER_MS)));
        }
    }

    /// Forgets a visitor whose last tab left `LINGER_MS` ago without it being stored.
    fn forget_if_gone(&self, id: VisitorId, now: beckon_domain::Timestamp) -> bool {
        let mut inner = self.lock();
        let gone = inner
            .by_id
            .get(&id)
            .is_some_and(|e| e.tabs == 0 && e.left_at.is_some_and(|t| now.since(t) >= LINGER_MS));
        if gone && let Some(e) = inner.by_id.remove(&id) {
            inner.by_token.remove(&e.record.token_hash);
        }
        gone
    }

    /// Whether the visitor is known here and not stored yet.
    pub fn is_pending(&self, id: VisitorId) -> bool {
        self.lock().by_id.get(&id).is_some_and(|e| !e.stored.initialized())
    }

    /// Stores the visitor if it is one of these and not stored yet; returns its first visit
    /// when it was one of these (stored now or by another tab a moment ago), `None` otherwise.
    pub async fn ensure_stored(
        &self,
        store: &dyn Store,
        id: VisitorId,
        now: beckon_domain::Timestamp,
    ) -> Result<Option<Visit>, StoreError> {
        let (record, cell) = {
            let inner = self.lock();
            match inner.by_id.get(&id) {
                Some(e) => (e.record.clone(), e.stored.clone()),
                None => return Ok(None),
            }
        };
        let visit = cell
            .get_or_try_init(|| async {
                let (_, visit) = store.create_visitor(record, now).await?;
                tracing::debug!(visitor = %id, "new visitor stored");
                Ok::<_, StoreError>(visit)
            })
            .await?;
        // Once stored it is the store's: its next page or tab finds it there, so nothing of it is
        // kept here (an idle visitor's record and first visit had stayed in memory for as long
        // as its tab was open: about a kilobyte per session).
        {
            let mut inner = self.lock();
            if let Some(e) = inner.by_id.remove(&id) {
                inner.by_token.remove(&e.record.token_hash);
            }
        }
        self.due.set(id, None);
        Ok(Some(visit.clone()))
    }

    /// Stores each visitor that has stayed `store_after` without doing anything, then calls
    /// `stored` (which looks at it again: what the rules held back can now be recorded). One task
    /// for all; runs until `shutdown`.
    pub async fn run<F, Fut>(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        timers: Arc<Timers>,
        stored: F,
        shutdown: CancellationToken,
    ) where
        F: Fn(VisitorId) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let stored = Arc::new(stored);
        loop {
            let due = tokio::select! {
                _ = shutdown.cancelled() => return,
                due = self.due.next_due(&timers) => due,
            };
            for id in due {
                let (me, store, stored, now) = (self.clone(), store.clone(), stored.clone(), timers.now());
                if self.forget_if_gone(id, now) {
                    continue;
                }
                tokio::spawn(async move {
                    match me.ensure_stored(store.as_ref(), id, now).await {
                        Ok(Some(_)) => stored(id).await,
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = %e, visitor = %id, "storing a new visitor failed"),
                    }
                });
            }
        }
    }

    /// How many visitors with an open tab are held here, not stored (tests).
    pub fn len(&self) -> usize {
        self.lock().by_id.values().filter(|e| !e.stored.initialized() && e.tabs > 0).count()
    }

    /// How many visitors are remembered here at all (not stored), with tabs or lingering.
    pub fn remembered(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Inner> {
        self.inner.lock()
    }
}
