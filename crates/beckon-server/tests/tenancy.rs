//! No agent sees a conversation that is not theirs — above all, no agent of another organisation.
//!
//! Conversation ids are sequential, so the defence cannot be that ids are hard to guess: every
//! frame and endpoint that names a conversation answers a foreign one exactly like a missing one,
//! and every event is checked against the agent's rights where it is delivered to the socket, so
//! a subscription that outlives a right (an `accept` the store refused) delivers nothing.

use beckon_domain::events::{Envelope, Event, Topic};
use beckon_domain::message::{Message, Sender};
use beckon_domain::model::Role;
use beckon_domain::{ConversationId, SenderKind, Timestamp};
use beckon_server::ws::agent::AgentSession;
use beckon_server::ws::session::{Handler, Replies};
use beckon_testkit::*;
use serde_json::{Value, json};

/// A chat in the demo organisation between a visitor and the demo agent; returns its id.
async fn demo_chat(app: &TestApp) -> (WsClient, WsClient, i64) {
    let mut agent = app.available_agent().await;
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    agent.expect("offer").await.unwrap();
    agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    (visitor, agent, cid)
}

fn mentions(frame: &Value, cid: i64) -> bool {
    frame["conversation_id"] == cid
        || frame["message"]["conversation_id"] == cid
        || frame["conversation"]["id"] == cid
}

#[tokio::test]
async fn events_of_a_foreign_conversation_are_dropped_where_they_are_delivered() {
    let app = spawn_app().await;
    let (_visitor, _agent, cid) = demo_chat(&app).await;
    let other = app.other_org("Rival Shop", Role::Admin).await;
    let state = app.app.as_ref().unwrap().state().clone();
    let reg = state.hub.register(16);
    let mut session = AgentSession::new(state.clone(), reg.id, other.agent.clone(), String::new());
    // Even subscribed to the topic (as the old `accept` did before the store refused), the
    // session forwards nothing of a conversation that is not its agent's.
    state.hub.subscribe(reg.id, Topic::Conversation(ConversationId(cid))).await;
    let message = Message {
        conversation_id: ConversationId(cid),
        seq: 7,
        sender: Sender::visitor(),
        text: "my card number is 4242 4242 4242 4242".into(),
        tags: vec![],
        client_msg_id: Some("v7".into()),
        attachment: None,
        created_at: Timestamp(1),
    };
    let events = [
        Event::Message { message },
        Event::Typing { conversation_id: ConversationId(cid), from: SenderKind::Visitor, typing: true },
    ];
    for event in events {
        let mut out = Replies::default();
        session
            .on_event(&Envelope::new(vec![Topic::Conversation(ConversationId(cid))], event), &mut out)
            .await;
        assert!(out.frames.is_empty(), "leaked to another organisation: {:?}", out.frames);
    }
    // A colleague's presence is news to the organisation, not to another one.
    let demo_agent = state.store.agent_credentials(DEMO_AGENT_EMAIL).await.unwrap().unwrap().0;
    let mut out = Replies::default();
    let presence = Event::Presence {
        org_id: demo_agent.org_id,
        agent_id: demo_agent.id,
        presence: beckon_domain::Presence::Available,
    };
    session.on_event(&Envelope::new(vec![Topic::Org(demo_agent.org_id)], presence), &mut out).await;
    assert!(out.frames.is_empty(), "another organisation's presence leaked: {:?}", out.frames);
}

#[tokio::test]
async fn accepting_ids_in_a_loop_samples_nothing_of_other_organisations_chats() {
    // Rate limits are not what is tested here: the visitor talks as fast as it can.
    let app = spawn_app_with(without_flood_limits).await;
    let (mut visitor, mut demo_agent, cid) = demo_chat(&app).await;
    let other = app.other_org("Rival Shop", Role::Admin).await;
    let (mut spy, _) = app.agent_with_cookie(&other.cookie).await;
    spy.request(json!({"type": "presence", "status": "available"})).await.unwrap();
    // The attack that sampled 5–11 % of live messages: `accept` with sequential ids, over and
    // over, while the other organisation's visitor and agent talk.
    let talk = tokio::spawn(async move {
        for round in 0..300 {
            let text = format!("secret {round}");
            visitor
                .request(json!({"type": "send", "client_msg_id": format!("v{round}"), "text": text}))
                .await
                .unwrap();
            visitor.send(json!({"type": "typing", "typing": round % 2 == 0})).await.unwrap();
        }
        visitor
    });
    while !talk.is_finished() {
        for id in cid.saturating_sub(2).max(1)..=cid + 2 {
            let reply = spy.request(json!({"type": "accept", "conversation_id": id})).await.unwrap();
            assert_eq!(reply["type"], "error", "accepted a foreign conversation: {reply}");
        }
    }
    let _visitor = talk.await.unwrap();
    demo_agent.expect_message("secret 299").await.unwrap();
    // Whatever the spy's socket still has in flight arrives before the answer to this ping.
    spy.request(json!({"type": "ping"})).await.unwrap();
    let leaked: Vec<_> = spy.take_pending().into_iter().filter(|f| mentions(f, cid)).collect();
    assert!(leaked.is_empty(), "the other organisation saw: {leaked:?}");
}

#[tokio::test]
async fn a_foreign_conversation_answers_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let (_visitor, _agent, cid) = demo_chat(&app).await;
    let other = app.other_org("Rival Shop", Role::Admin).await;
    let (mut spy, _) = app.agent_with_cookie(&other.cookie).await;
    let missing = cid + 10_000;
    let frames = |id: i64| {
        vec![
            json!({"type": "accept", "conversation_id": id}),
            json!({"type": "reject", "conversation_id": id}),
            json!({"type": "sync", "conversation_id": id, "after_seq": 0}),
            json!({"type": "send", "conversation_id": id, "client_msg_id": "x", "text": "hi"}),
            json!({"type": "typing", "conversation_id": id, "typing": true}),
            json!({"type": "end", "conversation_id": id}),
            json!({"type": "transfer", "conversation_id": id, "queue_id": 1}),
        ]
    };
    for (foreign, absent) in frames(cid).into_iter().zip(frames(missing)) {
        let a = spy.request(foreign.clone()).await.unwrap();
        let b = spy.request(absent).await.unwrap();
        assert_eq!(
            (a["type"].as_str(), &a["code"], &a["message"]),
            (Some("error"), &b["code"], &b["message"]),
            "{foreign}"
        );
    }
    for path in ["messages", "visitor"] {
        let status = |id: i64| {
            let url = app.http(&format!("/v1/agent/conversations/{id}/{path}"));
            let cookie = other.cookie.clone();
            async move {
                let res = reqwest::Client::new().get(url).header("cookie", cookie).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        assert_eq!(status(cid).await, status(missing).await, "{path}");
    }
    let history = app.get_json(&format!("/v1/agent/conversations?visitor={}", 1), &other.cookie).await;
    assert_eq!(history["conversations"], json!([]), "another organisation's history");
}
