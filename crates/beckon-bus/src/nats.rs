//! The bus between nodes, over NATS core publish/subscribe (`async-nats`).
//!
//! Each topic is a subject (`{prefix}.c.{id}` for a conversation, `.v.` a visitor, `.a.` an
//! agent, `.o.` an organisation); an envelope is published once per topic, and a node subscribes
//! only to the subjects of the topics it has sockets for. A node's own envelopes are handed to its
//! dispatcher directly (the connection is `no_echo`), so one node alone keeps its in-process
//! latency. An envelope that reaches a node on two of its subjects is delivered once (each carries
//! its publisher's id and number).
//!
//! Questions ([`Bus::ask`]) go to `{prefix}.ask` with a reply inbox; every other node answers
//! there (the asker answers itself without the round trip).
//!
//! NATS core delivers at most once and keeps nothing, which is all the bus needs: the database is
//! the record. Whenever envelopes may have been lost — the connection to NATS came back, NATS
//! dropped messages for a slow subscription, or another node says it could not publish — the
//! node's subscription yields [`Delivery::Missed`] and the node repairs from the store.

use crate::{Answerer, Answers, Bus, BusError, Delivery, InProcessBus};
use async_nats::{Client, ConnectOptions, Event as NatsEvent};
use async_trait::async_trait;
use beckon_domain::events::{Envelope, Topic};
use futures_util::stream::{BoxStream, SelectAll};
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Envelopes remembered per node for dropping the copy that arrives on a second subject.
const DEDUPE_WINDOW: usize = 16_384;
/// Messages NATS queues for one subject before it calls the subscription slow.
const SUBSCRIPTION_CAPACITY: usize = 4_096;

#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// `nats://host:port`.
    pub url: String,
    /// Subjects start with this, so several clusters (or test runs) can share one NATS server.
    pub prefix: String,
}

pub struct NatsBus {
    client: Client,
    prefix: Arc<str>,
    /// This node's id on the wire (random), and the number of its next envelope.
    origin: u64,
    next: AtomicU64,
    /// This node's own deliveries (its own envelopes, and what arrives from NATS).
    local: Arc<InProcessBus>,
    commands: mpsc::UnboundedSender<Command>,
    /// A publish failed since the last successful reconnect: other nodes must repair.
    publish_failed: Arc<AtomicBool>,
    answers: Arc<Answers>,
}

enum Command {
    Follow(Topic, oneshot::Sender<()>),
    Unfollow(Topic),
}

#[derive(Serialize)]
struct WireOut<'a> {
    origin: u64,
    n: u64,
    envelope: &'a Envelope,
}

#[derive(Deserialize)]
struct WireIn {
    origin: u64,
    n: u64,
    envelope: Envelope,
}

impl NatsBus {
    /// Connects (failing after a few seconds with a clear error when NATS is not there) and
    /// starts the task that follows topics and receives envelopes.
    pub async fn connect(settings: NatsSettings) -> Result<Arc<Self>, BusError> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let client = ConnectOptions::new()
            .no_echo()
            .name("beckon")
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |e| {
                let tx = events_tx.clone();
                async move {
                    let _ = tx.send(e);
                }
            })
            .connect(&settings.url)
            .await
            .map_err(|e| BusError::Unavailable(format!("cannot connect to NATS at {}: {e}", settings.url)))?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let origin = rand_u64();
        let bus = Arc::new(Self {
            client: client.clone(),
            prefix: settings.prefix.clone().into(),
            origin,
            next: AtomicU64::new(0),
            local: Arc::new(InProcessBus::new()),
            commands,
            publish_failed: Arc::new(AtomicBool::new(false)),
            answers: Arc::new(Answers::default()),
        });
        let questions = client
            .subscribe(format!("{}.ask", settings.prefix))
            .await
            .map_err(|e| BusError::Unavailable(format!("subscribing on NATS: {e}")))?;
        tokio::spawn(answer_questions(client.clone(), questions, bus.answers.clone()));
        let resync = client
            .subscribe(format!("{}.resync", settings.prefix))
            .await
            .map_err(|e| BusError::Unavailable(format!("subscribing on NATS: {e}")))?;
        let manager = Manager {
            client,
            prefix: bus.prefix.clone(),
            origin,
            local: bus.local.clone(),
            publish_failed: bus.publish_failed.clone(),
            subscriptions: SelectAll::new(),
            cancels: HashMap::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            disconnected: false,
        };
        let barrier_client = manager.client.clone();
        tokio::spawn(manager.run(commands_rx, events_rx, resync));
        // Connected means the server has this node's question and repair subscriptions.
        barrier(barrier_client, bus.prefix.clone()).await;
        Ok(bus)
    }

    fn subject(prefix: &str, topic: Topic) -> String {
        match topic {
            Topic::Conversation(id) => format!("{prefix}.c.{}", id.0),
            Topic::Visitor(id) => format!("{prefix}.v.{}", id.0),
            Topic::Agent(id) => format!("{prefix}.a.{}", id.0),
            Topic::Org(id) => format!("{prefix}.o.{}", id.0),
            Topic::Cluster => format!("{prefix}.cluster"),
        }
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, envelope: Envelope) -> Result<(), BusError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let payload = serde_json::to_vec(&WireOut { origin: self.origin, n, envelope: &envelope })
            .map_err(|e| BusError::Unavailable(format!("encoding an envelope: {e}")))?;
        let payload = bytes_of(payload);
        let topics = envelope.topics.clone();
        self.local.deliver(Delivery::Envelope(Arc::new(envelope)));
        for topic in topics {
            if let Err(e) = self.client.publish(Self::subject(&self.prefix, topic), payload.clone()).await {
                // Other nodes may now miss it: they are told to repair once NATS is back.
                self.publish_failed.store(true, Ordering::Release);
                return Err(BusError::Unavailable(format!("publishing on NATS: {e}")));
            }
        }
        Ok(())
    }

    fn subscribe(&self) -> BoxStream<'static, Delivery> {
        self.local.subscribe()
    }

    async fn follow(&self, topic: Topic) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Follow(topic, done)).is_ok() {
            let _ = wait.await;
        }
    }

    fn unfollow(&self, topic: Topic) {
        let _ = self.commands.send(Command::Unfollow(topic));
    }

    fn answer_with(&self, answerer: Arc<dyn Answerer>) {
        self.answers.set(answerer);
    }

    async fn ask(
        &self,
        question: serde_json::Value,
        expect: usize,
        within: Duration,
    ) -> Vec<serde_json::Value> {
        let mut answers = Vec::with_capacity(expect.max(1));
        let others = expect.saturating_sub(1);
        let remote = async {
            if others == 0 {
                return Vec::new();
            }
            let payload = match serde_json::to_vec(&question) {
                Ok(p) => bytes_of(p),
                Err(e) => {
                    tracing::error!(error = %e, "encoding a question failed");
                    return Vec::new();
                }
            };
            let inbox = self.client.new_inbox();
            let mut replies = match self.client.subscribe(inbox.clone()).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "asking the other nodes failed: only this node answers");
                    return Vec::new();
                }
            };
            if let Err(e) =
                self.client.publish_with_reply(format!("{}.ask", self.prefix), inbox, payload).await
            {
                tracing::warn!(error = %e, "asking the other nodes failed: only this node answers");
                return Vec::new();
            }
            let mut got = Vec::with_capacity(others);
            let deadline = tokio::time::Instant::now() + within;
            while got.len() < others {
                match tokio::time::timeout_at(deadline, replies.next()).await {
                    Ok(Some(m)) => match serde_json::from_slice(&m.payload) {
                        Ok(v) => got.push(v),
                        Err(e) => tracing::warn!(error = %e, "a node's answer does not parse"),
                    },
                    Ok(None) => break,
                    Err(_) => {
                        tracing::warn!(
                            expected = others,
                            answered = got.len(),
                            "not every node answered in time"
                        );
                        break;
                    }
                }
            }
            got
        };
        let (mine, theirs) = tokio::join!(self.answers.answer(question.clone()), remote);
        answers.push(mine);
        answers.extend(theirs);
        answers
    }
}

/// Answers other nodes' questions, each in its own task (one slow answer delays no other).
async fn answer_questions(client: Client, mut questions: async_nats::Subscriber, answers: Arc<Answers>) {
    while let Some(m) = questions.next().await {
        let Some(reply) = m.reply.clone() else { continue };
        let (client, answers) = (client.clone(), answers.clone());
        tokio::spawn(async move {
            let question = match serde_json::from_slice(&m.payload) {
                Ok(q) => q,
                Err(e) => return tracing::warn!(error = %e, "a question does not parse"),
            };
            let answer = answers.answer(question).await;
            match serde_json::to_vec(&answer) {
                Ok(bytes) => {
                    if let Err(e) = client.publish(reply, bytes_of(bytes)).await {
                        tracing::warn!(error = %e, "answering a question failed");
                    }
                }
                Err(e) => tracing::error!(error = %e, "encoding an answer failed"),
            }
        });
    }
}

/// Returns once the NATS server has handled everything this connection sent before,
/// subscriptions included: from then on, anything any node publishes on them reaches this node.
/// `flush` only writes the socket; a round trip is needed. A request on a subject nobody
/// answers comes back at once with "no responders", after the server has read what came
/// before it on this connection.
async fn barrier(client: Client, prefix: Arc<str>) {
    let subject = format!("{prefix}.barrier");
    match tokio::time::timeout(BARRIER_WITHIN, client.request(subject, bytes::Bytes::new())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "a NATS barrier failed"),
        Err(_) => tracing::warn!("NATS did not answer a barrier within {BARRIER_WITHIN:?}"),
    }
}

/// How long `follow` waits for the NATS server to confirm a subscription.
const BARRIER_WITHIN: Duration = Duration::from_secs(2);

/// The task that owns the subscriptions: one NATS subscription per followed topic, all read
/// here, with NATS's connection events.
struct Manager {
    client: Client,
    prefix: Arc<str>,
    origin: u64,
    local: Arc<InProcessBus>,
    publish_failed: Arc<AtomicBool>,
    subscriptions: SelectAll<BoxStream<'static, async_nats::Message>>,
    cancels: HashMap<Topic, oneshot::Sender<()>>,
    seen: HashSet<(u64, u64)>,
    seen_order: VecDeque<(u64, u64)>,
    disconnected: bool,
}

impl Manager {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<NatsEvent>,
        resync: async_nats::Subscriber,
    ) {
        self.subscriptions.push(resync.boxed());
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Follow(topic, done)) => {
                        self.follow(topic).await;
                        // The caller waits for the server to have the subscription; this task
                        // goes on reading meanwhile.
                        let (client, prefix) = (self.client.clone(), self.prefix.clone());
                        tokio::spawn(async move {
                            barrier(client, prefix).await;
                            let _ = done.send(());
                        });
                    }
                    Some(Command::Unfollow(topic)) => {
                        if let Some(cancel) = self.cancels.remove(&topic) {
                            let _ = cancel.send(());
                        }
                    }
                    // The bus was dropped: the node is stopping.
                    None => return,
                },
                Some(message) = self.subscriptions.next() => self.received(message),
                Some(event) = events.recv() => self.event(event).await,
            }
        }
    }

    async fn follow(&mut self, topic: Topic) {
        if self.cancels.contains_key(&topic) {
            return;
        }
        match self.client.subscribe(NatsBus::subject(&self.prefix, topic)).await {
            Ok(subscriber) => {
                let (cancel, cancelled) = oneshot::channel();
                self.cancels.insert(topic, cancel);
                // Cancelling ends the stream; dropping the subscriber unsubscribes.
                self.subscriptions.push(subscriber.take_until(cancelled.map(|_| ())).boxed());
            }
            Err(e) => {
                tracing::error!(error = %e, "subscribing on NATS failed; repairing from the store");
                self.local.deliver(Delivery::Missed);
            }
        }
    }

    fn received(&mut self, message: async_nats::Message) {
        if message.subject.as_str().ends_with(".resync") {
            tracing::info!("another node asks every node to repair from the store");
            self.local.deliver(Delivery::Missed);
            return;
        }
        let wire: WireIn = match serde_json::from_slice(&message.payload) {
            Ok(w) => w,
            Err(e) => {
                return tracing::warn!(error = %e, subject = %message.subject, "an envelope that does not parse");
            }
        };
        if wire.origin == self.origin || !self.seen.insert((wire.origin, wire.n)) {
            return;
        }
        self.seen_order.push_back((wire.origin, wire.n));
        if self.seen_order.len() > DEDUPE_WINDOW
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.local.deliver(Delivery::Envelope(Arc::new(wire.envelope)));
    }

    async fn event(&mut self, event: NatsEvent) {
        match event {
            NatsEvent::Disconnected => {
                tracing::warn!("lost the connection to NATS; reconnecting");
                self.disconnected = true;
            }
            NatsEvent::Connected if self.disconnected => {
                self.disconnected = false;
                tracing::info!("connected to NATS again; repairing from the store");
                self.local.deliver(Delivery::Missed);
                // What this node published meanwhile may not have reached the others.
                self.publish_failed.store(false, Ordering::Release);
                let subject = format!("{}.resync", self.prefix);
                if let Err(e) = self.client.publish(subject, bytes_of(Vec::new())).await {
                    tracing::warn!(error = %e, "asking the other nodes to repair failed");
                }
            }
            NatsEvent::SlowConsumer(sid) => {
                tracing::warn!(
                    sid,
                    "NATS dropped messages for this node (too slow); repairing from the store"
                );
                self.local.deliver(Delivery::Missed);
            }
            other => tracing::debug!(event = %other, "NATS"),
        }
    }
}

fn bytes_of(v: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(v)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // A random value without another dependency: std's hasher keys are random per process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    //! Against the NATS server the machines run at 127.0.0.1:4222 (BECKON_TEST_NATS_URL to use
    //! another), each test on its own subject prefix so runs never see each other.
    use super::*;
    use beckon_domain::events::Event;
    use beckon_domain::{AgentId, ConversationId, OrgId, Presence, VisitorId};

    fn nats_url() -> String {
        std::env::var("BECKON_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
    }

    /// Two nodes' buses on a fresh prefix. NATS must be running: without it the test fails
    /// (nothing is skipped).
    async fn two_nodes() -> Option<(Arc<NatsBus>, Arc<NatsBus>)> {
        let prefix = format!("beckon-test-{:x}", rand_u64());
        let settings = NatsSettings { url: nats_url(), prefix };
        match NatsBus::connect(settings.clone()).await {
            Ok(a) => Some((a, NatsBus::connect(settings).await.unwrap())),
            Err(e) => panic!(
                "NATS is required for the bus tests (start it with: nats-server -a 127.0.0.1 -p 4222): {e}"
            ),
        }
    }

    fn presence(topics: Vec<Topic>, n: i64) -> Envelope {
        Envelope::new(
            topics,
            Event::Presence { org_id: OrgId(1), agent_id: AgentId(n), presence: Presence::Busy },
        )
    }

    /// The next envelope, waiting as long as a busy machine may need for one that must come.
    async fn next(s: &mut BoxStream<'static, Delivery>) -> Option<Envelope> {
        next_within(s, Duration::from_secs(10)).await
    }

    /// For envelopes that must not come: what arrives within a short wait.
    async fn none_within_a_moment(s: &mut BoxStream<'static, Delivery>) -> bool {
        next_within(s, Duration::from_millis(300)).await.is_none()
    }

    async fn next_within(s: &mut BoxStream<'static, Delivery>, within: Duration) -> Option<Envelope> {
        match tokio::time::timeout(within, s.next()).await {
            Ok(Some(Delivery::Envelope(e))) => Some((*e).clone()),
            Ok(Some(Delivery::Missed)) => panic!("nothing was missed"),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_node_gets_the_topics_it_follows_once_each_and_in_order() {
        let Some((a, b)) = two_nodes().await else { return };
        let mut at_a = a.subscribe();
        let (conv, visitor, other) =
            (Topic::Conversation(ConversationId(1)), Topic::Visitor(VisitorId(2)), Topic::Org(OrgId(3)));
        a.follow(conv).await;
        a.follow(visitor).await;
        for n in 0..5 {
            b.publish(presence(vec![conv], n)).await.unwrap();
        }
        // On two followed topics at once: delivered once.
        b.publish(presence(vec![conv, visitor], 5)).await.unwrap();
        // Not followed: not delivered.
        b.publish(presence(vec![other], 6)).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 6 {
            let Some(e) = next(&mut at_a).await else { break };
            let Event::Presence { agent_id, .. } = e.event else { panic!("{e:?}") };
            got.push(agent_id.0);
        }
        assert!(none_within_a_moment(&mut at_a).await, "more than expected: {got:?}");
        // Once each, nothing unfollowed; one topic's envelopes in the order published (the
        // envelope on two topics may come first through the other one).
        let conv_only: Vec<i64> = got.iter().copied().filter(|n| *n < 5).collect();
        assert_eq!(conv_only, [0, 1, 2, 3, 4], "{got:?}");
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5], "{got:?}");
        // A node's own envelopes reach it without the round trip, followed or not.
        a.publish(presence(vec![other], 7)).await.unwrap();
        assert!(next(&mut at_a).await.is_some());
        // After unfollowing, nothing more of that topic.
        a.unfollow(conv);
        a.follow(visitor).await; // a barrier: the unfollow above has been handled
        b.publish(presence(vec![conv], 8)).await.unwrap();
        assert!(none_within_a_moment(&mut at_a).await);
    }

    #[tokio::test]
    async fn a_node_asked_to_repair_hears_that_it_missed_events() {
        let Some((a, b)) = two_nodes().await else { return };
        let mut at_a = a.subscribe();
        b.client.publish(format!("{}.resync", b.prefix), bytes_of(Vec::new())).await.unwrap();
        let d = tokio::time::timeout(Duration::from_secs(5), at_a.next()).await.unwrap().unwrap();
        assert!(matches!(d, Delivery::Missed));
    }

    struct Says(&'static str);

    #[async_trait]
    impl Answerer for Says {
        async fn answer(&self, question: serde_json::Value) -> serde_json::Value {
            serde_json::json!({ "node": self.0, "heard": question })
        }
    }

    #[tokio::test]
    async fn a_question_is_answered_by_every_node_including_the_one_asking() {
        let Some((a, b)) = two_nodes().await else { return };
        let c =
            NatsBus::connect(NatsSettings { url: nats_url(), prefix: a.prefix.to_string() }).await.unwrap();
        a.answer_with(Arc::new(Says("a")));
        b.answer_with(Arc::new(Says("b")));
        c.answer_with(Arc::new(Says("c")));
        let q = serde_json::json!({"q": "who"});
        let mut answers = a.ask(q.clone(), 3, Duration::from_secs(5)).await;
        answers.sort_by_key(|v| v["node"].as_str().unwrap().to_owned());
        let nodes: Vec<_> = answers.iter().map(|v| v["node"].as_str().unwrap()).collect();
        assert_eq!(nodes, ["a", "b", "c"]);
        assert!(answers.iter().all(|v| v["heard"] == q));
        // A node expected but not answering (dead, not yet out of the live list): the answers
        // there are, after the wait.
        let answers = b.ask(q, 4, Duration::from_secs(2)).await;
        assert_eq!(answers.len(), 3, "{answers:?}");
    }
}
