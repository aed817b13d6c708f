//! The cluster bus: how every node hears about events, wherever they happened.
//!
//! A node publishes an [`Envelope`] after it has stored a change; every node that has sockets for
//! one of its topics receives it and delivers it to them. With one node the [`InProcessBus`] is
//! all there is; with several, the [`NatsBus`] carries envelopes between them over NATS core
//! publish/subscribe, one subject per topic, each node subscribed only to the topics it has
//! sockets for ([`Bus::follow`]).
//!
//! The bus is a notification channel, never a store of truth: the database is the only record.
//! When a node may have missed envelopes (NATS restarted, the node fell behind, a partition), its
//! subscription yields [`Delivery::Missed`] and the node repairs from the store (messages carry
//! sequence numbers; clients and sessions catch up by them).
//!
//! Modelled on centrifuge's broker: publish to topics, one subscription per node.

mod answers;
mod in_process;
mod nats;

pub use answers::{Answerer, Answers};

pub use in_process::InProcessBus;
pub use nats::{NatsBus, NatsSettings};

use async_trait::async_trait;
use beckon_domain::events::{Envelope, Topic};
use futures_util::stream::BoxStream;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// What a node's subscription yields.
#[derive(Debug, Clone)]
pub enum Delivery {
    Envelope(Arc<Envelope>),
    /// Envelopes may have been lost on the way here: repair from the store.
    Missed,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sends the envelope to every node following one of its topics (this node's included).
    async fn publish(&self, envelope: Envelope) -> Result<(), BusError>;
    /// This node's deliveries, from now on. Envelopes of one topic published by one node arrive
    /// in the order they were published; envelopes of different topics, or from different nodes,
    /// may not (sessions put messages in order by `seq`, and read the store when a conversation's
    /// state changes).
    fn subscribe(&self) -> BoxStream<'static, Delivery>;
    /// Start receiving the topic's envelopes from other nodes; returns once envelopes published
    /// anywhere from now on will arrive. (The hub calls this when the topic's first local socket
    /// subscribes.)
    async fn follow(&self, _topic: Topic) {}
    /// Stop receiving the topic's envelopes from other nodes (its last local socket is gone).
    fn unfollow(&self, _topic: Topic) {}
    /// Who answers the cluster's questions on this node (set once, at start).
    fn answer_with(&self, answerer: Arc<dyn Answerer>);
    /// Asks every node, this one included, and gathers their answers: returns once `expect`
    /// nodes have answered, or after `within` with the answers so far (a node that died has not
    /// left the list of live nodes yet). For what only the node holding a socket knows: the
    /// console's live visitors, the "why" view, a rule's preview.
    async fn ask(
        &self,
        question: serde_json::Value,
        expect: usize,
        within: Duration,
    ) -> Vec<serde_json::Value>;
}
