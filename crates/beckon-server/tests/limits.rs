//! Every per-visitor structure has a bound, and a visitor hitting one gets a clear error while
//! what was already accepted stays: repeated contexts, endless event names.

use beckon_domain::VisitorId;
use beckon_testkit::*;
use serde_json::{Value, json};

/// A server whose per-socket frame rate is not what is being tested.
async fn unthrottled() -> TestApp {
    spawn_app_with(|s| (s.ws.frames_per_second, s.ws.frame_burst) = (1_000_000, 1_000_000)).await
}

fn visitor_id(welcome: &Value) -> VisitorId {
    VisitorId(welcome["visitor_id"].as_i64().unwrap())
}

#[tokio::test]
async fn repeated_contexts_replace_each_other_instead_of_piling_up() {
    let app = unthrottled().await;
    let (mut v, welcome) = app.new_visitor().await;
    let id = visitor_id(&welcome);
    // 200 contexts of 100 variables each, every one with new names: merged, that was 20,000
    // variables (and ~2 MB) kept for one socket, copied on every frame.
    for round in 0..200 {
        let context: serde_json::Map<String, Value> =
            (0..100).map(|i| (format!("r{round}v{i}"), json!("x".repeat(90)))).collect();
        v.send(json!({"type": "set_context", "context": context, "rid": format!("c{round}")})).await.unwrap();
    }
    v.request(json!({"type": "ping"})).await.unwrap();
    let facts = app.app.as_ref().unwrap().state().triggers.facts(id).unwrap();
    assert_eq!(facts.context.len(), 100, "only the latest context is kept");
    assert!(facts.context.get("r199v0").is_some());
    assert!(v.take_pending().iter().all(|f| f["type"] != "error"), "each context was within the limits");
}

#[tokio::test]
async fn a_context_heavier_than_the_limit_is_refused_and_the_last_one_kept() {
    let app = unthrottled().await;
    let (mut v, welcome) = app.new_visitor().await;
    let id = visitor_id(&welcome);
    v.send(json!({"type": "set_context", "context": {"Case Id": "1234"}})).await.unwrap();
    // 10 variables of 4,000 characters: within start_chat's limits, too heavy to keep per visitor.
    let heavy: serde_json::Map<String, Value> =
        (0..10).map(|i| (format!("v{i}"), json!("y".repeat(4_000)))).collect();
    let refused = v.request(json!({"type": "set_context", "context": heavy})).await.unwrap();
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("invalid_context"))
    );
    assert!(refused["message"].as_str().unwrap().contains("16384"), "{refused}");
    let facts = app.app.as_ref().unwrap().state().triggers.facts(id).unwrap();
    assert_eq!(facts.context.len(), 1);
    assert!(facts.context.get("Case Id").is_some(), "the accepted context stays");
}

#[tokio::test]
async fn distinct_event_names_per_visit_are_bounded() {
    let app = unthrottled().await;
    let (mut v, welcome) = app.new_visitor().await;
    let id = visitor_id(&welcome);
    for i in 0..50 {
        v.send(json!({"type": "track", "name": format!("event {i}")})).await.unwrap();
    }
    let refused = v.request(json!({"type": "track", "name": "one too many"})).await.unwrap();
    assert_eq!(refused["code"], "too_many_events", "{refused}");
    // A name already counted still counts.
    v.send(json!({"type": "track", "name": "event 0"})).await.unwrap();
    v.request(json!({"type": "ping"})).await.unwrap();
    let facts = app.app.as_ref().unwrap().state().triggers.facts(id).unwrap();
    assert_eq!(facts.events.len(), 50);
    assert_eq!(facts.events["event 0"], 2);
}

/// A tab of the visitor whose welcome this was (same token).
async fn another_tab(app: &TestApp, welcome: &Value) -> (WsClient, Value) {
    let mut tab = app.visitor().await;
    let token = welcome["visitor_token"].clone();
    let hello = tab.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token})).await.unwrap();
    (tab, hello)
}

#[tokio::test]
async fn all_of_a_visitors_tabs_share_one_message_budget() {
    let app = spawn_app_with(|s| {
        (s.ws.frames_per_second, s.ws.frame_burst) = (1_000_000, 1_000_000);
        s.limits.messages_per_visitor_per_minute = 30; // a burst of 10
    })
    .await;
    let (mut first, welcome) = app.new_visitor().await;
    first.request(json!({"type": "start_chat"})).await.unwrap();
    let mut tabs = vec![first];
    for _ in 0..4 {
        tabs.push(another_tab(&app, &welcome).await.0);
    }
    // Each tab sends ten messages: fifty in all, as fast as they can.
    let (mut acked, mut limited) = (0, 0);
    for (t, tab) in tabs.iter_mut().enumerate() {
        for i in 0..10 {
            let reply = tab
                .request(json!({"type": "send", "client_msg_id": format!("t{t}m{i}"), "text": "hi"}))
                .await
                .unwrap();
            match reply["type"].as_str() {
                Some("ack") => acked += 1,
                _ => {
                    assert_eq!(reply["code"], "rate_limited", "{reply}");
                    assert!(reply["message"].as_str().unwrap().contains("try again in 2 s"), "{reply}");
                    limited += 1;
                }
            }
        }
    }
    assert_eq!((acked, limited), (9, 41), "the burst of 10, less the start_chat");
    // The budget refills with time: one message every two seconds.
    app.advance(2_000);
    let reply = tabs[3]
        .request(json!({"type": "send", "client_msg_id": "later", "text": "still there?"}))
        .await
        .unwrap();
    assert_eq!(reply["type"], "ack");
}

#[tokio::test]
async fn a_visitor_may_hold_a_bounded_number_of_tabs() {
    let app = spawn_app_with(|s| s.limits.sockets_per_visitor = 3).await;
    let (_first, welcome) = app.new_visitor().await;
    let (_second, _) = another_tab(&app, &welcome).await;
    let (_third, _) = another_tab(&app, &welcome).await;
    let (mut fourth, refused) = another_tab(&app, &welcome).await;
    assert_eq!(refused["code"], "too_many_tabs", "{refused}");
    assert_eq!(fourth.close_code().await, Some(1008));
    // A tab that closes frees its place.
    drop(_second);
    app.wait_for_sessions(2).await;
    let (_again, ok) = another_tab(&app, &welcome).await;
    assert_eq!(ok["type"], "welcome");
}

#[tokio::test]
async fn new_visitors_from_one_address_are_limited_and_returning_ones_are_not() {
    let app = spawn_app_with(|s| s.limits.new_visitors_per_address_per_minute = 5).await;
    let mut welcomes = Vec::new();
    for _ in 0..5 {
        welcomes.push(app.new_visitor().await);
    }
    let mut sixth = app.visitor().await;
    let refused = sixth.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
    assert_eq!(refused["code"], "too_many_visitors", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("try again in 12 s"), "{refused}");
    assert_eq!(sixth.close_code().await, Some(1013), "try again later");
    let (_returning, back) = another_tab(&app, &welcomes[0].1).await;
    assert_eq!(back["type"], "welcome", "a known visitor is not a new one");
    app.advance(12_000);
    let (_, later) = app.new_visitor().await;
    assert_eq!(later["type"], "welcome");
}

#[tokio::test]
async fn sockets_from_one_address_are_limited() {
    let app = spawn_app_with(|s| s.limits.sockets_per_address = 3).await;
    let _held: Vec<_> = futures_util::future::join_all((0..3).map(|_| app.visitor())).await;
    let refused = WsClient::connect(&app.ws_url("/v1/visitor/ws"), None).await;
    let err = format!("{:#}", refused.err().expect("the fourth is refused"));
    assert!(err.contains("429"), "{err}");
}

#[tokio::test]
async fn a_socket_that_never_says_hello_is_closed() {
    // The deadline runs on the socket's own timer: a short one keeps the test quick.
    let app = spawn_app_with(|s| s.limits.hello_timeout_secs = 1).await;
    let mut silent = app.visitor().await;
    assert_eq!(silent.close_code().await, Some(1008));
    let (mut talker, welcome) = app.new_visitor().await;
    assert_eq!(welcome["type"], "welcome");
    talker.request(json!({"type": "ping"})).await.unwrap();
}

#[tokio::test]
async fn page_view_floods_are_refused_beyond_the_budget() {
    let app = spawn_app_with(|s| {
        (s.ws.frames_per_second, s.ws.frame_burst) = (1_000_000, 1_000_000);
        s.limits.page_views_per_visitor_per_minute = 10; // a burst of 5
    })
    .await;
    let (mut v, _) = app.new_visitor().await;
    let mut refused = 0;
    for i in 0..20 {
        let url = format!("https://shop.example/p{i}");
        v.send(
            json!({"type": "page_view", "rid": format!("p{i}"), "url": url, "title": "P", "referrer": ""}),
        )
        .await
        .unwrap();
    }
    v.request(json!({"type": "ping"})).await.unwrap();
    for f in v.take_pending() {
        if f["type"] == "error" {
            assert_eq!(f["code"], "rate_limited", "{f}");
            refused += 1;
        }
    }
    assert_eq!(refused, 15);
}

#[tokio::test]
async fn a_visitor_flood_never_costs_the_agent_their_console() {
    let app = spawn_app_with(|s| (s.ws.frames_per_second, s.ws.frame_burst) = (1_000_000, 1_000_000)).await;
    let mut agent = app.available_agent().await;
    let (mut first, welcome) = app.new_visitor().await;
    let chat = first.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    agent.expect("offer").await.unwrap();
    agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    let mut tabs = vec![first];
    for _ in 0..19 {
        tabs.push(another_tab(&app, &welcome).await.0);
    }
    // Every tab floods messages and typing without waiting for answers.
    for (t, tab) in tabs.iter_mut().enumerate() {
        for i in 0..100 {
            tab.send(json!({"type": "send", "client_msg_id": format!("f{t}-{i}"), "text": "spam"}))
                .await
                .unwrap();
            tab.send(json!({"type": "typing", "typing": i % 2 == 0})).await.unwrap();
        }
    }
    for tab in tabs.iter_mut() {
        tab.request(json!({"type": "ping"})).await.unwrap();
    }
    let pong = agent.request(json!({"type": "ping"})).await.unwrap();
    assert_eq!(pong["type"], "pong", "the console is still open");
    let frames = agent.take_pending();
    let messages = frames.iter().filter(|f| f["type"] == "message" && f["message"]["text"] == "spam").count();
    let typing = frames.iter().filter(|f| f["type"] == "typing").count();
    assert!(messages <= 10, "{messages} messages got through");
    assert!(typing <= 10, "{typing} typing notices got through");
}

#[tokio::test]
async fn made_up_or_repeated_invite_outcomes_do_not_count() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut v, _) = app.new_visitor().await;
    let report = |id: &str, outcome: &str| json!({"type": "invite", "invite_id": id, "source": "sdk", "outcome": outcome, "message": "Hi"});
    // Outcomes of invites that were never shown, and a second final outcome of a real one.
    for i in 0..5 {
        v.request(report(&format!("fake-{i}"), "accepted")).await.unwrap();
    }
    v.request(report("real", "shown")).await.unwrap();
    v.request(report("real", "accepted")).await.unwrap();
    v.request(report("real", "declined")).await.unwrap();
    v.request(report("real", "accepted")).await.unwrap();
    // A rule's invite the server never sent cannot be claimed either.
    let forged = json!({"type": "invite", "invite_id": "rule1-x", "source": "rule:1", "outcome": "shown", "message": "Hi"});
    assert_eq!(v.request(forged).await.unwrap()["code"], "invalid_field");
    let funnel = app.get_json("/v1/admin/analytics/invites", &cookie).await;
    let sdk: Vec<_> = funnel["rows"].as_array().unwrap().iter().filter(|r| r["source"] == "sdk").collect();
    assert_eq!(sdk.len(), 1, "{funnel}");
    assert_eq!(
        (sdk[0]["shown"].as_i64(), sdk[0]["accepted"].as_i64(), sdk[0]["declined"].as_i64()),
        (Some(1), Some(1), Some(0))
    );
}

async fn stored(app: &TestApp, welcome: &Value) -> bool {
    let state = app.app.as_ref().unwrap().state();
    let hash = beckon_server::auth::token_hash(welcome["visitor_token"].as_str().unwrap());
    state.store.visitor_by_token(&hash).await.unwrap().is_some()
}

#[tokio::test]
async fn sockets_that_only_say_hello_leave_nothing_in_the_database() {
    let app = spawn_app().await;
    let mut welcomes = Vec::new();
    for _ in 0..20 {
        let (v, welcome) = app.new_visitor().await;
        assert!(welcome["visitor_id"].as_i64().unwrap() >= 1 << 40, "random, not enumerable: {welcome}");
        assert_eq!(welcome["visit_id"], Value::Null, "no visit stored yet");
        drop(v);
        welcomes.push(welcome);
    }
    app.wait_for_sessions(0).await;
    app.advance(60_000);
    for w in &welcomes {
        assert!(!stored(&app, w).await, "a visitor that did nothing was stored");
    }
    // Nor kept in memory, once the minute their next page had to come back in is over.
    let pending = app.app.as_ref().unwrap().state().new_visitors.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    while pending.remembered() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "{} visitors still remembered", pending.remembered());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_new_visitor_is_stored_once_it_does_something_or_stays() {
    let app = spawn_app().await;
    let shop = json!({"url": "https://shop.example/", "title": "Shop", "referrer": ""});
    // Does something: any frame after hello.
    let (mut active, welcome) = app.new_visitor().await;
    assert!(!stored(&app, &welcome).await);
    active.request(json!({"type": "get_availability"})).await.unwrap();
    assert!(stored(&app, &welcome).await);
    // Comes back: a second tab is the same visitor, stored at once.
    let (_first, first) = app.visitor_at(&shop).await;
    assert!(!stored(&app, &first).await);
    let (_tab, same) = another_tab(&app, &first).await;
    assert_eq!(same["visitor_id"], first["visitor_id"]);
    assert!(stored(&app, &first).await);
    // Stays: five seconds on the page.
    let (mut lingering_tab, lingering) = app.visitor_at(&shop).await;
    app.advance(4_999);
    assert!(!stored(&app, &lingering).await);
    app.advance(1);
    app.wait_for_visitors_stored().await;
    assert!(stored(&app, &lingering).await);
    let state = app.app.as_ref().unwrap().state();
    let id = beckon_domain::VisitorId(lingering["visitor_id"].as_i64().unwrap());
    assert_eq!(
        state.store.page_view_counts(id, "https://shop.example/").await.unwrap(),
        (1, 1),
        "its first page too"
    );
    // Once stored it is the store's: nothing of it stays in memory while its tab is open (that
    // was a kilobyte per idle session), and what the tab does next goes into the visit stored.
    assert_eq!(state.new_visitors.remembered(), 0, "a stored visitor is kept in memory");
    let next = json!({"type": "page_view", "rid": "p", "url": "https://shop.example/pricing", "title": "P", "referrer": ""});
    lingering_tab.send(next).await.unwrap();
    lingering_tab.request(json!({"type": "get_availability"})).await.unwrap();
    assert_eq!(state.store.page_view_counts(id, "https://shop.example/pricing").await.unwrap(), (1, 2));
}

#[tokio::test]
async fn the_next_page_of_a_new_visitor_is_the_same_visitor() {
    let app = spawn_app().await;
    let page = |url: &str| json!({"url": url, "title": "Shop", "referrer": ""});
    let (first_page, welcome) = app.visitor_at(&page("https://shop.example/")).await;
    // The visitor follows a link within a second: the first page's socket closes, the next
    // page's opens with the same token.
    drop(first_page);
    app.wait_for_sessions(0).await;
    app.advance(1_000);
    let mut next = app.visitor().await;
    let hello = json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": welcome["visitor_token"], "page": page("https://shop.example/pricing")});
    let back = next.hello(hello).await.unwrap();
    assert_eq!(back["visitor_id"], welcome["visitor_id"], "the same visitor");
    assert!(back["visit_id"].is_i64(), "stored now: {back}");
    let state = app.app.as_ref().unwrap().state();
    let id = beckon_domain::VisitorId(welcome["visitor_id"].as_i64().unwrap());
    assert_eq!(
        state.store.page_view_counts(id, "https://shop.example/pricing").await.unwrap(),
        (1, 2),
        "both pages"
    );
}
