//! The storage conformance suite: behaviour every backend must have.
//!
//! Each test is written against `Arc<dyn Store>` and run per backend by the `backend_tests!`
//! macro at the bottom, so adding PostgreSQL is one more line there, not a copy of the suite.

use beckon_domain::message::{NewMessage, Sender};
use beckon_domain::model::{Role, WidgetSettings};
use beckon_domain::*;
use beckon_store::*;
use std::collections::HashSet;
use std::sync::Arc;

struct World {
    store: Arc<dyn Store>,
    org: OrgId,
    widget: WidgetId,
    queue: QueueId,
    /// What must outlive the store: SQLite's directory, PostgreSQL's database (dropped last).
    _keep: Box<dyn std::any::Any>,
}

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = connect(&url).await.unwrap();
    world(store, dir).await
}

/// PostgreSQL: a database of the test's own, dropped when the test ends, passed or failed.
async fn postgres_world() -> World {
    let db = pg::TestDatabase::create().await;
    let store = connect(&db.url).await.unwrap();
    world(store, db).await
}

async fn world(store: Arc<dyn Store>, keep: impl std::any::Any) -> World {
    let t = Timestamp(1_000);
    let org = store.create_org("Contoso", t).await.unwrap();
    let queue = store.create_queue(org.id, "General", t).await.unwrap();
    let widget = store
        .create_widget(
            NewWidget {
                org_id: org.id,
                key: WidgetKey::parse("test-widget-1").unwrap(),
                name: "Site".into(),
                allowed_origins: vec!["*".into()],
                default_queue_id: Some(queue.id),
                settings: WidgetSettings::default(),
                auth: None,
            },
            t,
        )
        .await
        .unwrap();
    World { store, org: org.id, widget: widget.id, queue: queue.id, _keep: Box::new(keep) }
}

impl World {
    async fn visitor(&self, token: &str) -> VisitorId {
        static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1 << 40);
        let id = VisitorId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let new = NewVisitor {
            id,
            widget_id: self.widget,
            token_hash: token.into(),
            arrived_at: Timestamp(1_000),
            meta: Default::default(),
            first_page: None,
        };
        self.store.create_visitor(new, Timestamp(1_000)).await.unwrap().0.id
    }
    async fn agent(&self, email: &str) -> AgentId {
        let a = self
            .store
            .create_agent(
                NewAgent {
                    org_id: self.org,
                    email: email.into(),
                    name: "Ann".into(),
                    password_hash: "x".into(),
                    role: Role::Agent,
                    capacity: 2,
                },
                Timestamp(1_000),
            )
            .await
            .unwrap();
        self.store.add_agent_to_queue(a.id, self.queue, Timestamp(1_000)).await.unwrap();
        a.id
    }
    /// Offers with room to spare and no deadline soon (the offer rules are tested on their own).
    async fn offer(&self, c: ConversationId, a: AgentId) -> bool {
        self.store.offer_conversation(c, a, 100, Timestamp(i64::MAX / 2), Timestamp(1)).await.unwrap()
    }
    /// A new queued conversation of the visitor in the world's queue, to adjust before creating.
    fn new_conversation(&self, visitor: VisitorId) -> NewConversation {
        NewConversation {
            org_id: self.org,
            widget_id: self.widget,
            visitor_id: visitor,
            queue_id: Some(self.queue),
            proactive: false,
            invite_id: None,
            context: Context::default(),
            auth_sub: None,
            auth_iss: None,
            reply_email: None,
            leave_message_at: None,
            language: "en".into(),
            visitor_name: None,
        }
    }
    async fn conversation(&self, visitor: VisitorId) -> Conversation {
        self.store
            .create_conversation(
                NewConversation {
                    org_id: self.org,
                    widget_id: self.widget,
                    visitor_id: visitor,
                    queue_id: Some(self.queue),
                    proactive: true,
                    invite_id: None,
                    context: Context::parse(
                        &serde_json::json!({"Case Id": {"value": "C-1", "isDisplayable": true}}),
                    )
                    .unwrap(),
                    auth_sub: None,
                    auth_iss: None,
                    reply_email: None,
                    leave_message_at: None,
                    language: "en".into(),
                    visitor_name: None,
                },
                Timestamp(2_000),
            )
            .await
            .unwrap()
    }
}
use beckon_domain::invite::InviteOutcome;
use beckon_domain::model::Conversation;

fn msg(c: ConversationId, text: &str, client: Option<&str>) -> NewMessage {
    NewMessage {
        conversation_id: c,
        sender: Sender::visitor(),
        text: MessageText::parse(text).unwrap(),
        tags: vec![],
        client_msg_id: client.map(|s| ClientMsgId::parse(s).unwrap()),
        attachment: None,
    }
}

async fn sequence_numbers_are_dense_and_appends_idempotent(w: World) {
    let v = w.visitor("tok-a").await;
    let c = w.conversation(v).await;
    assert_eq!(c.last_seq, 0);
    assert!(c.proactive);
    assert_eq!(c.context.get("Case Id").unwrap().value.display(), "C-1");
    let a1 = w.store.append_message(msg(c.id, "one", Some("m1")), Timestamp(3_000)).await.unwrap();
    let a2 = w.store.append_message(msg(c.id, "two", Some("m2")), Timestamp(3_001)).await.unwrap();
    let again = w.store.append_message(msg(c.id, "one (retry)", Some("m1")), Timestamp(3_002)).await.unwrap();
    assert_eq!((a1.message.seq, a2.message.seq), (1, 2));
    assert!(!a1.duplicate && again.duplicate);
    assert_eq!(again.message, a1.message, "a retry returns the original message");
    let sys = w.store.append_message(msg(c.id, "system", None), Timestamp(3_003)).await.unwrap();
    assert_eq!(sys.message.seq, 3);
    let all = w.store.messages_after(c.id, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["one", "two", "system"]);
    assert_eq!(w.store.messages_after(c.id, 2, 100).await.unwrap().len(), 1);
    assert_eq!(w.store.messages_after(c.id, 0, 2).await.unwrap().len(), 2);
    assert_eq!(w.store.conversation(c.id).await.unwrap().unwrap().last_seq, 3);
    let missing = w.store.append_message(msg(ConversationId(9_999), "x", None), Timestamp(1)).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

async fn only_open_conversations_and_their_own_agent_take_messages(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let v = w.visitor("tok-h").await;
    let c = w.conversation(v).await;
    let as_agent = |agent: AgentId, text: &str| NewMessage {
        sender: Sender::agent(agent, "A"),
        ..msg(c.id, text, None)
    };
    assert!(matches!(
        w.store.append_message(as_agent(a, "early"), Timestamp(1)).await,
        Err(StoreError::NotAssigned)
    ));
    w.offer(c.id, a).await;
    w.store.accept_conversation(c.id, a, Timestamp(2)).await.unwrap().unwrap();
    assert!(w.store.append_message(as_agent(a, "hello"), Timestamp(3)).await.is_ok());
    assert!(matches!(
        w.store.append_message(as_agent(b, "intruder"), Timestamp(3)).await,
        Err(StoreError::NotAssigned)
    ));
    w.store.close_conversation(c.id, ConversationState::Ended, Timestamp(4)).await.unwrap().unwrap();
    assert!(matches!(
        w.store.append_message(msg(c.id, "late", Some("late")), Timestamp(5)).await,
        Err(StoreError::ConversationClosed)
    ));
    assert!(matches!(
        w.store.append_message(as_agent(a, "late"), Timestamp(5)).await,
        Err(StoreError::ConversationClosed)
    ));
    let system = NewMessage { sender: Sender::system(), ..msg(c.id, "The chat has ended.", None) };
    assert_eq!(w.store.append_message(system, Timestamp(6)).await.unwrap().message.seq, 2);
    // Nothing rejected was stored, and no sequence number was used up by a rejection.
    let texts: Vec<_> =
        w.store.messages_after(c.id, 0, 10).await.unwrap().into_iter().map(|m| (m.seq, m.text)).collect();
    assert_eq!(texts, [(1, "hello".to_string()), (2, "The chat has ended.".to_string())]);
}

async fn concurrent_appends_get_distinct_dense_seqs(w: World) {
    let v = w.visitor("tok-b").await;
    let c = w.conversation(v).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = w.store.clone();
        // Every id is sent twice, concurrently: exactly one copy may be written.
        let id = format!("m{}", i % 100);
        tasks.push(tokio::spawn(async move {
            store.append_message(msg(c.id, "hi", Some(&id)), Timestamp(5_000)).await.unwrap()
        }));
    }
    let mut written = 0;
    for t in tasks {
        if !t.await.unwrap().duplicate {
            written += 1;
        }
    }
    assert_eq!(written, 100);
    let all = w.store.messages_after(c.id, 0, 1_000).await.unwrap();
    assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=100).collect::<Vec<_>>());
    let ids: HashSet<_> = all.iter().map(|m| m.client_msg_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), 100);
}

async fn one_open_conversation_per_visitor(w: World) {
    let v = w.visitor("tok-c").await;
    let c = w.conversation(v).await;
    let second = w
        .store
        .create_conversation(
            NewConversation {
                org_id: w.org,
                widget_id: w.widget,
                visitor_id: v,
                queue_id: None,
                proactive: false,
                invite_id: None,
                context: Context::new(),
                auth_sub: None,
                auth_iss: None,
                reply_email: None,
                leave_message_at: None,
                language: "en".into(),
                visitor_name: None,
            },
            Timestamp(2_500),
        )
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))));
    assert_eq!(w.store.open_conversation_of_visitor(v).await.unwrap().unwrap().id, c.id);
    let closed = w
        .store
        .close_conversation(c.id, ConversationState::Abandoned, Timestamp(3_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.state, ConversationState::Abandoned);
    assert_eq!(closed.ended_at, Some(Timestamp(3_000)));
    assert!(
        w.store.close_conversation(c.id, ConversationState::Ended, Timestamp(3_100)).await.unwrap().is_none()
    );
    assert!(w.store.open_conversation_of_visitor(v).await.unwrap().is_none());
    // Now a new one may start.
    w.conversation(v).await;
}

async fn an_offer_is_accepted_by_exactly_one_agent(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let v = w.visitor("tok-d").await;
    let c = w.conversation(v).await;
    assert_eq!(w.store.unoffered_waiting(w.queue).await.unwrap().len(), 1);
    assert!(w.store.accept_conversation(c.id, a, Timestamp(3_000)).await.unwrap().is_none(), "no offer yet");
    assert!(w.offer(c.id, a).await);
    assert!(!w.offer(c.id, b).await, "already offered");
    assert!(w.store.unoffered_waiting(w.queue).await.unwrap().is_empty());
    assert_eq!(w.store.agent_loads(&[a, b]).await.unwrap().get(&a), Some(&1));
    // Both try at once; only the offered agent can win, and only once.
    let (ra, rb) = tokio::join!(
        w.store.accept_conversation(c.id, a, Timestamp(3_000)),
        w.store.accept_conversation(c.id, b, Timestamp(3_000)),
    );
    let accepted = ra.unwrap().unwrap();
    assert!(rb.unwrap().is_none());
    assert_eq!((accepted.state, accepted.agent_id), (ConversationState::Active, Some(a)));
    assert!(w.store.accept_conversation(c.id, a, Timestamp(3_001)).await.unwrap().is_none());
    // Created at 2_000, accepted at 3_000.
    assert_eq!(w.store.average_wait_ms(w.queue, Timestamp(0)).await.unwrap(), Some(1_000));
    assert_eq!(w.store.average_wait_ms(w.queue, Timestamp(5_000)).await.unwrap(), None);
    assert_eq!(w.store.queue_position(c.id).await.unwrap(), None, "active: not in the queue");
    assert_eq!(w.store.open_conversations_of_agent(a).await.unwrap().len(), 1);
    assert!(w.store.open_conversations_of_agent(b).await.unwrap().is_empty());
    // Withdrawn offers can be offered again.
    let v2 = w.visitor("tok-e").await;
    let c2 = w.conversation(v2).await;
    let v3 = w.visitor("tok-e3").await;
    let c3 = w.conversation(v3).await;
    assert_eq!(w.store.queue_position(c2.id).await.unwrap(), Some(1));
    assert_eq!(w.store.queue_position(c3.id).await.unwrap(), Some(2));
    assert!(w.offer(c2.id, b).await);
    assert!(!w.store.withdraw_offer(c2.id, a).await.unwrap());
    assert!(w.store.withdraw_offer(c2.id, b).await.unwrap());
    assert!(w.offer(c2.id, a).await);
    assert_eq!(w.store.agent_loads(&[a, b]).await.unwrap().get(&a), Some(&2));
}

async fn a_transfer_hands_an_active_conversation_on(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let v = w.visitor("tok-t").await;
    let c = w.conversation(v).await;
    w.offer(c.id, a).await;
    w.store.accept_conversation(c.id, a, Timestamp(3)).await.unwrap().unwrap();
    assert!(
        w.store
            .transfer_conversation(c.id, b, None, Some((a, Timestamp(100))), Timestamp(3))
            .await
            .unwrap()
            .is_none(),
        "only its agent"
    );
    let t = w
        .store
        .transfer_conversation(c.id, a, None, Some((b, Timestamp(100))), Timestamp(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.store.declined_agents(c.id).await.unwrap(), [a], "not offered back to who handed it on");
    assert_eq!((t.state, t.agent_id, t.offered_agent_id), (ConversationState::Transferred, None, Some(b)));
    assert_eq!(t.accepted_at, Some(Timestamp(3)), "first acceptance is kept for wait-time statistics");
    assert!(
        w.store.transfer_conversation(c.id, a, None, None, Timestamp(3)).await.unwrap().is_none(),
        "not active any more"
    );
    let taken = w.store.accept_conversation(c.id, b, Timestamp(4)).await.unwrap().unwrap();
    assert_eq!((taken.state, taken.agent_id), (ConversationState::Active, Some(b)));
    let everyone = w.store.agents_of_org(w.org).await.unwrap();
    assert_eq!(everyone.len(), 2);
}

async fn offers_never_exceed_capacity_however_many_ask_at_once(w: World) {
    let a = w.agent("cap@x.test").await;
    let mut waiting = Vec::new();
    for i in 0..12 {
        let v = w.visitor(&format!("tok-cap-{i}")).await;
        waiting.push(w.conversation(v).await.id);
    }
    // Twelve routing decisions at once (as from twelve nodes) for an agent with room for three.
    let offers = waiting.iter().map(|c| {
        let store = w.store.clone();
        let c = *c;
        async move { store.offer_conversation(c, a, 3, Timestamp(60_000), Timestamp(5_000)).await.unwrap() }
    });
    let won = futures_util::future::join_all(offers).await.into_iter().filter(|ok| *ok).count();
    assert_eq!(won, 3);
    assert_eq!(w.store.agent_loads(&[a]).await.unwrap().get(&a), Some(&3));
    let p = w.store.agent_presences(&[a], Timestamp(0)).await.unwrap()[&a];
    assert_eq!(p.idle_since, Timestamp(5_000), "an offer resets the idle time");
    // An active conversation counts too.
    let first = w.store.open_conversations_of_agent(a).await.unwrap()[0].id;
    w.store.accept_conversation(first, a, Timestamp(6_000)).await.unwrap().unwrap();
    // One not offered yet: which three won the race above is up to the backend (on PostgreSQL
    // any three may; picking a fixed index failed whenever it was one of them).
    let unoffered = w.store.unoffered_waiting(w.queue).await.unwrap()[0].id;
    assert!(!w.store.offer_conversation(unoffered, a, 3, Timestamp(60_000), Timestamp(6_000)).await.unwrap());
    assert!(w.store.offer_conversation(unoffered, a, 4, Timestamp(60_000), Timestamp(6_000)).await.unwrap());
}

async fn offer_deadlines_and_declines_are_stored_and_taken_once(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let c = w.conversation(w.visitor("tok-dl").await).await;
    let c2 = w.conversation(w.visitor("tok-dl2").await).await;
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), None);
    assert!(w.store.offer_conversation(c.id, a, 5, Timestamp(30_000), Timestamp(0)).await.unwrap());
    assert!(w.store.offer_conversation(c2.id, b, 5, Timestamp(40_000), Timestamp(0)).await.unwrap());
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), Some(Timestamp(30_000)));
    assert!(w.store.expire_offers(Timestamp(29_999)).await.unwrap().is_empty());
    // Two sweepers at the deadline: each expired offer goes to exactly one of them.
    let (x, y) =
        tokio::join!(w.store.expire_offers(Timestamp(30_000)), w.store.expire_offers(Timestamp(30_000)));
    let mut expired = x.unwrap();
    expired.extend(y.unwrap());
    assert_eq!(expired.len(), 1);
    let (conv, agent) = &expired[0];
    assert_eq!((conv.id, conv.offered_agent_id, *agent), (c.id, None, a));
    assert_eq!(w.store.declined_agents(c.id).await.unwrap(), [a], "an expired offer counts as declined");
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), Some(Timestamp(40_000)));
    // Declining: the offer is gone, the agent remembered; declining twice does nothing.
    assert!(w.store.decline_offer(c2.id, b, Timestamp(31_000)).await.unwrap());
    assert!(!w.store.decline_offer(c2.id, b, Timestamp(31_000)).await.unwrap());
    assert_eq!(w.store.declined_agents(c2.id).await.unwrap(), [b]);
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), None, "no deadline left");
    // Accepting clears the deadline.
    assert!(w.store.offer_conversation(c2.id, a, 5, Timestamp(90_000), Timestamp(32_000)).await.unwrap());
    w.store.accept_conversation(c2.id, a, Timestamp(33_000)).await.unwrap().unwrap();
    assert!(w.store.expire_offers(Timestamp(100_000)).await.unwrap().is_empty());
    // The place in line is announced once per change.
    assert_eq!(w.store.set_announced_position(c.id, 2).await.unwrap(), Some(true), "the first");
    assert_eq!(w.store.set_announced_position(c.id, 2).await.unwrap(), None, "no change");
    assert_eq!(w.store.set_announced_position(c.id, 1).await.unwrap(), Some(false));
}

async fn presence_is_consoles_on_live_nodes_with_a_grace_period(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let s = &w.store;
    s.set_agent_presence(a, Presence::Available, Timestamp(1_000)).await.unwrap();
    s.set_agent_presence(b, Presence::Busy, Timestamp(1_000)).await.unwrap();
    let both = [a, b];
    let presences = |at: i64| s.agent_presences(&both, Timestamp(at));
    let p = presences(0).await.unwrap();
    assert_eq!((p[&a].effective(), p[&a].idle_since), (Presence::Offline, Timestamp(1_000)), "no console");
    s.node_heartbeat("n1", Timestamp(30_000), Timestamp(1_000)).await.unwrap();
    s.node_heartbeat("n2", Timestamp(30_000), Timestamp(1_000)).await.unwrap();
    s.open_console("c-a1", a, "n1", Timestamp(2_000)).await.unwrap();
    s.open_console("c-a2", a, "n2", Timestamp(2_000)).await.unwrap();
    s.open_console("c-b", b, "n2", Timestamp(2_000)).await.unwrap();
    let p = presences(0).await.unwrap();
    assert_eq!((p[&a].effective(), p[&b].effective()), (Presence::Available, Presence::Busy));
    // Available again does not reset the idle time; becoming available does.
    s.set_agent_presence(a, Presence::Available, Timestamp(5_000)).await.unwrap();
    s.set_agent_presence(b, Presence::Available, Timestamp(5_000)).await.unwrap();
    let p = presences(0).await.unwrap();
    assert_eq!((p[&a].idle_since, p[&b].idle_since), (Timestamp(1_000), Timestamp(5_000)));
    // One of a's consoles closes: a is still online through the other.
    s.close_console("c-a1", Timestamp(6_000)).await.unwrap();
    assert!(presences(6_000).await.unwrap()[&a].online);
    // Node n2 stops renewing its lease: after it runs out, its consoles are closed as of then.
    s.node_heartbeat("n1", Timestamp(60_000), Timestamp(20_000)).await.unwrap();
    assert_eq!(
        s.next_deadline(15_000, false).await.unwrap(),
        Some(Timestamp(21_000)),
        "c-a1's grace ends first"
    );
    assert!(s.expire_nodes(Timestamp(30_000)).await.unwrap().is_empty(), "not yet");
    assert_eq!(s.expire_nodes(Timestamp(30_001)).await.unwrap(), ["n2".to_string()]);
    assert!(s.expire_nodes(Timestamp(30_001)).await.unwrap().is_empty(), "once");
    // Within the grace period they still count; after it, a and b are offline.
    let p = presences(30_000 - 15_000).await.unwrap();
    assert!(p[&a].online && p[&b].online, "lingering");
    let mut gone = s.drop_closed_consoles(Timestamp(30_000)).await.unwrap();
    gone.sort();
    assert_eq!(gone, [a, b]);
    let p = presences(0).await.unwrap();
    assert!(!p[&a].online && !p[&b].online);
    // A node that stops cleanly closes its consoles at once.
    s.open_console("c-a3", a, "n1", Timestamp(31_000)).await.unwrap();
    s.node_stopped("n1", Timestamp(32_000)).await.unwrap();
    assert!(presences(31_999).await.unwrap()[&a].online, "closed at 32 s, lingering after 31.999 s");
    assert!(!presences(32_000).await.unwrap()[&a].online);
}

async fn visits_start_after_inactivity(w: World) {
    let v = w.visitor("tok-f").await;
    let first = w.store.touch_visit(v, 30 * 60_000, Timestamp(10_000)).await.unwrap();
    assert_eq!(first.number, 1);
    let same = w.store.touch_visit(v, 30 * 60_000, Timestamp(10_000 + 29 * 60_000)).await.unwrap();
    assert_eq!((same.id, same.number), (first.id, 1));
    let next = w.store.touch_visit(v, 30 * 60_000, Timestamp(10_000 + 60 * 60_000)).await.unwrap();
    assert_eq!(next.number, 2);
    w.store
        .record_page_view(
            NewPageView {
                visit_id: next.id,
                visitor_id: v,
                url: "https://x/".into(),
                title: "X".into(),
                referrer: "".into(),
            },
            Timestamp(10_000 + 60 * 60_000),
        )
        .await
        .unwrap();
}

async fn sessions_expire_and_credentials_match_case_insensitively(w: World) {
    let a = w.agent("Ann@Example.test").await;
    let (agent, hash) = w.store.agent_credentials("ann@example.TEST").await.unwrap().unwrap();
    assert_eq!((agent.id, hash.as_str()), (a, "x"));
    w.store.create_agent_session("h1", a, Timestamp(5_000), Timestamp(1_000)).await.unwrap();
    assert_eq!(w.store.agent_for_session("h1", Timestamp(4_999)).await.unwrap().unwrap().id, a);
    assert!(w.store.agent_for_session("h1", Timestamp(5_000)).await.unwrap().is_none());
    w.store.delete_agent_session("h1").await.unwrap();
    assert!(w.store.agent_for_session("h1", Timestamp(1_000)).await.unwrap().is_none());
    let dup = w
        .store
        .create_agent(
            NewAgent {
                org_id: w.org,
                email: "ann@example.test".into(),
                name: "B".into(),
                password_hash: "y".into(),
                role: Role::Admin,
                capacity: 1,
            },
            Timestamp(1),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
}

async fn failed_sign_ins_are_counted_per_email_blocked_and_forgotten(w: World) {
    let s = &w.store;
    assert_eq!(
        s.record_sign_in_failure("Ann@Example.test", Timestamp(0), Timestamp(1_000)).await.unwrap(),
        1
    );
    assert_eq!(
        s.record_sign_in_failure("ann@example.test", Timestamp(0), Timestamp(2_000)).await.unwrap(),
        2
    );
    assert_eq!(s.record_sign_in_failure("nobody@x.test", Timestamp(0), Timestamp(2_000)).await.unwrap(), 1);
    assert_eq!(s.sign_in_blocked_until("ann@example.test", Timestamp(2_000)).await.unwrap(), None);
    s.block_sign_in("ANN@example.test", Timestamp(3_000)).await.unwrap();
    assert_eq!(
        s.sign_in_blocked_until("ann@example.test", Timestamp(2_999)).await.unwrap(),
        Some(Timestamp(3_000))
    );
    assert_eq!(s.sign_in_blocked_until("ann@example.test", Timestamp(3_000)).await.unwrap(), None, "over");
    s.clear_sign_in_failures("ann@example.test").await.unwrap();
    assert_eq!(
        s.record_sign_in_failure("ann@example.test", Timestamp(0), Timestamp(4_000)).await.unwrap(),
        1
    );
    // Counts not touched since `forget_before` are dropped.
    assert_eq!(
        s.record_sign_in_failure("nobody@x.test", Timestamp(3_000), Timestamp(5_000)).await.unwrap(),
        1
    );
}

async fn a_disabled_agent_has_no_sessions_and_no_queue_and_a_new_password_ends_sessions(w: World) {
    let s = &w.store;
    let a = w.agent("dis@x.test").await;
    for h in ["s1", "s2", "s3"] {
        s.create_agent_session(h, a, Timestamp(100_000), Timestamp(1_000)).await.unwrap();
    }
    s.set_agent_password(a, "new-hash", Some("s1")).await.unwrap();
    assert_eq!(s.agent_credentials("dis@x.test").await.unwrap().unwrap().1, "new-hash");
    assert!(
        s.agent_for_session("s1", Timestamp(2_000)).await.unwrap().is_some(),
        "the changing session stays"
    );
    assert!(s.agent_for_session("s2", Timestamp(2_000)).await.unwrap().is_none());
    let disabled = s.set_agent_disabled(a, true, Timestamp(2_000)).await.unwrap().unwrap();
    assert!(disabled.disabled);
    assert!(s.agent_for_session("s1", Timestamp(2_000)).await.unwrap().is_none());
    assert!(!s.queue_agents(w.queue).await.unwrap().iter().any(|x| x.id == a));
    assert!(s.agent(a).await.unwrap().unwrap().disabled);
    let enabled = s.set_agent_disabled(a, false, Timestamp(3_000)).await.unwrap().unwrap();
    assert!(!enabled.disabled);
    assert!(s.queue_agents(w.queue).await.unwrap().iter().any(|x| x.id == a));
    assert!(s.set_agent_disabled(AgentId(987_654), true, Timestamp(3_000)).await.unwrap().is_none());
}

async fn a_new_visitor_is_stored_with_its_first_visit_and_page_at_once(w: World) {
    let id = VisitorId(1 << 45);
    let meta = beckon_domain::model::VisitMeta {
        browser: Some("Firefox".into()),
        country: Some("FR".into()),
        ..Default::default()
    };
    let new = NewVisitor {
        id,
        widget_id: w.widget,
        token_hash: "tok-new".into(),
        arrived_at: Timestamp(5_000),
        meta: meta.clone(),
        first_page: Some(FirstPage {
            url: "https://shop.example/".into(),
            title: "Shop".into(),
            referrer: "".into(),
        }),
    };
    let (visitor, visit) = w.store.create_visitor(new.clone(), Timestamp(9_000)).await.unwrap();
    assert_eq!(
        (visitor.id, visitor.created_at, visitor.last_seen_at),
        (id, Timestamp(5_000), Timestamp(9_000))
    );
    assert_eq!(
        (visit.number, visit.started_at, visit.last_activity_at, &visit.meta),
        (1, Timestamp(5_000), Timestamp(9_000), &meta)
    );
    assert_eq!(w.store.visitor_by_token("tok-new").await.unwrap().map(|v| v.id), Some(id));
    assert_eq!(w.store.latest_visit(id).await.unwrap(), Some(visit.clone()));
    assert_eq!(w.store.page_view_counts(id, "https://shop.example/").await.unwrap(), (1, 1));
    // The same id or token again is a conflict, and changes nothing.
    let again = w
        .store
        .create_visitor(NewVisitor { token_hash: "tok-other".into(), ..new.clone() }, Timestamp(9_500))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let again =
        w.store.create_visitor(NewVisitor { id: VisitorId((1 << 45) + 1), ..new }, Timestamp(9_500)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(w.store.page_view_counts(id, "https://shop.example/").await.unwrap(), (1, 1));
}

async fn invite_events_are_idempotent(w: World) {
    let v = w.visitor("tok-g").await;
    let ev = |outcome: &str| NewInviteEvent {
        widget_id: w.widget,
        queue_id: None,
        visitor_id: v,
        invite_id: "inv-1".into(),
        source: "sdk".into(),
        outcome: InviteOutcome::parse(outcome).unwrap(),
        reason: None,
        message: "Hi!".into(),
    };
    // A final outcome of an invite that was never offered or shown counts for nothing.
    assert!(!w.store.record_invite_event(ev("accepted"), Timestamp(0)).await.unwrap());
    assert!(w.store.record_invite_event(ev("shown"), Timestamp(1)).await.unwrap());
    assert!(!w.store.record_invite_event(ev("shown"), Timestamp(2)).await.unwrap());
    assert!(w.store.record_invite_event(ev("accepted"), Timestamp(3)).await.unwrap());
    // One final outcome per invite: declining or expiring it afterwards is not counted.
    assert!(!w.store.record_invite_event(ev("declined"), Timestamp(4)).await.unwrap());
    assert!(!w.store.record_invite_event(ev("expired"), Timestamp(5)).await.unwrap());
    let all = w.store.invite_events(w.widget).await.unwrap();
    assert_eq!(all.iter().map(|e| e.outcome.as_str()).collect::<Vec<_>>(), ["shown", "accepted"]);
}

async fn identities_follow_people_across_visitors(w: World) {
    let auth = beckon_domain::model::WidgetAuth {
        required: true,
        issuers: vec!["https://shop.example".into()],
        audience: None,
        leeway_secs: 30,
        keys: vec![beckon_domain::model::PublicKey {
            kid: "k1".into(),
            pem: "-----BEGIN PUBLIC KEY-----".into(),
        }],
        jwks_url: None,
    };
    w.store.set_widget_auth(w.widget, Some(&auth)).await.unwrap();
    let widget = w.store.widget(w.widget).await.unwrap().unwrap();
    assert_eq!(widget.auth, Some(auth));
    w.store.set_widget_auth(w.widget, None).await.unwrap();
    assert_eq!(w.store.widget(w.widget).await.unwrap().unwrap().auth, None);
    assert!(matches!(w.store.set_widget_auth(WidgetId(999), None).await, Err(StoreError::NotFound(_))));

    // Two browsers (visitors), one person.
    let (laptop, phone) = (w.visitor("tok-laptop").await, w.visitor("tok-phone").await);
    w.store.set_visitor_auth_sub(laptop, "https://idp.example", "user-42").await.unwrap();
    let c1 = w.conversation(laptop).await;
    let ctx = Context::parse(&serde_json::json!({"Tier": {"value": "gold", "isDisplayable": true}})).unwrap();
    let authed = w
        .store
        .authenticate_conversation(c1.id, "https://idp.example", "user-42", &ctx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((authed.auth_sub.as_deref(), authed.context.clone()), (Some("user-42"), ctx.clone()));
    w.store.close_conversation(c1.id, ConversationState::Abandoned, Timestamp(3)).await.unwrap();
    assert!(
        w.store
            .authenticate_conversation(c1.id, "https://idp.example", "user-42", &ctx)
            .await
            .unwrap()
            .is_none(),
        "closed"
    );
    let c2 = w.conversation(phone).await;
    w.store.authenticate_conversation(c2.id, "https://idp.example", "user-42", &ctx).await.unwrap().unwrap();
    let theirs =
        w.store.conversations_of_identity(w.org, Some("https://idp.example"), "user-42", 10).await.unwrap();
    assert_eq!(theirs.iter().map(|c| c.id).collect::<Vec<_>>(), [c2.id, c1.id]);
    assert!(
        w.store
            .conversations_of_identity(w.org, Some("https://idp.example"), "someone-else", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The same `sub` from another identity provider is another person.
    assert!(
        w.store
            .conversations_of_identity(w.org, Some("https://other-idp.example"), "user-42", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn past_conversations_are_found_by_text_person_agent_and_date(w: World) {
    let a = w.agent("a@x.test").await;
    let (v1, v2) = (w.visitor("tok-s1").await, w.visitor("tok-s2").await);
    let c1 = w.conversation(v1).await;
    w.store
        .append_message(msg(c1.id, "My order 1234 never arrived", Some("x1")), Timestamp(10))
        .await
        .unwrap();
    w.offer(c1.id, a).await;
    w.store.accept_conversation(c1.id, a, Timestamp(11)).await.unwrap();
    let note = NewMessage {
        tags: vec!["internal".into()],
        sender: Sender::agent(a, "Ann"),
        ..msg(c1.id, "secret note", None)
    };
    w.store.append_message(note, Timestamp(12)).await.unwrap();
    w.store.close_conversation(c1.id, ConversationState::Ended, Timestamp(13)).await.unwrap();
    let c2 = w.conversation(v2).await;
    w.store
        .append_message(msg(c2.id, "Question about returns (\"quoted\") OR NOT", Some("x2")), Timestamp(20))
        .await
        .unwrap();

    let find = |f: ConversationSearch| {
        let store = w.store.clone();
        async move { store.search_conversations(&ConversationSearch { limit: 50, ..f }).await.unwrap() }
    };
    let all = find(ConversationSearch { org_id: Some(w.org), ..Default::default() }).await;
    assert_eq!(all.iter().map(|s| s.conversation.id).collect::<Vec<_>>(), [c2.id, c1.id], "newest first");
    let ended = &all[1];
    assert_eq!(ended.agent_name.as_deref(), Some("Ann"));
    assert_eq!(
        ended.last_message.as_deref(),
        Some("My order 1234 never arrived"),
        "agent-only notes are not previews"
    );
    let order = find(ConversationSearch { text: Some("ORDER 1234".into()), ..Default::default() }).await;
    assert_eq!(order.iter().map(|s| s.conversation.id).collect::<Vec<_>>(), [c1.id]);
    // Operators and quotes typed by a person are just words.
    let odd = find(ConversationSearch { text: Some("\"quoted\" OR NOT".into()), ..Default::default() }).await;
    assert_eq!(odd.iter().map(|s| s.conversation.id).collect::<Vec<_>>(), [c2.id]);
    assert!(
        find(ConversationSearch { text: Some("order returns".into()), ..Default::default() })
            .await
            .is_empty()
    );
    assert_eq!(find(ConversationSearch { agent_id: Some(a), ..Default::default() }).await.len(), 1);
    assert_eq!(find(ConversationSearch { visitor_id: Some(v2), ..Default::default() }).await.len(), 1);
    assert_eq!(
        find(ConversationSearch { state: Some(ConversationState::Ended), ..Default::default() }).await.len(),
        1
    );
    assert_eq!(find(ConversationSearch { before_id: Some(c2.id), ..Default::default() }).await.len(), 1);
    assert!(
        find(ConversationSearch { created_from: Some(Timestamp(3_000)), ..Default::default() })
            .await
            .is_empty()
    );
    assert!(find(ConversationSearch { org_id: Some(OrgId(999)), ..Default::default() }).await.is_empty());
}

async fn the_invite_funnel_counts_outcomes_and_resulting_chats(w: World) {
    let a = w.agent("a@x.test").await;
    let day1 = Timestamp(1_767_225_600_000); // 2026-01-01
    let day2 = Timestamp(day1.0 + 86_400_000);
    let record =
        |visitor: VisitorId, id: &str, source: &str, outcome: &str, reason: Option<&str>, at: Timestamp| {
            let store = w.store.clone();
            let ev = NewInviteEvent {
                widget_id: w.widget,
                queue_id: None,
                visitor_id: visitor,
                invite_id: id.into(),
                source: source.into(),
                outcome: InviteOutcome::parse(outcome).unwrap(),
                reason: reason.map(str::to_owned),
                message: "Hi".into(),
            };
            async move { store.record_invite_event(ev, at).await.unwrap() }
        };
    let (v1, v2, v3) = (w.visitor("f1").await, w.visitor("f2").await, w.visitor("f3").await);
    record(v1, "i1", "sdk", "shown", None, day1).await;
    record(v1, "i1", "sdk", "accepted", None, day1).await;
    record(v2, "i2", "sdk", "shown", None, day1).await;
    record(v2, "i2", "sdk", "expired", None, day1).await;
    record(v3, "i3", "sdk", "suppressed", Some("chat_active"), day1).await;
    record(v3, "i4", "agent:1", "offered", None, day2).await;
    record(v3, "i4", "agent:1", "shown", None, day2).await;
    record(v3, "i4", "agent:1", "declined", None, day2).await;
    let c = w
        .store
        .create_conversation(
            NewConversation {
                org_id: w.org,
                widget_id: w.widget,
                visitor_id: v1,
                queue_id: Some(w.queue),
                proactive: true,
                invite_id: Some("i1".into()),
                context: Context::new(),
                auth_sub: None,
                auth_iss: None,
                reply_email: None,
                leave_message_at: None,
                language: "en".into(),
                visitor_name: None,
            },
            day1,
        )
        .await
        .unwrap();
    w.offer(c.id, a).await;
    w.store.accept_conversation(c.id, a, day1).await.unwrap();

    let rows = w.store.invite_funnel(w.org, day1, Timestamp(day2.0 + 86_400_000)).await.unwrap();
    assert_eq!(rows.len(), 2);
    let sdk = &rows[0];
    assert_eq!((sdk.day.as_str(), sdk.source.as_str()), ("2026-01-01", "sdk"));
    assert_eq!((sdk.shown, sdk.accepted, sdk.expired, sdk.declined), (2, 1, 1, 0));
    assert_eq!(sdk.suppressed.get("chat_active"), Some(&1));
    assert_eq!((sdk.conversations, sdk.answered), (1, 1));
    let agent = &rows[1];
    assert_eq!(
        (agent.day.as_str(), agent.source.as_str(), agent.offered, agent.declined),
        ("2026-01-02", "agent:1", 1, 1)
    );
    assert!(w.store.invite_funnel(w.org, day2, day2).await.unwrap().is_empty());
    assert!(w.store.invite_funnel(OrgId(99), day1, day2).await.unwrap().is_empty());
}

async fn routing_rules_and_agent_queues_are_replaced_whole(w: World) {
    use beckon_domain::routing::*;
    assert!(w.store.routing_rules(w.org).await.unwrap().is_empty());
    let support = w.store.create_queue(w.org, "Support", Timestamp(1)).await.unwrap();
    let rules = vec![RoutingRule {
        name: "Cases".into(),
        conditions: vec![RouteCondition {
            field: RouteField::Context("Case Id".into()),
            op: RouteOp::Exists,
            value: String::new(),
        }],
        queue_id: support.id,
    }];
    w.store.set_routing_rules(w.org, &rules, Timestamp(2)).await.unwrap();
    assert_eq!(w.store.routing_rules(w.org).await.unwrap(), rules);
    w.store.set_routing_rules(w.org, &[], Timestamp(3)).await.unwrap();
    assert!(w.store.routing_rules(w.org).await.unwrap().is_empty());
    let a = w.agent("q@x.test").await;
    assert_eq!(w.store.agent_queues(a).await.unwrap(), [w.queue]);
    w.store.set_agent_queues(a, &[support.id], Timestamp(4)).await.unwrap();
    assert_eq!(w.store.agent_queues(a).await.unwrap(), [support.id]);
    assert_eq!(w.store.queues_of_org(w.org).await.unwrap().len(), 2);
}

async fn trigger_rules_history_and_page_counts(w: World) {
    assert_eq!(w.store.trigger_rules(w.org).await.unwrap(), None);
    w.store.set_trigger_rules(w.org, r#"[{"id":1}]"#, Timestamp(1)).await.unwrap();
    w.store.set_trigger_rules(w.org, "[]", Timestamp(2)).await.unwrap();
    assert_eq!(w.store.trigger_rules(w.org).await.unwrap().as_deref(), Some("[]"), "replaced whole");

    let s = &w.store;
    assert_eq!(s.trigger_history("visitor:1").await.unwrap(), None);
    assert!(s.set_trigger_history("visitor:1", "{\"a\":1}", None, Timestamp(3)).await.unwrap());
    assert!(
        !s.set_trigger_history("visitor:1", "{\"a\":9}", None, Timestamp(3)).await.unwrap(),
        "a second first write loses"
    );
    let (json, v1) = s.trigger_history("visitor:1").await.unwrap().unwrap();
    assert_eq!(json, "{\"a\":1}");
    assert!(s.set_trigger_history("visitor:1", "{\"a\":2}", Some(v1), Timestamp(4)).await.unwrap());
    assert!(
        !s.set_trigger_history("visitor:1", "{\"a\":3}", Some(v1), Timestamp(5)).await.unwrap(),
        "a write from a stale version loses"
    );
    let (json, v2) = s.trigger_history("visitor:1").await.unwrap().unwrap();
    assert_eq!((json.as_str(), v2), ("{\"a\":2}", v1 + 1));
    assert_eq!(s.trigger_history("visitor:2").await.unwrap(), None);

    let v = w.visitor("tok-counts").await;
    assert_eq!(w.store.page_view_counts(v, "https://x/a").await.unwrap(), (0, 0));
    for (i, url) in ["https://x/a", "https://x/b", "https://x/a"].into_iter().enumerate() {
        let visit =
            w.store.touch_visit(v, 30 * 60_000, Timestamp(10_000 + i as i64 * 3_600_000)).await.unwrap();
        let pv = NewPageView {
            visit_id: visit.id,
            visitor_id: v,
            url: url.into(),
            title: "T".into(),
            referrer: "".into(),
        };
        w.store.record_page_view(pv, Timestamp(10_000 + i as i64 * 3_600_000)).await.unwrap();
    }
    assert_eq!(w.store.page_view_counts(v, "https://x/a").await.unwrap(), (2, 3), "across visits");
    let other = w.visitor("tok-other").await;
    assert_eq!(w.store.page_view_counts(other, "https://x/a").await.unwrap(), (0, 0));
}

async fn a_mixed_batch_keeps_every_append_to_its_own_rules(w: World) {
    // Appends issued together usually share one group commit: each must still get exactly what
    // it would have got alone.
    let a = w.agent("mix@x.test").await;
    let open = w.conversation(w.visitor("tok-mix-1").await).await;
    w.offer(open.id, a).await;
    w.store.accept_conversation(open.id, a, Timestamp(2)).await.unwrap().unwrap();
    let ended = w.conversation(w.visitor("tok-mix-2").await).await;
    w.store.close_conversation(ended.id, ConversationState::Ended, Timestamp(3)).await.unwrap().unwrap();
    let queued = w.conversation(w.visitor("tok-mix-3").await).await;
    let agent_msg =
        |c: ConversationId, t: &str| NewMessage { sender: Sender::agent(a, "Ann"), ..msg(c, t, Some(t)) };
    let appends = vec![
        msg(open.id, "v1", Some("v1")),
        agent_msg(open.id, "a1"), // a second sender in the same conversation
        msg(open.id, "v2", Some("v2")),
        msg(open.id, "v1", Some("v1")), // a retry within the batch
        msg(ended.id, "late", Some("late")),
        agent_msg(queued.id, "not-mine"),
        msg(queued.id, "q1", Some("q1")),
        NewMessage { sender: Sender::system(), ..msg(ended.id, "closed note", None) },
    ];
    let results =
        futures_util::future::join_all(appends.into_iter().map(|m| w.store.append_message(m, Timestamp(9))))
            .await;
    let outcome: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(a) if a.duplicate => format!("dup {}", a.message.seq),
            Ok(a) => format!("seq {}", a.message.seq),
            Err(StoreError::ConversationClosed) => "closed".into(),
            Err(StoreError::NotAssigned) => "not assigned".into(),
            Err(e) => format!("{e}"),
        })
        .collect();
    assert_eq!(outcome, ["seq 1", "seq 2", "seq 3", "dup 1", "closed", "not assigned", "seq 1", "seq 1"]);
    let store = &w.store;
    let texts = |c: ConversationId| async move {
        store.messages_after(c, 0, 10).await.unwrap().into_iter().map(|m| (m.seq, m.text)).collect::<Vec<_>>()
    };
    assert_eq!(texts(open.id).await, [(1, "v1".into()), (2, "a1".into()), (3, "v2".into())]);
    assert_eq!(texts(queued.id).await, [(1, "q1".to_string())]);
    assert_eq!(texts(ended.id).await, [(1, "closed note".to_string())]);
}

async fn admins_edit_agents_and_widgets(w: World) {
    let s = &w.store;
    let a = w.agent("edit@example.com").await;
    let edited = s.update_agent(a, "Ann Lee", Role::Admin, 7).await.unwrap().unwrap();
    assert_eq!((edited.name.as_str(), edited.role, edited.capacity), ("Ann Lee", Role::Admin, 7));
    assert_eq!(s.agent(a).await.unwrap().unwrap(), edited);
    assert_eq!(s.update_agent(AgentId(9_999), "x", Role::Agent, 1).await.unwrap(), None);

    let widgets = s.widgets_of_org(w.org).await.unwrap();
    assert_eq!(widgets.iter().map(|x| x.id).collect::<Vec<_>>(), [w.widget]);
    let settings =
        WidgetSettings { title: "Talk to us".into(), color: "#aa3300".into(), ..WidgetSettings::default() };
    let origins = vec!["https://shop.example".to_string()];
    let updated = s.update_widget(w.widget, "Shop", &origins, None, &settings).await.unwrap().unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.allowed_origins.clone(), updated.default_queue_id),
        ("Shop", origins, None)
    );
    assert_eq!(updated.settings, settings);
    assert_eq!(s.widget(w.widget).await.unwrap().unwrap(), updated);
    assert!(s.update_widget(WidgetId(9_999), "x", &[], None, &settings).await.unwrap().is_none());
}

async fn a_proactive_conversation_knows_its_invite(w: World) {
    let s = &w.store;
    let v = w.visitor("tok-inv").await;
    for outcome in ["offered", "accepted"] {
        let ev = NewInviteEvent {
            widget_id: w.widget,
            queue_id: None,
            visitor_id: v,
            invite_id: "inv-1".into(),
            source: "rule:3".into(),
            outcome: InviteOutcome::parse(outcome).unwrap(),
            reason: None,
            message: "Need help?".into(),
        };
        s.record_invite_event(ev, Timestamp(1_500)).await.unwrap();
    }
    let c = s
        .create_conversation(
            NewConversation {
                org_id: w.org,
                widget_id: w.widget,
                visitor_id: v,
                queue_id: Some(w.queue),
                proactive: true,
                invite_id: Some("inv-1".into()),
                context: Context::default(),
                auth_sub: None,
                auth_iss: None,
                reply_email: None,
                leave_message_at: None,
                language: "en".into(),
                visitor_name: None,
            },
            Timestamp(2_000),
        )
        .await
        .unwrap();
    let invite = s.conversation_invite(c.id).await.unwrap();
    assert_eq!(invite, Some(("inv-1".into(), "rule:3".into(), "Need help?".into())));
    let other = w.conversation(w.visitor("tok-none").await).await;
    assert_eq!(s.conversation_invite(other.id).await.unwrap(), None);
}

async fn invites_are_claimed_once_per_visitor_and_paced_for_the_cluster(w: World) {
    let s = &w.store;
    let (v, other) = (w.visitor("tok-claim").await, w.visitor("tok-claim-2").await);
    assert!(s.claim_invite(v, "inv-a", Timestamp(10_000), Timestamp(1_000)).await.unwrap());
    assert!(s.claim_invite(v, "inv-a", Timestamp(12_000), Timestamp(1_500)).await.unwrap(), "its own again");
    assert!(!s.claim_invite(v, "inv-b", Timestamp(20_000), Timestamp(2_000)).await.unwrap(), "held");
    assert!(
        s.claim_invite(other, "inv-b", Timestamp(20_000), Timestamp(2_000)).await.unwrap(),
        "per visitor"
    );
    s.release_invite(v, Some("inv-b")).await.unwrap();
    assert!(
        !s.claim_invite(v, "inv-b", Timestamp(20_000), Timestamp(2_000)).await.unwrap(),
        "not its to release"
    );
    s.release_invite(v, Some("inv-a")).await.unwrap();
    assert!(s.claim_invite(v, "inv-b", Timestamp(20_000), Timestamp(3_000)).await.unwrap(), "released");
    assert!(!s.claim_invite(v, "inv-c", Timestamp(40_000), Timestamp(19_999)).await.unwrap());
    assert!(s.claim_invite(v, "inv-c", Timestamp(40_000), Timestamp(20_000)).await.unwrap(), "ran out");
    s.release_invite(v, None).await.unwrap();
    assert!(
        s.claim_invite(v, "inv-d", Timestamp(40_000), Timestamp(20_001)).await.unwrap(),
        "whichever held it"
    );

    // Offered rule invites carry their queue: counted per queue since a time, and found by id.
    let offered = |visitor: VisitorId, id: &str, source: &str, queue: Option<QueueId>| NewInviteEvent {
        widget_id: w.widget,
        queue_id: queue,
        visitor_id: visitor,
        invite_id: id.into(),
        source: source.into(),
        outcome: InviteOutcome::Offered,
        reason: None,
        message: "Hi".into(),
    };
    let q = Some(w.queue);
    s.record_invite_event(offered(v, "r1", "rule:1", q), Timestamp(50_000)).await.unwrap();
    s.record_invite_event(offered(other, "r2", "rule:1", q), Timestamp(60_000)).await.unwrap();
    s.record_invite_event(offered(other, "a1", "agent:1", q), Timestamp(60_000)).await.unwrap();
    s.record_invite_event(offered(other, "r3", "rule:2", None), Timestamp(60_000)).await.unwrap();
    assert_eq!(s.rule_invites_since(w.queue, Timestamp(50_000)).await.unwrap(), 2, "rules' only");
    assert_eq!(s.rule_invites_since(w.queue, Timestamp(50_001)).await.unwrap(), 1);
    assert_eq!(s.offered_invite(v, "r1").await.unwrap(), Some((q, "rule:1".to_owned())));
    assert_eq!(s.offered_invite(other, "r3").await.unwrap(), Some((None, "rule:2".to_owned())));
    assert_eq!(s.offered_invite(other, "a1").await.unwrap(), Some((q, "agent:1".to_owned())));
    assert_eq!(s.offered_invite(v, "r2").await.unwrap(), None, "another visitor's");

    s.node_heartbeat("n2", Timestamp(30_000), Timestamp(1_000)).await.unwrap();
    s.node_heartbeat("n1", Timestamp(20_000), Timestamp(1_000)).await.unwrap();
    assert_eq!(s.live_nodes(Timestamp(19_999)).await.unwrap(), ["n1", "n2"]);
    assert_eq!(s.live_nodes(Timestamp(20_000)).await.unwrap(), ["n2"]);
}

async fn waiting_chats_are_listed_and_taken_once_whoever_was_offered_them(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let c1 = w.conversation(w.visitor("tok-w1").await).await;
    let c2 = w.conversation(w.visitor("tok-w2").await).await;
    let ids = |cs: Vec<Conversation>| cs.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(w.store.waiting_in_queue(w.queue, 10).await.unwrap()), [c1.id, c2.id], "oldest first");
    assert_eq!(ids(w.store.waiting_in_queue(w.queue, 1).await.unwrap()), [c1.id], "at most the limit");
    // Offered to b, the chat is still on the list, and a may take it: the offer goes.
    assert!(w.offer(c1.id, b).await);
    assert_eq!(w.store.waiting_in_queue(w.queue, 10).await.unwrap().len(), 2);
    let (ta, tb) = tokio::join!(
        w.store.take_conversation(c1.id, a, Timestamp(5_000)),
        w.store.take_conversation(c1.id, b, Timestamp(5_000)),
    );
    let taken = match (ta.unwrap(), tb.unwrap()) {
        (Some(t), None) | (None, Some(t)) => t,
        other => panic!("exactly one agent takes it: {other:?}"),
    };
    assert_eq!((taken.state, taken.offered_agent_id), (ConversationState::Active, None));
    assert!(
        w.store.take_conversation(c1.id, a, Timestamp(5_001)).await.unwrap().is_none(),
        "no longer waiting"
    );
    assert_eq!(ids(w.store.waiting_in_queue(w.queue, 10).await.unwrap()), [c2.id]);
    assert!(
        w.store.average_wait_ms(w.queue, Timestamp(0)).await.unwrap().is_some(),
        "a take is an acceptance"
    );
    // An ended chat cannot be taken.
    w.store.close_conversation(c2.id, ConversationState::Abandoned, Timestamp(6_000)).await.unwrap().unwrap();
    assert!(w.store.take_conversation(c2.id, a, Timestamp(6_001)).await.unwrap().is_none());
    assert!(w.store.waiting_in_queue(w.queue, 10).await.unwrap().is_empty());
}

async fn left_messages_wait_unoffered_and_their_answers_are_mailed_once(w: World) {
    let a = w.agent("a@x.test").await;
    let ids = |cs: Vec<Conversation>| cs.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let live = w.conversation(w.visitor("tok-m1").await).await;
    // A message left from the offline form: a conversation with a reply address from the start.
    let v = w.visitor("tok-m2").await;
    let mut new = NewConversation { reply_email: Some("lea@example.fr".into()), ..w.new_conversation(v) };
    let left = w.store.create_conversation(new.clone(), Timestamp(3_000)).await.unwrap();
    assert_eq!(left.reply_email.as_deref(), Some("lea@example.fr"));
    new.reply_email = None;
    assert!(
        matches!(w.store.create_conversation(new, Timestamp(3_000)).await, Err(StoreError::Conflict(_))),
        "a left message is the visitor's open conversation"
    );
    w.store.append_message(msg(left.id, "Do you ship to Lyon?", Some("q1")), Timestamp(3_001)).await.unwrap();
    // Agents see it on the waiting list; routing never offers it, nor counts it in the line.
    assert_eq!(ids(w.store.waiting_in_queue(w.queue, 10).await.unwrap()), [live.id, left.id]);
    assert_eq!(ids(w.store.unoffered_waiting(w.queue).await.unwrap()), [live.id]);
    assert_eq!(w.store.queue_position(left.id).await.unwrap(), None);
    // The visitor's words are not answers, but the sweep must look at them once (due now).
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), None, "no mail sweep: no deadline");
    assert_eq!(w.store.next_deadline(15_000, true).await.unwrap(), Some(Timestamp(0)));
    let due = w.store.claim_mail(Timestamp(4_000), Timestamp(64_000), 10).await.unwrap();
    assert_eq!(due.iter().map(|d| (d.conversation.id, d.mailed_seq)).collect::<Vec<_>>(), [(left.id, 0)]);
    assert!(w.store.claim_mail(Timestamp(4_000), Timestamp(64_000), 10).await.unwrap().is_empty(), "leased");
    assert_eq!(
        w.store.next_deadline(15_000, true).await.unwrap(),
        Some(Timestamp(64_000)),
        "the lease's end"
    );
    w.store.mail_done(left.id, 1).await.unwrap();
    assert_eq!(w.store.next_deadline(15_000, true).await.unwrap(), None, "nothing left to mail");
    // An agent takes it and answers: due again; two sweepers, one claim.
    let taken = w.store.take_conversation(left.id, a, Timestamp(5_000)).await.unwrap().unwrap();
    assert_eq!(taken.reply_email.as_deref(), Some("lea@example.fr"));
    let answer =
        NewMessage { sender: Sender::agent(a, "Ann"), ..msg(left.id, "Yes, in 2 days.", Some("a1")) };
    w.store.append_message(answer, Timestamp(5_001)).await.unwrap();
    let (x, y) = tokio::join!(
        w.store.claim_mail(Timestamp(6_000), Timestamp(66_000), 10),
        w.store.claim_mail(Timestamp(6_000), Timestamp(66_000), 10),
    );
    let mut due = x.unwrap();
    due.extend(y.unwrap());
    assert_eq!(due.iter().map(|d| (d.conversation.id, d.mailed_seq)).collect::<Vec<_>>(), [(left.id, 1)]);
    // The sending node died: after the lease another may claim it; done is never undone.
    assert!(w.store.claim_mail(Timestamp(65_999), Timestamp(99_000), 10).await.unwrap().is_empty());
    assert_eq!(w.store.claim_mail(Timestamp(66_000), Timestamp(126_000), 10).await.unwrap().len(), 1);
    w.store.mail_done(left.id, 2).await.unwrap();
    w.store.mail_done(left.id, 1).await.unwrap();
    assert_eq!(w.store.next_deadline(15_000, true).await.unwrap(), None);

    // A waiting live chat becomes a left message (its words so far count as mailed) — not once
    // an agent has it.
    w.store.append_message(msg(live.id, "Hello?", Some("h1")), Timestamp(7_000)).await.unwrap();
    let turned = w.store.set_reply_email(live.id, "max@example.de").await.unwrap().unwrap();
    assert_eq!(turned.reply_email.as_deref(), Some("max@example.de"));
    assert!(w.store.unoffered_waiting(w.queue).await.unwrap().is_empty());
    assert_eq!(w.store.next_deadline(15_000, true).await.unwrap(), None, "its words are not answers");
    let other = w.conversation(w.visitor("tok-m3").await).await;
    w.store.take_conversation(other.id, a, Timestamp(8_000)).await.unwrap().unwrap();
    assert!(w.store.set_reply_email(other.id, "x@example.com").await.unwrap().is_none(), "an agent has it");
}

async fn leave_message_offers_are_stored_deadlines_taken_once(w: World) {
    w.store.set_queue_leave_message_after(w.queue, Some(120)).await.unwrap();
    assert_eq!(w.store.queue(w.queue).await.unwrap().unwrap().leave_message_after_secs, Some(120));
    let v = w.visitor("tok-lm").await;
    let c = w
        .store
        .create_conversation(
            NewConversation { leave_message_at: Some(Timestamp(122_000)), ..w.new_conversation(v) },
            Timestamp(2_000),
        )
        .await
        .unwrap();
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), Some(Timestamp(122_000)));
    assert!(w.store.take_due_leave_message_offers(Timestamp(121_999)).await.unwrap().is_empty());
    let (x, y) = tokio::join!(
        w.store.take_due_leave_message_offers(Timestamp(122_000)),
        w.store.take_due_leave_message_offers(Timestamp(122_000)),
    );
    let mut due = x.unwrap();
    due.extend(y.unwrap());
    assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), [c.id], "taken once");
    assert_eq!(w.store.next_deadline(15_000, false).await.unwrap(), None);
    w.store.set_queue_leave_message_after(w.queue, None).await.unwrap();
    assert_eq!(w.store.queue(w.queue).await.unwrap().unwrap().leave_message_after_secs, None);
    assert!(matches!(
        w.store.set_queue_leave_message_after(QueueId(999_999), Some(60)).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn canned_replies_are_shared_or_personal_with_one_shortcut_per_owner(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let s = &w.store;
    let now = Timestamp(5_000);
    let shared = s.create_canned_reply(w.org, None, "hello", "Hello! How can I help?", now).await.unwrap();
    let mine = s.create_canned_reply(w.org, Some(a), "hello", "Hi, Ann here.", now).await.unwrap();
    s.create_canned_reply(w.org, Some(b), "bye", "Bye!", now).await.unwrap();
    assert!(matches!(
        s.create_canned_reply(w.org, None, "hello", "again", now).await,
        Err(StoreError::Conflict(_))
    ));
    let list = |cs: Vec<CannedReply>| cs.into_iter().map(|c| (c.shortcut, c.agent_id)).collect::<Vec<_>>();
    assert_eq!(
        list(s.canned_replies(w.org, a).await.unwrap()),
        [("hello".to_owned(), None), ("hello".to_owned(), Some(a))],
        "the shared ones and one's own, never a colleague's"
    );
    assert_eq!(s.count_canned_replies(w.org, None).await.unwrap(), 1);
    assert_eq!(s.count_canned_replies(w.org, Some(b)).await.unwrap(), 1);
    let edited = s.update_canned_reply(mine.id, "hi", "Hi, Ann here!").await.unwrap().unwrap();
    assert_eq!(
        (edited.shortcut.as_str(), edited.text.as_str(), edited.agent_id),
        ("hi", "Hi, Ann here!", Some(a))
    );
    assert!(
        matches!(s.update_canned_reply(mine.id, "hello", "x").await, Ok(Some(_))),
        "another owner's shortcut is free"
    );
    assert!(s.update_canned_reply(999_999, "x", "y").await.unwrap().is_none());
    assert_eq!(s.canned_reply(shared.id).await.unwrap().unwrap().text, "Hello! How can I help?");
    assert!(s.delete_canned_reply(shared.id).await.unwrap());
    assert!(!s.delete_canned_reply(shared.id).await.unwrap());
    assert!(s.canned_reply(shared.id).await.unwrap().is_none());
}

async fn a_visitor_rates_their_own_answered_ended_chat(w: World) {
    let a = w.agent("a@x.test").await;
    let s = &w.store;
    let v = w.visitor("tok-rate").await;
    let c = w.conversation(v).await;
    assert!(s.rate_conversation(c.id, v, 5, None, Timestamp(3_000)).await.unwrap().is_none(), "still open");
    s.take_conversation(c.id, a, Timestamp(3_000)).await.unwrap().unwrap();
    s.close_conversation(c.id, ConversationState::Ended, Timestamp(4_000)).await.unwrap().unwrap();
    let other = w.visitor("tok-rate-2").await;
    assert!(
        s.rate_conversation(c.id, other, 1, None, Timestamp(5_000)).await.unwrap().is_none(),
        "not theirs"
    );
    let rated =
        s.rate_conversation(c.id, v, 4, Some("Quick, thanks"), Timestamp(5_000)).await.unwrap().unwrap();
    assert_eq!((rated.rating, rated.rating_comment.as_deref()), (Some(4), Some("Quick, thanks")));
    // Changing one's mind replaces it.
    s.rate_conversation(c.id, v, 5, None, Timestamp(6_000)).await.unwrap().unwrap();
    // Never answered (abandoned): nothing to rate.
    let v2 = w.visitor("tok-rate-3").await;
    let c2 = w.conversation(v2).await;
    s.close_conversation(c2.id, ConversationState::Abandoned, Timestamp(4_000)).await.unwrap().unwrap();
    assert!(s.rate_conversation(c2.id, v2, 3, None, Timestamp(5_000)).await.unwrap().is_none());
    let all = s.ratings(w.org, Timestamp(0), 10).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].conversation_id, all[0].agent_id, all[0].score, all[0].comment.clone()),
        (c.id, Some(a), 5, None)
    );
    assert_eq!(all[0].agent_name.as_deref(), Some("Ann"));
    assert!(s.ratings(w.org, Timestamp(6_001), 10).await.unwrap().is_empty(), "since");
}

async fn history_finds_a_conversation_by_part_of_the_visitors_name_in_any_case(w: World) {
    let v = w.visitor("tok-named").await;
    let named = w
        .store
        .create_conversation(
            NewConversation {
                language: "fr".into(),
                visitor_name: Some("Léa Martin".into()),
                ..w.new_conversation(v)
            },
            Timestamp(2_000),
        )
        .await
        .unwrap();
    w.conversation(w.visitor("tok-other").await).await;
    let find = |who: &str| ConversationSearch {
        org_id: Some(w.org),
        text: None,
        visitor_id: None,
        auth_sub: Some(who.to_owned()),
        agent_id: None,
        state: None,
        created_from: None,
        created_to: None,
        before_id: None,
        limit: 10,
    };
    for who in ["martin", "LÉA", "léa mar"] {
        let found = w.store.search_conversations(&find(who)).await.unwrap();
        assert_eq!(found.iter().map(|s| s.conversation.id).collect::<Vec<_>>(), [named.id], "{who}");
    }
    assert!(w.store.search_conversations(&find("dupont")).await.unwrap().is_empty());
    assert_eq!(named.language, "fr");
}

async fn queued_mail_is_claimed_once_and_done_is_final(w: World) {
    let s = &w.store;
    let c = w.conversation(w.visitor("tok-mail").await).await;
    let id = s.queue_mail(w.org, Some(c.id), "a@example.com", "Hi", "Body", Timestamp(10_000)).await.unwrap();
    assert_eq!(s.mail_count_of_conversation(c.id).await.unwrap(), 1);
    assert_eq!(s.next_deadline(15_000, false).await.unwrap(), None, "no mail sweep: no deadline");
    assert_eq!(s.next_deadline(15_000, true).await.unwrap(), Some(Timestamp(10_000)));
    let (x, y) = tokio::join!(
        s.claim_outgoing_mail(Timestamp(10_000), Timestamp(70_000), 10),
        s.claim_outgoing_mail(Timestamp(10_000), Timestamp(70_000), 10),
    );
    let mut got = x.unwrap();
    got.extend(y.unwrap());
    assert_eq!(
        got,
        [OutgoingMail { id, to: "a@example.com".into(), subject: "Hi".into(), body: "Body".into() }]
    );
    assert_eq!(s.next_deadline(15_000, true).await.unwrap(), Some(Timestamp(70_000)), "the lease");
    assert_eq!(
        s.claim_outgoing_mail(Timestamp(70_000), Timestamp(130_000), 10).await.unwrap().len(),
        1,
        "after the lease"
    );
    s.outgoing_mail_done(id, Timestamp(71_000), None).await.unwrap();
    assert!(s.claim_outgoing_mail(Timestamp(999_000), Timestamp(999_999), 10).await.unwrap().is_empty());
    assert_eq!(s.next_deadline(15_000, true).await.unwrap(), None);
    assert_eq!(s.mail_count_of_conversation(c.id).await.unwrap(), 1, "sent mail still counts");
}

async fn a_queue_names_its_fallback(w: World) {
    let now = Timestamp(1_000);
    let spare = w.store.create_queue(w.org, "Spare", now).await.unwrap();
    assert_eq!(w.store.queue(w.queue).await.unwrap().unwrap().fallback_queue_id, None);
    w.store.set_queue_fallback(w.queue, Some(spare.id)).await.unwrap();
    assert_eq!(w.store.queue(w.queue).await.unwrap().unwrap().fallback_queue_id, Some(spare.id));
    let listed = w.store.queues_of_org(w.org).await.unwrap();
    assert_eq!(listed.iter().find(|q| q.id == w.queue).unwrap().fallback_queue_id, Some(spare.id));
    w.store.set_queue_fallback(w.queue, None).await.unwrap();
    assert_eq!(w.store.queue(w.queue).await.unwrap().unwrap().fallback_queue_id, None);
    assert!(matches!(w.store.set_queue_fallback(QueueId(999_999), None).await, Err(StoreError::NotFound(_))));
}

async fn attachments_are_kept_with_their_conversation_and_carried_by_messages(w: World) {
    use beckon_domain::attachment::Attachment;
    let v = w.visitor("tok-files").await;
    let c = w.conversation(v).await;
    let png = Attachment {
        id: "0123456789abcdef0123456789abcdef".into(),
        name: "photo.png".into(),
        content_type: "image/png".into(),
        size: 6,
    };
    assert!(w.store.attachment(&png.id).await.unwrap().is_none());
    assert!(w.store.attachment_bytes(&png.id).await.unwrap().is_none());
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let png = Attachment { size: bytes.len() as u64, ..png };
    w.store.add_attachment(c.id, SenderKind::Visitor, &png, &bytes, Timestamp(5)).await.unwrap();
    assert_eq!(w.store.attachment(&png.id).await.unwrap(), Some((c.id, png.clone())));
    assert_eq!(w.store.attachment_bytes(&png.id).await.unwrap(), Some(bytes));
    assert_eq!(w.store.attachment_count(c.id, SenderKind::Visitor).await.unwrap(), 1);
    assert_eq!(w.store.attachment_count(c.id, SenderKind::Agent).await.unwrap(), 0);

    // The message that carries it, through the batched path and when read back.
    let m = NewMessage { attachment: Some(png.clone()), ..msg(c.id, "photo.png", Some("f1")) };
    let stored = w.store.append_message(m.clone(), Timestamp(6)).await.unwrap();
    assert_eq!(stored.message.attachment.as_ref(), Some(&png));
    let again = w.store.append_message(m, Timestamp(7)).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.message.attachment.as_ref(), Some(&png));
    let plain = w.store.append_message(msg(c.id, "thanks", Some("f2")), Timestamp(8)).await.unwrap();
    assert_eq!(plain.message.attachment, None);
    let read = w.store.messages_after(c.id, 0, 10).await.unwrap();
    assert_eq!(read.iter().map(|m| m.attachment.clone()).collect::<Vec<_>>(), vec![Some(png), None]);
}

macro_rules! backend_tests {
    ($backend:ident, $make:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::$make().await).await;
                }
            )*
        }
    };
}

backend_tests!(sqlite, sqlite_world:
    sequence_numbers_are_dense_and_appends_idempotent,
    only_open_conversations_and_their_own_agent_take_messages,
    concurrent_appends_get_distinct_dense_seqs,
    one_open_conversation_per_visitor,
    an_offer_is_accepted_by_exactly_one_agent,
    a_transfer_hands_an_active_conversation_on,
    offers_never_exceed_capacity_however_many_ask_at_once,
    offer_deadlines_and_declines_are_stored_and_taken_once,
    presence_is_consoles_on_live_nodes_with_a_grace_period,
    visits_start_after_inactivity,
    sessions_expire_and_credentials_match_case_insensitively,
    invite_events_are_idempotent,
    failed_sign_ins_are_counted_per_email_blocked_and_forgotten,
    a_disabled_agent_has_no_sessions_and_no_queue_and_a_new_password_ends_sessions,
    a_new_visitor_is_stored_with_its_first_visit_and_page_at_once,
    identities_follow_people_across_visitors,
    past_conversations_are_found_by_text_person_agent_and_date,
    the_invite_funnel_counts_outcomes_and_resulting_chats,
    routing_rules_and_agent_queues_are_replaced_whole,
    trigger_rules_history_and_page_counts,
    a_mixed_batch_keeps_every_append_to_its_own_rules,
    admins_edit_agents_and_widgets,
    a_proactive_conversation_knows_its_invite,
    invites_are_claimed_once_per_visitor_and_paced_for_the_cluster,
    waiting_chats_are_listed_and_taken_once_whoever_was_offered_them,
    a_queue_names_its_fallback,
    left_messages_wait_unoffered_and_their_answers_are_mailed_once,
    leave_message_offers_are_stored_deadlines_taken_once,
    canned_replies_are_shared_or_personal_with_one_shortcut_per_owner,
    a_visitor_rates_their_own_answered_ended_chat,
    history_finds_a_conversation_by_part_of_the_visitors_name_in_any_case,
    queued_mail_is_claimed_once_and_done_is_final,
    attachments_are_kept_with_their_conversation_and_carried_by_messages,
);

backend_tests!(postgres, postgres_world:
    sequence_numbers_are_dense_and_appends_idempotent,
    only_open_conversations_and_their_own_agent_take_messages,
    concurrent_appends_get_distinct_dense_seqs,
    one_open_conversation_per_visitor,
    an_offer_is_accepted_by_exactly_one_agent,
    a_transfer_hands_an_active_conversation_on,
    offers_never_exceed_capacity_however_many_ask_at_once,
    offer_deadlines_and_declines_are_stored_and_taken_once,
    presence_is_consoles_on_live_nodes_with_a_grace_period,
    visits_start_after_inactivity,
    sessions_expire_and_credentials_match_case_insensitively,
    invite_events_are_idempotent,
    failed_sign_ins_are_counted_per_email_blocked_and_forgotten,
    a_disabled_agent_has_no_sessions_and_no_queue_and_a_new_password_ends_sessions,
    a_new_visitor_is_stored_with_its_first_visit_and_page_at_once,
    identities_follow_people_across_visitors,
    past_conversations_are_found_by_text_person_agent_and_date,
    the_invite_funnel_counts_outcomes_and_resulting_chats,
    routing_rules_and_agent_queues_are_replaced_whole,
    trigger_rules_history_and_page_counts,
    a_mixed_batch_keeps_every_append_to_its_own_rules,
    admins_edit_agents_and_widgets,
    a_proactive_conversation_knows_its_invite,
    invites_are_claimed_once_per_visitor_and_paced_for_the_cluster,
    waiting_chats_are_listed_and_taken_once_whoever_was_offered_them,
    a_queue_names_its_fallback,
    left_messages_wait_unoffered_and_their_answers_are_mailed_once,
    leave_message_offers_are_stored_deadlines_taken_once,
    canned_replies_are_shared_or_personal_with_one_shortcut_per_owner,
    a_visitor_rates_their_own_answered_ended_chat,
    history_finds_a_conversation_by_part_of_the_visitors_name_in_any_case,
    queued_mail_is_claimed_once_and_done_is_final,
    attachments_are_kept_with_their_conversation_and_carried_by_messages,
);

#[tokio::test]
async fn sqlite_data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let c = {
        let w = world(connect(&url).await.unwrap(), tempfile::tempdir().unwrap()).await;
        let v = w.visitor("tok-z").await;
        let c = w.conversation(v).await;
        w.store.append_message(msg(c.id, "kept", Some("k1")), Timestamp(9)).await.unwrap();
        c.id
    };
    let store = connect(&url).await.unwrap();
    let msgs = store.messages_after(c, 0, 10).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].text, "kept");
}

/// Several nodes share one PostgreSQL database: what SQLite gets from its single writer must hold
/// across stores. Each `(conversation, client id)` is sent to both nodes at once.
#[tokio::test]
async fn postgres_nodes_sharing_a_database_append_without_gaps_or_repeats() {
    let db = pg::TestDatabase::create().await;
    let other_node = connect(&db.url).await.unwrap();
    let w = world(connect(&db.url).await.unwrap(), db).await;
    let mut conversations = Vec::new();
    for i in 0..4 {
        conversations.push(w.conversation(w.visitor(&format!("tok-nodes-{i}")).await).await.id);
    }
    let mut tasks = Vec::new();
    for node in [&w.store, &other_node] {
        for i in 0..200 {
            let (store, c) = (node.clone(), conversations[i % 4]);
            tasks.push(tokio::spawn(async move {
                let m = msg(c, "hi", Some(&format!("m{i}")));
                store.append_message(m, Timestamp(5_000)).await.unwrap()
            }));
        }
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let (first, second) = results.split_at(200);
    assert_eq!(results.iter().filter(|a| !a.duplicate).count(), 200, "each id written once");
    for (a, b) in first.iter().zip(second) {
        assert_eq!(a.message, b.message, "both nodes answer with the one stored message");
    }
    for c in conversations {
        let seqs: Vec<i64> =
            w.store.messages_after(c, 0, 1_000).await.unwrap().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
        assert_eq!(other_node.conversation(c).await.unwrap().unwrap().last_seq, 50);
    }
}

#[tokio::test]
async fn postgres_nodes_sharing_a_database_never_overfill_an_agent_or_expire_an_offer_twice() {
    let db = pg::TestDatabase::create().await;
    let other_node = connect(&db.url).await.unwrap();
    let w = world(connect(&db.url).await.unwrap(), db).await;
    let a = w.agent("nodes@x.test").await;
    let mut waiting = Vec::new();
    for i in 0..12 {
        waiting.push(w.conversation(w.visitor(&format!("tok-cap-{i}")).await).await.id);
    }
    let offers = waiting.iter().enumerate().map(|(i, c)| {
        let store = if i % 2 == 0 { w.store.clone() } else { other_node.clone() };
        let c = *c;
        async move { store.offer_conversation(c, a, 3, Timestamp(60_000), Timestamp(5_000)).await.unwrap() }
    });
    let won = futures_util::future::join_all(offers).await.into_iter().filter(|ok| *ok).count();
    assert_eq!(won, 3, "capacity 3, twelve offers from two nodes");
    let (x, y) =
        tokio::join!(w.store.expire_offers(Timestamp(60_000)), other_node.expire_offers(Timestamp(60_000)));
    let mut expired: Vec<_> = x.unwrap().into_iter().chain(y.unwrap()).map(|(c, _)| c.id).collect();
    expired.sort();
    expired.dedup();
    assert_eq!(expired.len(), 3, "each offer expires once, on one node");
    assert!(w.store.agent_loads(&[a]).await.unwrap().is_empty());
}

#[tokio::test]
async fn postgres_data_survives_reconnecting() {
    let db = pg::TestDatabase::create().await;
    let c = {
        let w = world(connect(&db.url).await.unwrap(), ()).await;
        let c = w.conversation(w.visitor("tok-z").await).await;
        w.store.append_message(msg(c.id, "kept", Some("k1")), Timestamp(9)).await.unwrap();
        c.id
    };
    let store = connect(&db.url).await.unwrap();
    let msgs = store.messages_after(c, 0, 10).await.unwrap();
    assert_eq!(msgs.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["kept"]);
}

/// Test databases on a PostgreSQL server: `BECKON_TEST_POSTGRES_URL`, by default
/// `postgres://postgres@127.0.0.1:5432/postgres` (a user that may create databases). A server that
/// cannot be reached fails the test: the suite never passes by skipping a backend.
mod pg {
    use sqlx::{Connection, PgConnection};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const PREFIX: &str = "beckon_test_";
    /// Test databases older than this are left over from runs that were killed: dropped.
    const STALE: Duration = Duration::from_secs(3 * 3600);

    fn admin_url() -> String {
        std::env::var("BECKON_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    /// `url` naming database `name` instead (query parameters kept).
    fn with_database(url: &str, name: &str) -> String {
        let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |i| i + 3);
        let base = match base[authority..].find('/') {
            Some(slash) => &base[..authority + slash],
            None => base,
        };
        match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        }
    }

    async fn admin() -> PgConnection {
        let url = admin_url();
        match PgConnection::connect(&url).await {
            Ok(c) => c,
            Err(e) => panic!(
                "PostgreSQL is not reachable at {url} ({e}). The conformance suite runs every test \
                 against PostgreSQL as well as SQLite: start a server that lets this user create \
                 databases, or point BECKON_TEST_POSTGRES_URL at one."
            ),
        }
    }

    fn unix_secs() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    /// Drops test databases whose name says they were created more than `STALE` ago.
    async fn drop_stale(conn: &mut PgConnection) {
        let names: Vec<String> =
            sqlx::query_scalar("select datname from pg_database where datname like 'beckon\\_test\\_%'")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        for name in names {
            let created = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
            if created.is_some_and(|t| t + STALE.as_secs() < unix_secs()) {
                let _ = sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
                    .execute(&mut *conn)
                    .await;
            }
        }
    }

    /// A database created for one test, dropped (with whatever is still connected) on drop.
    pub struct TestDatabase {
        pub url: String,
        name: String,
    }

    impl TestDatabase {
        pub async fn create() -> Self {
            static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let mut conn = admin().await;
            CLEANED.get_or_init(|| drop_stale(&mut conn)).await;
            let name = format!(
                "{PREFIX}{}_{}_{}",
                unix_secs(),
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            sqlx::query(&format!("create database \"{name}\"")).execute(&mut conn).await.unwrap();
            let _ = conn.close().await;
            Self { url: with_database(&admin_url(), &name), name }
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
            // with a runtime of its own drops the database, and the test waits for it.
            let name = self.name.clone();
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let mut conn = admin().await;
                    sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
                        .execute(&mut conn)
                        .await
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(_))) && !std::thread::panicking() {
                panic!("could not drop test database {}: {dropped:?}", self.name);
            }
        }
    }

    #[test]
    fn a_test_url_names_the_test_database() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(with_database("postgres://u@h:5432", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }
}
