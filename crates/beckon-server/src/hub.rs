//! The hub: which sockets on this node want which topics, and delivery to them.
//!
//! Every socket session registers here with a bounded inbox. The dispatcher task reads the bus
//! and, for each envelope, hands it once to every local session subscribed to any of its topics.
//! Delivery never waits: if a session's inbox is full the client is not keeping up, so the hub
//! cancels that session (its socket is closed and the client resumes by sequence number after
//! reconnecting) rather than buffering without limit or slowing everyone else down.

use beckon_bus::Bus;
use beckon_domain::events::{Envelope, Topic};
use futures_util::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub type SessionId = u64;

#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Entry>,
    topics: HashMap<Topic, Vec<SessionId>>,
}

struct Entry {
    inbox: Arc<Inbox>,
    /// A session follows one to three topics, so a short list beats a set.
    topics: Vec<Topic>,
}

/// A session's bounded inbox, and the hub's "you are too slow" flag.
///
/// Hand-made rather than a `tokio::sync::mpsc` channel because every idle visitor holds one:
/// an mpsc channel allocates ~800 bytes up front (cache-padded ends, a first block of slots),
/// this one ~100 and nothing more until an event is queued.
pub struct Inbox {
    queue: Mutex<VecDeque<Arc<Envelope>>>,
    capacity: usize,
    killed: AtomicBool,
    ready: Notify,
}

impl Inbox {
    fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            killed: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    /// Queues the envelope; `false` if the inbox is full (the session is then killed).
    fn push(&self, envelope: Arc<Envelope>) -> bool {
        let mut queue = self.queue.lock().expect("inbox lock");
        if queue.len() >= self.capacity {
            return false;
        }
        queue.push_back(envelope);
        drop(queue);
        self.ready.notify_one();
        true
    }

    fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    fn pop(&self) -> Option<Arc<Envelope>> {
        let mut queue = self.queue.lock().expect("inbox lock");
        let next = queue.pop_front();
        if queue.is_empty() && queue.capacity() > 8 {
            // A burst is over: give its memory back rather than keep it for an idle socket.
            queue.shrink_to_fit();
        }
        next
    }

    /// The next event for the session, or `None` once the hub has given up on it.
    /// Cancel-safe: an event is taken off the queue only when this returns it.
    pub async fn next(&self) -> Option<Arc<Envelope>> {
        loop {
            if self.is_killed() {
                return None;
            }
            if let Some(envelope) = self.pop() {
                return Some(envelope);
            }
            // `notify_one` leaves a permit when nobody waits, so a push between the check
            // above and this wait is not missed.
            self.ready.notified().await;
        }
    }

    /// The next queued event without waiting (tests).
    pub fn try_next(&self) -> Option<Arc<Envelope>> {
        self.pop()
    }
}

/// A session's registration; unregisters (and unsubscribes everything) when dropped.
pub struct Registration {
    pub id: SessionId,
    pub inbox: Arc<Inbox>,
    hub: Arc<Hub>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn register(self: &Arc<Self>, inbox_capacity: usize) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let inbox = Arc::new(Inbox::new(inbox_capacity.max(1)));
        self.inner
            .lock()
            .expect("hub lock")
            .sessions
            .insert(id, Entry { inbox: inbox.clone(), topics: Vec::new() });
        Registration { id, inbox, hub: self.clone() }
    }

    pub fn subscribe(&self, id: SessionId, topic: Topic) {
        let mut inner = self.inner.lock().expect("hub lock");
        let Some(entry) = inner.sessions.get_mut(&id) else {
            return;
        };
        if !entry.topics.contains(&topic) {
            entry.topics.push(topic);
            inner.topics.entry(topic).or_default().push(id);
        }
    }

    pub fn unsubscribe(&self, id: SessionId, topic: Topic) {
        let mut inner = self.inner.lock().expect("hub lock");
        if let Some(entry) = inner.sessions.get_mut(&id)
            && let Some(i) = entry.topics.iter().position(|t| *t == topic)
        {
            entry.topics.swap_remove(i);
            remove_from_topic(&mut inner.topics, topic, id);
        }
    }

    fn unregister(&self, id: SessionId) {
        let mut inner = self.inner.lock().expect("hub lock");
        if let Some(entry) = inner.sessions.remove(&id) {
            for topic in entry.topics {
                remove_from_topic(&mut inner.topics, topic, id);
            }
        }
    }

    /// Hands the envelope to each subscribed session once; kills sessions that can't keep up.
    pub fn deliver(&self, envelope: &Arc<Envelope>) {
        let inner = self.inner.lock().expect("hub lock");
        let mut seen: Vec<SessionId> = Vec::new();
        for topic in &envelope.topics {
            for id in inner.topics.get(topic).into_iter().flatten() {
                if seen.contains(id) {
                    continue;
                }
                seen.push(*id);
                if let Some(entry) = inner.sessions.get(id)
                    && !entry.inbox.push(envelope.clone())
                {
                    tracing::warn!(session = id, "client not reading; disconnecting it");
                    entry.inbox.kill();
                }
            }
        }
    }

    /// How many sessions are connected to this node.
    pub fn session_count(&self) -> usize {
        self.inner.lock().expect("hub lock").sessions.len()
    }

    /// Runs until the bus subscription ends or `shutdown` fires.
    pub async fn run_dispatcher(self: Arc<Self>, bus: Arc<dyn Bus>, shutdown: CancellationToken) {
        let mut events = bus.subscribe();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                next = events.next() => match next {
                    Some(envelope) => self.deliver(&envelope),
                    None => return,
                },
            }
        }
    }
}

fn remove_from_topic(topics: &mut HashMap<Topic, Vec<SessionId>>, topic: Topic, id: SessionId) {
    if let Some(ids) = topics.get_mut(&topic) {
        ids.retain(|s| *s != id);
        if ids.is_empty() {
            topics.remove(&topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::events::Event;
    use beckon_domain::{AgentId, ConversationId, Presence, VisitorId};

    fn env(topics: Vec<Topic>) -> Arc<Envelope> {
        Arc::new(Envelope::new(topics, Event::Presence { agent_id: AgentId(1), presence: Presence::Away }))
    }

    #[test]
    fn delivers_once_per_session_to_subscribers_only() {
        let hub = Hub::new();
        let a = hub.register(8);
        let b = hub.register(8);
        hub.subscribe(a.id, Topic::Conversation(ConversationId(1)));
        hub.subscribe(a.id, Topic::Visitor(VisitorId(1)));
        hub.subscribe(b.id, Topic::Visitor(VisitorId(2)));
        hub.deliver(&env(vec![Topic::Conversation(ConversationId(1)), Topic::Visitor(VisitorId(1))]));
        assert!(a.inbox.try_next().is_some());
        assert!(a.inbox.try_next().is_none(), "delivered twice");
        assert!(b.inbox.try_next().is_none());
        hub.unsubscribe(a.id, Topic::Visitor(VisitorId(1)));
        hub.unsubscribe(a.id, Topic::Conversation(ConversationId(1)));
        hub.deliver(&env(vec![Topic::Conversation(ConversationId(1))]));
        assert!(a.inbox.try_next().is_none());
    }

    #[test]
    fn a_full_inbox_cancels_the_session_instead_of_growing() {
        let hub = Hub::new();
        let slow = hub.register(2);
        hub.subscribe(slow.id, Topic::Agent(AgentId(1)));
        for _ in 0..2 {
            hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        }
        assert!(!slow.inbox.is_killed());
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        assert!(slow.inbox.is_killed());
    }

    #[tokio::test]
    async fn next_waits_for_an_event_and_stops_once_killed() {
        let hub = Hub::new();
        let r = hub.register(4);
        hub.subscribe(r.id, Topic::Agent(AgentId(1)));
        let inbox = r.inbox.clone();
        let waiter = tokio::spawn(async move { inbox.next().await.is_some() });
        tokio::task::yield_now().await;
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        assert!(waiter.await.unwrap(), "a queued event wakes the waiting session");
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        r.inbox.kill();
        assert!(r.inbox.next().await.is_none(), "a killed session gets no more events");
    }

    #[test]
    fn dropping_a_registration_unsubscribes_everything() {
        let hub = Hub::new();
        let r = hub.register(1);
        hub.subscribe(r.id, Topic::Agent(AgentId(7)));
        assert_eq!(hub.session_count(), 1);
        drop(r);
        assert_eq!(hub.session_count(), 0);
        assert!(hub.inner.lock().unwrap().topics.is_empty());
    }
}
