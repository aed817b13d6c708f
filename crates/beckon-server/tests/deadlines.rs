//! Coordination that outlives a process: offer deadlines, declines and presence are stored, and
//! whichever node runs its sweeper acts on them — including the same node after a restart, and
//! another node when one dies (simulated here by a node row that stops renewing its lease).

use beckon_domain::{Clock, Presence};
use beckon_testkit::*;
use serde_json::json;

#[tokio::test]
async fn an_offer_pending_across_a_restart_still_expires_and_moves_on() {
    let mut app = spawn_app().await;
    let (alex_cookie, sam_cookie) = {
        let alex = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
        let _sam = app.extra_agent("sam@demo.beckon", "Sam", 1).await;
        (alex, app.sign_in("sam@demo.beckon", "extra-agent-pw").await.unwrap())
    };
    let (mut alex, _) = app.agent_with_cookie(&alex_cookie).await;
    alex.request(json!({"type": "presence", "status": "available"})).await.unwrap();
    let (mut v, welcome) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    alex.expect("offer").await.unwrap(); // Alex has the most room (3 against 1)
    app.advance(10_000);

    // The server restarts: every socket closes; the consoles come back within the grace period.
    app.restart().await;
    let (mut alex, welcome_a) = app.agent_with_cookie(&alex_cookie).await;
    assert_eq!(
        welcome_a["conversations"][0]["offered_agent_id"], welcome_a["agent"]["id"],
        "still Alex's offer"
    );
    let (mut sam, _) = app.agent_with_cookie(&sam_cookie).await;
    let mut v = app.visitor().await;
    v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": welcome["visitor_token"]})).await.unwrap();
    // 30 s after it was made, the offer runs out — the process that made it is gone — and goes
    // to Sam; Alex is not offered it again.
    app.advance(19_999);
    assert_eq!(sam.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
    app.advance(1);
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
    alex.wait_for("withdrawn", |f| f["type"] == "chat" && f["conversation"]["id"] == cid).await.unwrap();
    assert_eq!(
        alex.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap()["code"],
        "offer_gone"
    );
}

#[tokio::test]
async fn a_decline_is_remembered_across_a_restart() {
    let mut app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut alex, _) = app.agent_with_cookie(&cookie).await;
    alex.request(json!({"type": "presence", "status": "available"})).await.unwrap();
    let (mut v, _) = app.new_visitor().await;
    let cid = v.request(json!({"type": "start_chat"})).await.unwrap()["conversation"]["id"].as_i64().unwrap();
    alex.expect("offer").await.unwrap();
    assert_eq!(alex.request(json!({"type": "reject", "conversation_id": cid})).await.unwrap()["type"], "ok");
    app.restart().await;
    let (mut alex, welcome) = app.agent_with_cookie(&cookie).await;
    assert!(welcome["conversations"].as_array().unwrap().is_empty());
    // Alex is available again (a new console), yet is not offered what they declined; Sam is.
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    assert_eq!(sam.expect("offer").await.unwrap()["conversation"]["id"], cid);
    let pending: Vec<_> = {
        alex.request(json!({"type": "ping"})).await.unwrap();
        alex.take_pending()
    };
    assert!(!pending.iter().any(|f| f["type"] == "offer"), "{pending:?}");
}

#[tokio::test]
async fn the_consoles_of_a_node_that_died_count_until_its_lease_and_grace_run_out() {
    // Offers do not time out in this test: what moves the chat is the agent going offline.
    let app = spawn_app_with(|s| s.offer_timeout_secs = 3_600).await;
    let state = app.app.as_ref().unwrap().state().clone();
    let alex = state.store.agent_credentials(DEMO_AGENT_EMAIL).await.unwrap().unwrap().0;
    // Alex's only console is on another node, which dies right after this.
    let now = app.clock.now();
    state.store.node_heartbeat("node-that-dies", now.plus_millis(30_000), now).await.unwrap();
    state.store.open_console("node-that-dies-1", alex.id, "node-that-dies", now).await.unwrap();
    state.chat.set_presence(alex.org_id, alex.id, Presence::Available).await.unwrap();
    assert_eq!(state.chat.effective_presence(alex.id).await.unwrap(), Presence::Available);
    let (mut v, _) = app.new_visitor().await;
    let cid = v.request(json!({"type": "start_chat"})).await.unwrap()["conversation"]["id"].as_i64().unwrap();
    let offered = state.store.conversation(beckon_domain::ConversationId(cid)).await.unwrap().unwrap();
    assert_eq!(offered.offered_agent_id, Some(alex.id), "offered to Alex, whose console is elsewhere");
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;

    // The dead node's lease ends at 30 s; its consoles linger for the 15 s grace period.
    app.advance(30_000 + 14_999);
    assert_eq!(sam.request(json!({"type": "ping"})).await.unwrap()["type"], "pong", "nothing yet");
    assert_eq!(state.chat.effective_presence(alex.id).await.unwrap(), Presence::Available);
    app.advance(2);
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
    assert_eq!(state.chat.effective_presence(alex.id).await.unwrap(), Presence::Offline);
}
