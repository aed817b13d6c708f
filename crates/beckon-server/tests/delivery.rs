//! The delivery guarantee (DESIGN.md): a message is acknowledged only once stored; a client that
//! reconnects with its last sequence number receives exactly what it missed; resending with the
//! same client message id never duplicates. Connections are dropped mid-stream and the server is
//! restarted between send and reconnect: nothing lost, nothing duplicated, order kept.

use beckon_testkit::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A visitor in an active conversation with the demo agent.
async fn active_chat(app: &TestApp) -> (WsClient, WsClient, String, i64) {
    let mut agent = app.available_agent().await;
    let (mut visitor, welcome) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    agent.expect("offer").await.unwrap();
    agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    visitor.wait_for("joined", |f| f["type"] == "message" && f["message"]["seq"] == 1).await.unwrap();
    (visitor, agent, welcome["visitor_token"].as_str().unwrap().to_owned(), cid)
}

async fn stored_messages(app: &TestApp, cid: i64) -> Vec<Value> {
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let body: Value = app
        .get_json(&format!("/v1/agent/conversations/{cid}/messages?after_seq=0&limit=1000"), &cookie)
        .await;
    body["messages"].as_array().unwrap().clone()
}

/// The visitor messages in the store, as client ids in seq order; asserts seqs are 1, 2, 3…
fn visitor_ids(stored: &[Value]) -> Vec<String> {
    for (i, m) in stored.iter().enumerate() {
        assert_eq!(m["seq"], i as i64 + 1, "sequence numbers are dense");
    }
    stored
        .iter()
        .filter(|m| m["sender"]["kind"] == "visitor")
        .map(|m| m["client_msg_id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i:03}")).collect()
}

async fn send_all(client: &mut WsClient, ids: &[String]) {
    for id in ids {
        client
            .send(json!({"type": "send", "client_msg_id": id, "text": format!("text of {id}")}))
            .await
            .unwrap();
    }
}

/// Reads the agent's message frames until it has every seq up to `last`; returns seq → text,
/// failing if any seq arrives with two different texts.
async fn agent_view(agent: &mut WsClient, last: i64) -> BTreeMap<i64, String> {
    let mut seen = BTreeMap::new();
    while seen.len() < last as usize {
        let f = agent.expect("message").await.unwrap();
        let (seq, text) =
            (f["message"]["seq"].as_i64().unwrap(), f["message"]["text"].as_str().unwrap().to_owned());
        if let Some(prev) = seen.insert(seq, text.clone()) {
            assert_eq!(prev, text, "seq {seq} carried two different messages");
        }
    }
    seen
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_loses_and_duplicates_nothing() {
    let app = spawn_app_with(without_flood_limits).await;
    let (mut visitor, mut agent, token, cid) = active_chat(&app).await;
    let all = ids(40);
    send_all(&mut visitor, &all).await;
    // Read ten acks, then the network goes away with the rest in flight.
    for _ in 0..10 {
        visitor.expect("ack").await.unwrap();
    }
    visitor.drop_connection();

    // The widget reconnects and resends everything it has no ack for — here, conservatively,
    // everything — with the same client ids.
    let mut visitor = app.visitor().await;
    let welcome = visitor
        .hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "last_seq": 1}))
        .await
        .unwrap();
    assert_eq!(welcome["conversation"]["id"], cid);
    send_all(&mut visitor, &all).await;
    let mut acked = BTreeMap::new();
    while acked.len() < all.len() {
        let ack = visitor.expect("ack").await.unwrap();
        acked.insert(ack["client_msg_id"].as_str().unwrap().to_owned(), ack["seq"].as_i64().unwrap());
    }
    assert!(acked.values().all(|&s| s >= 2));

    let stored = stored_messages(&app, cid).await;
    assert_eq!(visitor_ids(&stored), all, "every message exactly once, in the order sent");
    for m in &stored[1..] {
        assert_eq!(acked[m["client_msg_id"].as_str().unwrap()], m["seq"], "the ack names the stored seq");
    }
    // The agent saw every stored message, each seq with one text.
    let view = agent_view(&mut agent, stored.len() as i64).await;
    let expected: BTreeMap<i64, String> =
        stored.iter().map(|m| (m["seq"].as_i64().unwrap(), m["text"].as_str().unwrap().to_owned())).collect();
    assert_eq!(view, expected);
}

#[tokio::test]
async fn a_restart_between_send_and_reconnect_replays_exactly_what_was_missed() {
    let mut app = spawn_app_with(without_flood_limits).await;
    let (mut visitor, mut agent, token, cid) = active_chat(&app).await;
    let ack = visitor
        .request(json!({"type": "send", "client_msg_id": "v1", "text": "before the restart"}))
        .await
        .unwrap();
    assert_eq!(ack["seq"], 2);
    visitor.expect_message("before the restart").await.unwrap();
    visitor.drop_connection();
    // The agent answers while the visitor is away…
    for (id, text) in [("a1", "answer one"), ("a2", "answer two")] {
        let ack = agent
            .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": id, "text": text}))
            .await
            .unwrap();
        assert_eq!(ack["type"], "ack");
    }
    // …and the server restarts before the visitor comes back.
    app.restart().await;
    assert!(agent.closed().await, "sockets are closed on shutdown");

    let mut visitor = app.visitor().await;
    let welcome = visitor
        .hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "last_seq": 2}))
        .await
        .unwrap();
    assert_eq!(welcome["conversation"]["state"], "active");
    assert_eq!(welcome["conversation"]["last_seq"], 4);
    assert_eq!(welcome["visit_number"], 1, "same visit: the visitor was gone for seconds");
    // Exactly the two missed messages, in order, and nothing after them.
    let m3 = visitor.next_frame().await.unwrap().unwrap();
    let m4 = visitor.next_frame().await.unwrap().unwrap();
    assert_eq!(
        (m3["message"]["seq"].as_i64(), m3["message"]["text"].as_str()),
        (Some(3), Some("answer one"))
    );
    assert_eq!(
        (m4["message"]["seq"].as_i64(), m4["message"]["text"].as_str()),
        (Some(4), Some("answer two"))
    );
    let pong = visitor.next_frame_after_ping().await;
    assert_eq!(pong["type"], "pong", "nothing else was replayed");

    // A retry of a message stored before the restart is recognised, not written again.
    let retry = visitor
        .request(json!({"type": "send", "client_msg_id": "v1", "text": "before the restart"}))
        .await
        .unwrap();
    assert_eq!((retry["seq"].as_i64(), retry["duplicate"].as_bool()), (Some(2), Some(true)));

    // The agent's console comes back with the conversation and its whole history.
    let (mut agent, welcome) = app.agent().await;
    let convs = welcome["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1);
    assert_eq!((convs[0]["id"].as_i64(), convs[0]["state"].as_str()), (Some(cid), Some("active")));
    agent.request(json!({"type": "sync", "conversation_id": cid, "after_seq": 0})).await.unwrap();
    let stored = stored_messages(&app, cid).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(visitor_ids(&stored), ["v1"]);
}

#[tokio::test]
async fn a_restart_while_sends_are_in_flight_keeps_every_message_once_in_order() {
    let mut app = spawn_app_with(without_flood_limits).await;
    let (mut visitor, _agent, token, cid) = active_chat(&app).await;
    let all = ids(30);
    send_all(&mut visitor, &all).await;
    visitor.expect("ack").await.unwrap();
    // Stop the server with sends still queued: some are stored, some never arrived.
    app.restart().await;
    assert!(visitor.closed().await);

    let mut visitor = app.visitor().await;
    visitor
        .hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "last_seq": 1}))
        .await
        .unwrap();
    send_all(&mut visitor, &all).await;
    for _ in 0..all.len() {
        visitor.expect("ack").await.unwrap();
    }
    let stored = stored_messages(&app, cid).await;
    assert_eq!(visitor_ids(&stored), all);
}

trait PingExt {
    async fn next_frame_after_ping(&mut self) -> Value;
}
impl PingExt for WsClient {
    /// Sends a ping and returns the very next frame (to prove nothing else was queued before it).
    async fn next_frame_after_ping(&mut self) -> Value {
        self.send(json!({"type": "ping"})).await.unwrap();
        self.next_frame().await.unwrap().unwrap()
    }
}

/// Stores a message without telling anyone (its event is in the caller's hands).
async fn store_quietly(
    app: &TestApp,
    cid: i64,
    sender: beckon_domain::message::Sender,
    tags: &[&str],
    text: &str,
) -> beckon_domain::message::Message {
    let state = app.app.as_ref().unwrap().state();
    let new = beckon_domain::message::NewMessage {
        conversation_id: beckon_domain::ConversationId(cid),
        sender,
        text: beckon_domain::MessageText::parse(text).unwrap(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        client_msg_id: None,
        attachment: None,
    };
    state.store.append_message(new, state.clock.now()).await.unwrap().message
}

fn deliver(app: &TestApp, message: beckon_domain::message::Message) {
    use beckon_domain::events::{Envelope, Event, Topic};
    let topic = Topic::Conversation(message.conversation_id);
    let envelope = std::sync::Arc::new(Envelope::new(vec![topic], Event::Message { message }));
    app.app.as_ref().unwrap().state().hub.deliver(&envelope);
}

#[tokio::test]
async fn messages_reach_each_socket_in_order_however_their_events_arrive() {
    let app = spawn_app().await;
    let (mut visitor, mut agent, token, cid) = active_chat(&app).await;
    agent.wait_for("joined", |f| f["type"] == "message" && f["message"]["seq"] == 1).await.unwrap();
    let alex = beckon_domain::message::Sender::agent(beckon_domain::AgentId(1), "Alex");
    // Two messages stored in one batch; their events arrive the wrong way round.
    let first = store_quietly(&app, cid, alex.clone(), &[], "first").await;
    let second = store_quietly(&app, cid, alex.clone(), &[], "second").await;
    deliver(&app, second.clone());
    for client in [&mut visitor, &mut agent] {
        let a = client.expect("message").await.unwrap();
        let b = client.expect("message").await.unwrap();
        assert_eq!(
            (a["message"]["text"].as_str(), b["message"]["text"].as_str()),
            (Some("first"), Some("second"))
        );
    }
    // The late event of the first changes nothing: no repeat.
    deliver(&app, first.clone());
    for client in [&mut visitor, &mut agent] {
        client.request(json!({"type": "ping"})).await.unwrap();
        assert!(client.take_pending().iter().all(|f| f["type"] != "message"), "a repeat reached a client");
    }
    // The visitor drops and comes back with the highest seq it holds: nothing was skipped.
    visitor.drop_connection();
    let mut visitor = app.visitor().await;
    let back = visitor
        .hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "last_seq": second.seq}))
        .await
        .unwrap();
    assert_eq!(back["conversation"]["last_seq"], second.seq);
    visitor.request(json!({"type": "ping"})).await.unwrap();
    assert!(visitor.take_pending().iter().all(|f| f["type"] != "message"), "nothing was missing");
}

#[tokio::test]
async fn an_agent_only_note_is_no_gap_for_the_visitor() {
    let app = spawn_app().await;
    let (mut visitor, mut agent, _, cid) = active_chat(&app).await;
    agent.wait_for("joined", |f| f["type"] == "message" && f["message"]["seq"] == 1).await.unwrap();
    let alex = beckon_domain::message::Sender::agent(beckon_domain::AgentId(1), "Alex");
    let note =
        store_quietly(&app, cid, alex.clone(), &[beckon_domain::message::INTERNAL_TAG], "note for agents")
            .await;
    let after = store_quietly(&app, cid, alex, &[], "to the visitor").await;
    deliver(&app, after.clone());
    let m = visitor.expect("message").await.unwrap();
    assert_eq!(
        (m["message"]["text"].as_str(), m["message"]["seq"].as_i64()),
        (Some("to the visitor"), Some(after.seq))
    );
    let n = agent.expect("message").await.unwrap();
    assert_eq!(n["message"]["seq"], note.seq, "the agent gets the note first");
    assert_eq!(agent.expect("message").await.unwrap()["message"]["seq"], after.seq);
    deliver(&app, note);
    visitor.request(json!({"type": "ping"})).await.unwrap();
    assert!(
        visitor.take_pending().iter().all(|f| f["type"] != "message"),
        "the note never reaches the visitor"
    );
}
