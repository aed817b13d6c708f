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
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
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
    inbox: mpsc::Sender<Arc<Envelope>>,
    kill: CancellationToken,
    topics: HashSet<Topic>,
}

/// A session's registration; unregisters (and unsubscribes everything) when dropped.
pub struct Registration {
    pub id: SessionId,
    pub inbox: mpsc::Receiver<Arc<Envelope>>,
    /// Cancelled when the hub gives up on the session (slow consumer).
    pub kill: CancellationToken,
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
        let (tx, rx) = mpsc::channel(inbox_capacity.max(1));
        let kill = CancellationToken::new();
        self.inner
            .lock()
            .expect("hub lock")
            .sessions
            .insert(id, Entry { inbox: tx, kill: kill.clone(), topics: HashSet::new() });
        Registration { id, inbox: rx, kill, hub: self.clone() }
    }

    pub fn subscribe(&self, id: SessionId, topic: Topic) {
        let mut inner = self.inner.lock().expect("hub lock");
        let Some(entry) = inner.sessions.get_mut(&id) else {
            return;
        };
        if entry.topics.insert(topic) {
            inner.topics.entry(topic).or_default().push(id);
        }
    }

    pub fn unsubscribe(&self, id: SessionId, topic: Topic) {
        let mut inner = self.inner.lock().expect("hub lock");
        if let Some(entry) = inner.sessions.get_mut(&id)
            && entry.topics.remove(&topic)
        {
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

    /// Hands the envelope to each subscribed session once; cancels sessions that can't keep up.
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
                    && let Err(mpsc::error::TrySendError::Full(_)) = entry.inbox.try_send(envelope.clone())
                {
                    tracing::warn!(session = id, "client not reading; disconnecting it");
                    entry.kill.cancel();
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
        let mut a = hub.register(8);
        let mut b = hub.register(8);
        hub.subscribe(a.id, Topic::Conversation(ConversationId(1)));
        hub.subscribe(a.id, Topic::Visitor(VisitorId(1)));
        hub.subscribe(b.id, Topic::Visitor(VisitorId(2)));
        hub.deliver(&env(vec![Topic::Conversation(ConversationId(1)), Topic::Visitor(VisitorId(1))]));
        assert!(a.inbox.try_recv().is_ok());
        assert!(a.inbox.try_recv().is_err(), "delivered twice");
        assert!(b.inbox.try_recv().is_err());
        hub.unsubscribe(a.id, Topic::Visitor(VisitorId(1)));
        hub.unsubscribe(a.id, Topic::Conversation(ConversationId(1)));
        hub.deliver(&env(vec![Topic::Conversation(ConversationId(1))]));
        assert!(a.inbox.try_recv().is_err());
    }

    #[test]
    fn a_full_inbox_cancels_the_session_instead_of_growing() {
        let hub = Hub::new();
        let slow = hub.register(2);
        hub.subscribe(slow.id, Topic::Agent(AgentId(1)));
        for _ in 0..2 {
            hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        }
        assert!(!slow.kill.is_cancelled());
        hub.deliver(&env(vec![Topic::Agent(AgentId(1))]));
        assert!(slow.kill.is_cancelled());
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
