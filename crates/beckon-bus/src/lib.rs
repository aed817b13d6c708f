//! The cluster bus: how every node hears about events, wherever they happened.
//!
//! A node publishes an [`Envelope`] after it has stored a change; every node (itself included)
//! receives it on its subscription and delivers it to its own sockets. With one node the
//! [`InProcessBus`] is all there is; with several, a NATS implementation of the same trait carries
//! envelopes between them (a later issue). The bus is a notification channel, not a store of
//! truth: a subscriber that misses an envelope catches up from the store by sequence number.
//!
//! Modelled on centrifuge's broker: publish to topics, one subscription per node.

use async_trait::async_trait;
use beckon_domain::events::Envelope;
use futures_util::stream::BoxStream;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sends the envelope to every subscriber (this node's included).
    async fn publish(&self, envelope: Envelope) -> Result<(), BusError>;
    /// Every envelope published from now on, in publication order per publisher.
    fn subscribe(&self) -> BoxStream<'static, Arc<Envelope>>;
}

/// The single-node bus: a fan-out to in-process subscribers.
///
/// Subscribers get unbounded channels on purpose: the only subscriber in practice is the node's
/// dispatcher, which never blocks (it hands events to bounded per-socket queues and disconnects
/// slow sockets), so a bound here could only lose events, never protect memory.
#[derive(Default)]
pub struct InProcessBus {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Arc<Envelope>>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, envelope: Envelope) -> Result<(), BusError> {
        let envelope = Arc::new(envelope);
        let mut subs = self.subscribers.lock().expect("bus lock");
        subs.retain(|s| s.send(envelope.clone()).is_ok());
        Ok(())
    }

    fn subscribe(&self) -> BoxStream<'static, Arc<Envelope>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.subscribers.lock().expect("bus lock").push(tx);
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::events::{Event, Topic};
    use beckon_domain::{AgentId, Presence};
    use futures_util::StreamExt;

    fn ev(n: i64) -> Envelope {
        Envelope::new(
            vec![Topic::Agent(AgentId(n))],
            Event::Presence { agent_id: AgentId(n), presence: Presence::Available },
        )
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_envelope_in_order() {
        let bus = InProcessBus::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for n in 0..3 {
            bus.publish(ev(n)).await.unwrap();
        }
        for s in [&mut a, &mut b] {
            for n in 0..3 {
                assert_eq!(*s.next().await.unwrap(), ev(n));
            }
        }
    }

    #[tokio::test]
    async fn dropped_subscribers_are_forgotten() {
        let bus = InProcessBus::new();
        drop(bus.subscribe());
        bus.publish(ev(1)).await.unwrap();
        assert!(bus.subscribers.lock().unwrap().is_empty());
    }
}
