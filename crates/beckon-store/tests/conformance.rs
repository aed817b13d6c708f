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
    _dir: tempfile::TempDir,
}

async fn sqlite_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = connect(&url).await.unwrap();
    world(store, dir).await
}

async fn world(store: Arc<dyn Store>, dir: tempfile::TempDir) -> World {
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
    World { store, org: org.id, widget: widget.id, queue: queue.id, _dir: dir }
}

impl World {
    async fn visitor(&self, token: &str) -> VisitorId {
        self.store.create_visitor(self.widget, token, Timestamp(1_000)).await.unwrap().id
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
                },
                Timestamp(2_000),
            )
            .await
            .unwrap()
    }
}
use beckon_domain::model::Conversation;

fn msg(c: ConversationId, text: &str, client: Option<&str>) -> NewMessage {
    NewMessage {
        conversation_id: c,
        sender: Sender::visitor(),
        text: MessageText::parse(text).unwrap(),
        tags: vec![],
        client_msg_id: client.map(|s| ClientMsgId::parse(s).unwrap()),
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
    w.store.offer_conversation(c.id, a).await.unwrap();
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
    assert!(w.store.offer_conversation(c.id, a).await.unwrap());
    assert!(!w.store.offer_conversation(c.id, b).await.unwrap(), "already offered");
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
    assert!(w.store.offer_conversation(c2.id, b).await.unwrap());
    assert!(!w.store.withdraw_offer(c2.id, a).await.unwrap());
    assert!(w.store.withdraw_offer(c2.id, b).await.unwrap());
    assert!(w.store.offer_conversation(c2.id, a).await.unwrap());
    assert_eq!(w.store.agent_loads(&[a, b]).await.unwrap().get(&a), Some(&2));
}

async fn a_transfer_hands_an_active_conversation_on(w: World) {
    let (a, b) = (w.agent("a@x.test").await, w.agent("b@x.test").await);
    let v = w.visitor("tok-t").await;
    let c = w.conversation(v).await;
    w.store.offer_conversation(c.id, a).await.unwrap();
    w.store.accept_conversation(c.id, a, Timestamp(3)).await.unwrap().unwrap();
    assert!(w.store.transfer_conversation(c.id, b, None, Some(a)).await.unwrap().is_none(), "only its agent");
    let t = w.store.transfer_conversation(c.id, a, None, Some(b)).await.unwrap().unwrap();
    assert_eq!((t.state, t.agent_id, t.offered_agent_id), (ConversationState::Transferred, None, Some(b)));
    assert_eq!(t.accepted_at, Some(Timestamp(3)), "first acceptance is kept for wait-time statistics");
    assert!(
        w.store.transfer_conversation(c.id, a, None, None).await.unwrap().is_none(),
        "not active any more"
    );
    let taken = w.store.accept_conversation(c.id, b, Timestamp(4)).await.unwrap().unwrap();
    assert_eq!((taken.state, taken.agent_id), (ConversationState::Active, Some(b)));
    let everyone = w.store.agents_of_org(w.org).await.unwrap();
    assert_eq!(everyone.len(), 2);
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

async fn invite_events_are_idempotent(w: World) {
    let v = w.visitor("tok-g").await;
    let ev = |outcome: &str| NewInviteEvent {
        widget_id: w.widget,
        visitor_id: v,
        invite_id: "inv-1".into(),
        source: "sdk".into(),
        outcome: outcome.into(),
        reason: None,
        message: "Hi!".into(),
    };
    assert!(w.store.record_invite_event(ev("shown"), Timestamp(1)).await.unwrap());
    assert!(!w.store.record_invite_event(ev("shown"), Timestamp(2)).await.unwrap());
    assert!(w.store.record_invite_event(ev("accepted"), Timestamp(3)).await.unwrap());
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
    w.store.set_visitor_auth_sub(laptop, "user-42").await.unwrap();
    let c1 = w.conversation(laptop).await;
    let ctx = Context::parse(&serde_json::json!({"Tier": {"value": "gold", "isDisplayable": true}})).unwrap();
    let authed = w.store.authenticate_conversation(c1.id, "user-42", &ctx).await.unwrap().unwrap();
    assert_eq!((authed.auth_sub.as_deref(), authed.context.clone()), (Some("user-42"), ctx.clone()));
    w.store.close_conversation(c1.id, ConversationState::Abandoned, Timestamp(3)).await.unwrap();
    assert!(w.store.authenticate_conversation(c1.id, "user-42", &ctx).await.unwrap().is_none(), "closed");
    let c2 = w.conversation(phone).await;
    w.store.authenticate_conversation(c2.id, "user-42", &ctx).await.unwrap().unwrap();
    let theirs = w.store.conversations_of_identity(w.org, "user-42", 10).await.unwrap();
    assert_eq!(theirs.iter().map(|c| c.id).collect::<Vec<_>>(), [c2.id, c1.id]);
    assert!(w.store.conversations_of_identity(w.org, "someone-else", 10).await.unwrap().is_empty());
}

async fn past_conversations_are_found_by_text_person_agent_and_date(w: World) {
    let a = w.agent("a@x.test").await;
    let (v1, v2) = (w.visitor("tok-s1").await, w.visitor("tok-s2").await);
    let c1 = w.conversation(v1).await;
    w.store
        .append_message(msg(c1.id, "My order 1234 never arrived", Some("x1")), Timestamp(10))
        .await
        .unwrap();
    w.store.offer_conversation(c1.id, a).await.unwrap();
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
                visitor_id: visitor,
                invite_id: id.into(),
                source: source.into(),
                outcome: outcome.into(),
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
            },
            day1,
        )
        .await
        .unwrap();
    w.store.offer_conversation(c.id, a).await.unwrap();
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

    assert_eq!(w.store.trigger_history("visitor:1").await.unwrap(), None);
    w.store.set_trigger_history("visitor:1", "{\"a\":1}", Timestamp(3)).await.unwrap();
    w.store.set_trigger_history("visitor:1", "{\"a\":2}", Timestamp(4)).await.unwrap();
    assert_eq!(w.store.trigger_history("visitor:1").await.unwrap().as_deref(), Some("{\"a\":2}"));
    assert_eq!(w.store.trigger_history("visitor:2").await.unwrap(), None);

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
    w.store.offer_conversation(open.id, a).await.unwrap();
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
            visitor_id: v,
            invite_id: "inv-1".into(),
            source: "rule:3".into(),
            outcome: outcome.into(),
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
    visits_start_after_inactivity,
    sessions_expire_and_credentials_match_case_insensitively,
    invite_events_are_idempotent,
    identities_follow_people_across_visitors,
    past_conversations_are_found_by_text_person_agent_and_date,
    the_invite_funnel_counts_outcomes_and_resulting_chats,
    routing_rules_and_agent_queues_are_replaced_whole,
    trigger_rules_history_and_page_counts,
    a_mixed_batch_keeps_every_append_to_its_own_rules,
    admins_edit_agents_and_widgets,
    a_proactive_conversation_knows_its_invite,
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
