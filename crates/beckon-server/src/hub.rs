//! The hub: which sockets on this node want which topics, and delivery to them.
//!
//! Every socket session registers here with a bounded inbox. The dispatcher task reads the bus
//! and, for each envelope, hands it once to every local session subscribed to any of its topics.
//! Delivery never waits: if a session's inbox is full the client is not keeping up, so the hub
//! cancels that session (its socket is closed and the client resumes by sequence number after
//! reconnecting) rather than buffering without limit or slowing everyone else down.
//!
//! The hub also tells the bus which topics this node has sockets for: the first local subscriber
//! of a topic makes the node follow it (and waits until the bus will deliver it, so nothing
//! published after `subscribe` returns is missed), the last one leaving unfollows it. When the
//! bus says envelopes may have been lost, every session gets [`Event::Missed`] and repairs from
//! the store.

use beckon_bus::{Bus, Delivery};
use beckon_domain::events::{Envelope, Event, Topic};
use futures_util::StreamExt;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{Notify, OnceCell};
use tokio_util::sync::CancellationToken;

pub type SessionId = u64;

pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    bus: Arc<dyn Bus>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Entry>,
    topics: HashMap<Topic, Followers>,
    /// Registrations of the node's own components (not sockets), e.g. the trigger runtime
    /// listening for rule changes.
    listeners: usize,
}

struct Entry {
    inbox: Arc<Inbox>,
    /// A component of the node, not a socket (see [`Hub::register_listener`]).
    listener: bool,
    /// A session follows one to three topics, so a short list beats a set.
    topics: Vec<Topic>,
}

/// The local sessions of one topic, and the node following it on the bus (done once).
struct Followers {
    sessions: Vec<SessionId>,
    followed: Arc<OnceCell<()>>,
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
        let mut queue = self.queue.lock();
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
        let mut queue = self.queue.lock();
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
    pub fn new(bus: Arc<dyn Bus>) -> Arc<Self> {
        Arc::new(Self { inner: Mutex::default(), next_id: AtomicU64::new(0), bus })
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// A socket's registration.
    pub fn register(self: &Arc<Self>, inbox_capacity: usize) -> Registration {
        self.register_as(inbox_capacity, false)
    }

    /// A registration for one of the node's own components that hears events (not counted as
    /// a socket).
    pub fn register_listener(self: &Arc<Self>, inbox_capacity: usize) -> Registration {
        self.register_as(inbox_capacity, true)
    }

    fn register_as(self: &Arc<Self>, inbox_capacity: usize, listener: bool) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let inbox = Arc::new(Inbox::new(inbox_capacity.max(1)));
        let mut inner = self.lock();
        inner.sessions.insert(id, Entry { inbox: inbox.clone(), listener, topics: Vec::new() });
        inner.listeners += usize::from(listener);
        drop(inner);
        Registration { id, inbox, hub: self.clone() }
    }

    /// Subscribes the session to the topic; returns once envelopes of the topic published
    /// anywhere in the cluster from now on will reach it.
    pub async fn subscribe(&self, id: SessionId, topic: Topic) {
        let followed = {
            let mut inner = self.lock();
            let Some(entry) = inner.sessions.get_mut(&id) else {
                return;
            };
            if !entry.topics.contains(&topic) {
                entry.topics.push(topic);
            }
            let followers = inner
                .topics
                .entry(topic)
                .or_insert_with(|| Followers { sessions: Vec::new(), followed: Arc::new(OnceCell::new()) });
            if !followers.sessions.contains(&id) {
                followers.sessions.push(id);
            }
            followers.followed.clone()
        };
        followed.get_or_init(|| self.bus.follow(topic)).await;
    }

    pub fn unsubscribe(&self, id: SessionId, topic: Topic) {
        let mut inner = self.lock();
        if let Some(entry) = inner.sessions.get_mut(&id)
            && let Some(i) = entry.topics.iter().position(|t| *t == topic)
        {
            entry.topics.swap_remove(i);
            if remove_from_topic(&mut inner.topics, topic, id) {
                self.bus.unfollow(topic);
            }
        }
    }

    fn unregister(&self, id: SessionId) {
        let mut inner = self.lock();
        if let Some(entry) = inner.sessions.remove(&id) {
            inner.listeners -= usize::from(entry.listener);
            for topic in entry.topics {
                if remove_from_topic(&mut inner.topics, topic, id) {
                    self.bus.unfollow(topic);
                }
            }
        }
    }

    /// Hands the envelope to each subscribed session once; kills sessions that can't keep up.
    pub fn deliver(&self, envelope: &Arc<Envelope>) {
        let inner = self.lock();
        let mut seen: Vec<SessionId> = Vec::new();
        for topic in &envelope.topics {
            for id in inner.topics.get(topic).into_iter().flat_map(|f| &f.sessions) {
                if seen.contains(id) {
                    continue;
                }
                seen.push(*id);
                if let Some(entry) = inner.sessions.get(id) {
                    push_or_kill(*id, entry, envelope);
                }
            }
        }
    }

    /// Envelopes may have been lost on the bus: every session is told to repair from the store.
    pub fn deliver_missed(&self) {
        let missed = Arc::new(Envelope::new(Vec::new(), Event::Missed));
        let inner = self.lock();
        for (id, entry) in &inner.sessions {
            push_or_kill(*id, entry, &missed);
        }
    }

    /// How many sockets are connected to this node (the node's own listeners not counted).
    pub fn session_count(&self) -> usize {
        let inner = self.lock();
        inner.sessions.len() - inner.listeners
    }

    /// Runs until the bus subscription ends or `shutdown` fires.
    pub async fn run_dispatcher(self: Arc<Self>, shutdown: CancellationToken) {
        let mut deliveries = self.bus.subscribe();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                next = deliveries.next() => match next {
                    Some(Delivery::Envelope(envelope)) => self.deliver(&envelope),
                    Some(Delivery::Missed) => self.deliver_missed(),
                    None => return,
                },
            }
        }
    }
}

fn push_or_kill(id: SessionId, entry: &Entry, envelope: &Arc<Envelope>) {
    if !entry.inbox.push(envelope.clone()) {
        tracing::warn!(session = id, "client not reading; disconnecting it");
        entry.inbox.kill();
    }
}

/// Removes the session from the topic; true when that was the topic's last local session.
fn remove_from_topic(topics: &mut HashMap<Topic, Followers>, topic: Topic, id: SessionId) -> bool {
    if let Some(f) = topics.get_mut(&topic) {
        f.sessions.retain(|s| *s != id);
        if f.sessions.is_empty() {
            topics.remove(&topic);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::events::Event;
    use beckon_domain::{AgentId, ConversationId, Presence, VisitorId};

    fn env(topics: Vec<Topic>) -> Arc<Envelope> {
        Arc::new(Envelope::new(
            topics,
            Event::Presence {
                org_id: beckon_domain::OrgId(1),
                agent_id: AgentId(1),
                presence: Presence::Away,
            },
        ))
    }

    #[tokio::test]
    async fn delivers_once_per_session_to_subscribers_only() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let a = hub.register(8);
        let b = hub.register(8);
        hub.subscribe(a.id, Topic::Conversation(ConversationId(1))).await;
        hub.subscribe(a.id, Topic::Visitor(VisitorId(1))).await;
        hub.subscribe(b.id, Topic::Visitor(VisitorId(2))).await;
        hub.deliver(&env(vec![Topic::Conversation(ConversationId(1)), Topic::Visitor(VisitorId(1))]));
        assert!(a.inbox.try_next().is_some());
        assert!(a.inbox.try_next().is_none(), "delivered twice");
        assert!(b.inbox.try_next().is_none());
        hub.unsubscribe(a.id, Topic::Visitor(VisitorId(1)));
        hub.unsubscribe(a.id, Topic::Conversation(ConversationId(1)));
        hub.deliver(&env(vec![Topic::Conversation(ConversationId(1))]));
        assert!(a.inbox.try_next().is_none());
    }

    #[tokio::test]
    async fn a_full_inbox_cancels_the_session_instead_of_growing() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let slow = hub.register(2);
        hub.subscribe(slow.id, Topic::Agent(AgentId(1))).await;
        for _ in 0..2 {
            hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        }
        assert!(!slow.inbox.is_killed());
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        assert!(slow.inbox.is_killed());
    }

    #[tokio::test]
    async fn next_waits_for_an_event_and_stops_once_killed() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let r = hub.register(4);
        hub.subscribe(r.id, Topic::Agent(AgentId(1))).await;
        let inbox = r.inbox.clone();
        let waiter = tokio::spawn(async move { inbox.next().await.is_some() });
        tokio::task::yield_now().await;
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        assert!(waiter.await.unwrap(), "a queued event wakes the waiting session");
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        r.inbox.kill();
        assert!(r.inbox.next().await.is_none(), "a killed session gets no more events");
    }

    #[tokio::test]
    async fn dropping_a_registration_unsubscribes_everything() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let r = hub.register(1);
        hub.subscribe(r.id, Topic::Agent(AgentId(7))).await;
        assert_eq!(hub.session_count(), 1);
        drop(r);
        assert_eq!(hub.session_count(), 0);
        assert!(hub.inner.lock().topics.is_empty());
    }

    /// Records what the hub asks of the bus.
    #[derive(Default)]
    struct Recording(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Bus for Recording {
        async fn publish(&self, _: Envelope) -> Result<(), beckon_bus::BusError> {
            Ok(())
        }
        fn subscribe(&self) -> futures_util::stream::BoxStream<'static, Delivery> {
            Box::pin(futures_util::stream::pending())
        }
        async fn follow(&self, topic: Topic) {
            self.0.lock().push(format!("follow {topic:?}"));
        }
        fn unfollow(&self, topic: Topic) {
            self.0.lock().push(format!("unfollow {topic:?}"));
        }
        fn answer_with(&self, _: Arc<dyn beckon_bus::Answerer>) {}
        async fn ask(
            &self,
            _: serde_json::Value,
            _: usize,
            _: std::time::Duration,
        ) -> Vec<serde_json::Value> {
            Vec::new()
        }
    }

    #[tokio::test]
    async fn the_node_follows_a_topic_from_its_first_local_subscriber_to_its_last() {
        let bus = Arc::new(Recording::default());
        let hub = Hub::new(bus.clone());
        let (a, b) = (hub.register(4), hub.register(4));
        let t = Topic::Conversation(ConversationId(9));
        hub.subscribe(a.id, t).await;
        hub.subscribe(b.id, t).await;
        hub.subscribe(a.id, t).await;
        hub.unsubscribe(a.id, t);
        assert_eq!(*bus.0.lock(), ["follow Conversation(ConversationId(9))"]);
        drop(b);
        assert_eq!(bus.0.lock().last().unwrap(), "unfollow Conversation(ConversationId(9))");
        assert_eq!(bus.0.lock().len(), 2);
    }

    #[tokio::test]
    async fn missed_events_reach_every_session() {
        let hub = Hub::new(Arc::new(beckon_bus::InProcessBus::new()));
        let (a, b) = (hub.register(4), hub.register(4));
        hub.deliver_missed();
        for r in [&a, &b] {
            assert!(matches!(r.inbox.try_next().map(|e| e.event.clone()), Some(Event::Missed)));
        }
    }
}
