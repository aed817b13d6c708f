//! The waiting list: chats waiting in a queue are listed on the consoles of the queue's agents
//! (every queue for an admin), whatever their presence, and any of them can take one — so a chat
//! declined by the only available agent is not stranded out of every agent's view.

use beckon_domain::WidgetKey;
use beckon_domain::model::Role;
use beckon_testkit::*;
use serde_json::{Value, json};

/// An agent of the demo organisation in a queue of its own (not the demo widget's), signed in.
async fn agent_of_another_queue(app: &TestApp) -> WsClient {
    let state = app.app.as_ref().unwrap().state();
    let widget =
        state.store.widget_by_key(&WidgetKey::parse(DEMO_WIDGET_KEY).unwrap()).await.unwrap().unwrap();
    let now = state.clock.now();
    let queue = state.store.create_queue(widget.org_id, "Billing", now).await.unwrap();
    let new = beckon_store::NewAgent {
        org_id: widget.org_id,
        email: "billing@demo.beckon".into(),
        name: "Bea".into(),
        password_hash: beckon_server::auth::hash_password("billing-agent-pw").unwrap(),
        role: Role::Agent,
        capacity: 3,
    };
    let agent = state.store.create_agent(new, now).await.unwrap();
    state.store.add_agent_to_queue(agent.id, queue.id, now).await.unwrap();
    let cookie = app.sign_in("billing@demo.beckon", "billing-agent-pw").await.unwrap();
    let (console, welcome) = app.agent_with_cookie(&cookie).await;
    assert_eq!(welcome["waiting"], json!([]), "nothing waits in the billing queue");
    console
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_chat_the_only_agent_declined_stays_listed_and_can_be_taken_even_when_away() {
    let app = spawn_app().await;
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 3).await;
    let mut bea = agent_of_another_queue(&app).await;
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);

    // Sam, the only available agent, declines: the chat waits, offered to no one, and stays on
    // Sam's waiting list.
    let ok = sam.request(json!({"type": "reject", "conversation_id": cid})).await.unwrap();
    assert_eq!(ok["type"], "ok");
    let listed = sam
        .wait_for("waiting", |f| {
            f["type"] == "waiting"
                && f["conversation"]["id"] == cid
                && f["conversation"].get("offered_agent_id").is_none()
        })
        .await
        .unwrap();
    assert_eq!(listed["conversation"]["state"], "queued");
    // A console opened now lists it too (a reload, another tab); so does the admin's.
    let (_, welcome) =
        app.agent_with_cookie(&app.sign_in("sam@demo.beckon", "extra-agent-pw").await.unwrap()).await;
    assert_eq!(ids(&welcome["waiting"]), [cid]);
    let (_, admin) = app.agent().await;
    assert_eq!(ids(&admin["waiting"]), [cid], "an admin sees every queue's waiting chats");

    // An agent of another queue neither sees it nor can take it.
    let refused = bea.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    assert_eq!(refused["code"], "not_your_conversation");

    // Sam, now Away, takes it: it is Sam's at once, and the visitor hears Sam joined.
    let away = sam.request(json!({"type": "presence", "status": "away"})).await.unwrap();
    assert_eq!(away["status"], "away");
    let taken = sam.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    assert_eq!(taken["type"], "chat");
    assert_eq!(taken["conversation"]["state"], "active");
    assert_eq!(taken["conversation"]["agent"]["name"], "Sam");
    sam.wait_for("waiting_gone", |f| f["type"] == "waiting_gone" && f["conversation_id"] == cid)
        .await
        .unwrap();
    visitor.expect_message("Sam joined the chat.").await.unwrap();
    // Taken once: a second take is refused.
    let again = sam.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    assert_eq!(again["code"], "offer_gone");
    // Bea never heard of it.
    assert!(
        bea.take_pending().iter().all(|f| f["conversation"]["id"] != cid && f["conversation_id"] != cid),
        "no frame about another queue's chat"
    );
}

#[tokio::test]
async fn taking_a_chat_offered_to_someone_else_withdraws_that_offer() {
    let app = spawn_app().await;
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 3).await;
    let (mut admin, _) = app.agent().await; // the demo admin, not available: gets no offers
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    sam.expect("offer").await.unwrap();
    admin.wait_for("waiting", |f| f["type"] == "waiting" && f["conversation"]["id"] == cid).await.unwrap();

    let taken = admin.request(json!({"type": "take", "conversation_id": cid})).await.unwrap();
    assert_eq!(taken["conversation"]["state"], "active");
    // Sam's offer card goes (the conversation is no longer offered to Sam), and Sam cannot accept.
    sam.wait_for("offer withdrawn", |f| f["type"] == "chat" && f["conversation"]["id"] == cid).await.unwrap();
    let late = sam.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert_eq!(late["code"], "offer_gone");
    visitor
        .wait_for("joined", |f| {
            f["type"] == "message"
                && f["message"]["text"].as_str().is_some_and(|t| t.ends_with(" joined the chat."))
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_chat_transferred_to_a_queue_is_not_offered_back_to_who_handed_it_on() {
    let app = spawn_app().await;
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 3).await;
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    sam.expect("offer").await.unwrap();
    let accepted = sam.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    let queue = accepted["conversation"]["queue_id"].clone();

    // Sam, the only available agent, hands it to the queue: it is not offered straight back to
    // Sam; it waits on the list, where Sam (or anyone of the queue) can still take it.
    let moved =
        sam.request(json!({"type": "transfer", "conversation_id": cid, "queue_id": queue})).await.unwrap();
    assert_eq!(moved["type"], "ok", "{moved}");
    let waiting = sam
        .wait_for("waiting", |f| {
            f["type"] == "waiting"
                && f["conversation"]["id"] == cid
                && f["conversation"]["state"] == "transferred"
        })
        .await
        .unwrap();
    assert!(waiting["conversation"].get("offered_agent_id").is_none(), "offered to no one: {waiting}");
    // Another available agent of the queue gets it.
    let mut kim = app.extra_agent("kim@demo.beckon", "Kim", 3).await;
    let offer = kim.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
    assert!(sam.take_pending().iter().all(|f| f["type"] != "offer"), "never offered back to Sam");
}
