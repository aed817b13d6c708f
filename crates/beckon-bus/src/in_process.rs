//! The single-node bus: a fan-out to in-process subscribers.
//!
//! Subscribers get unbounded channels on purpose: the only subscriber in practice is the node's
//! dispatcher, which never blocks (it hands events to bounded per-socket queues and disconnects
//! slow sockets), so a bound here could only lose events, never protect memory. The NATS bus uses
//! one of these for its own node's deliveries.

use crate::{Answerer, Answers, Bus, BusError, Delivery};
use async_trait::async_trait;
use beckon_domain::events::Envelope;
use futures_util::stream::BoxStream;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Default)]
pub struct InProcessBus {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Delivery>>>,
    answers: Answers,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands a delivery to every subscriber, forgetting those that are gone.
    pub fn deliver(&self, delivery: Delivery) {
        let mut subs = self.subscribers.lock();
        subs.retain(|s| s.send(delivery.clone()).is_ok());
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, envelope: Envelope) -> Result<(), BusError> {
        self.deliver(Delivery::Envelope(Arc::new(envelope)));
        Ok(())
    }

    fn subscribe(&self) -> BoxStream<'static, Delivery> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.subscribers.lock().push(tx);
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    fn answer_with(&self, answerer: Arc<dyn Answerer>) {
        self.answers.set(answerer);
    }

    /// One node: its own answer.
    async fn ask(
        &self,
        question: serde_json::Value,
        _expect: usize,
        _within: Duration,
    ) -> Vec<serde_json::Value> {
        vec![self.answers.answer(question).await]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_domain::events::{Event, Topic};
    use beckon_domain::{AgentId, OrgId, Presence};
    use futures_util::StreamExt;

    fn ev(n: i64) -> Envelope {
        Envelope::new(
            vec![Topic::Agent(AgentId(n))],
            Event::Presence { org_id: OrgId(1), agent_id: AgentId(n), presence: Presence::Available },
        )
    }

    fn envelope(d: Delivery) -> Envelope {
        match d {
            Delivery::Envelope(e) => (*e).clone(),
            Delivery::Missed => panic!("nothing is missed in process"),
        }
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
                assert_eq!(envelope(s.next().await.unwrap()), ev(n));
            }
        }
    }

    #[tokio::test]
    async fn dropped_subscribers_are_forgotten() {
        let bus = InProcessBus::new();
        drop(bus.subscribe());
        bus.publish(ev(1)).await.unwrap();
        assert!(bus.subscribers.lock().is_empty());
    }
}
