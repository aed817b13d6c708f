//! Routing rules choose the queue (first match wins, the widget's queue otherwise), and the
//! conversation is offered to an agent of that queue only.

use beckon_testkit::*;
use serde_json::{Value, json};

#[tokio::test]
async fn rules_send_chats_to_the_right_queue_and_agent() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let post =
        |path: &str, body: Value| http.post(app.http(path)).header("cookie", &admin).json(&body).send();
    let put =
        |path: String, body: Value| http.put(app.http(&path)).header("cookie", &admin).json(&body).send();

    let support: Value =
        post("/v1/admin/queues", json!({"name": "Support"})).await.unwrap().json().await.unwrap();
    let support_id = support["queue"]["id"].clone();
    let dup = post("/v1/admin/queues", json!({"name": "Support"})).await.unwrap();
    assert_eq!(dup.status(), 409);

    // Sam works the Support queue only; Alex (the demo agent) the General one.
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 3).await;
    let dir: Value = http
        .get(app.http("/v1/agent/directory"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sam_id = dir["agents"].as_array().unwrap().iter().find(|a| a["name"] == "Sam").unwrap()["id"].clone();
    let r =
        put(format!("/v1/admin/agents/{sam_id}/queues"), json!({"queue_ids": [support_id]})).await.unwrap();
    assert_eq!(r.status(), 200);
    let mut alex = app.available_agent().await;

    // Invalid rules are refused with the rule and condition named; nothing is stored.
    let bad = json!({"rules": [{"name": "Big carts", "queue_id": support_id,
        "conditions": [{"field": {"kind": "context", "name": "Cart"}, "op": "gt", "value": "lots"}]}]});
    let res = put("/v1/admin/routing-rules".into(), bad).await.unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_rule");
    assert!(err["error"]["message"].as_str().unwrap().contains("rule 1 (\"Big carts\"), condition 1"));
    let foreign = put(
        "/v1/admin/routing-rules".into(),
        json!({"rules": [{"name": "x", "queue_id": 999, "conditions": []}]}),
    )
    .await
    .unwrap();
    assert_eq!(foreign.status(), 400);

    let rules = json!({"rules": [
        {"name": "Open cases", "queue_id": support_id,
         "conditions": [{"field": {"kind": "context", "name": "Case Id"}, "op": "exists", "value": ""}]},
        {"name": "Support pages", "queue_id": support_id,
         "conditions": [{"field": {"kind": "page_url"}, "op": "contains", "value": "/support"}]}
    ]});
    let ok = put("/v1/admin/routing-rules".into(), rules.clone()).await.unwrap();
    assert_eq!(ok.status(), 200);
    let stored: Value = http
        .get(app.http("/v1/admin/routing-rules"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["rules"], rules["rules"]);

    // A visitor with an open case → Support → Sam.
    let (mut v1, _) = app.new_visitor().await;
    let c1 = v1
        .request(
            json!({"type": "start_chat", "context": {"Case Id": {"value": "CAS-1", "isDisplayable": true}}}),
        )
        .await
        .unwrap();
    assert_eq!(c1["conversation"]["queue_id"], support_id);
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], c1["conversation"]["id"]);
    // A visitor on a support page (no case) → Support too, by the second rule.
    let mut v2 = app.visitor().await;
    v2.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": {"url": "https://shop.example/support/pen", "title": "Pen", "referrer": ""}})).await.unwrap();
    let c2 = v2.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(c2["conversation"]["queue_id"], support_id);
    // Anyone else → the widget's queue (General) → Alex.
    let (mut v3, _) = app.new_visitor().await;
    let c3 = v3.request(json!({"type": "start_chat"})).await.unwrap();
    assert_ne!(c3["conversation"]["queue_id"], support_id);
    let offer = alex.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], c3["conversation"]["id"], "Alex only gets the General chat");

    // Plain agents may not change routing.
    let sam_cookie = app.sign_in("sam@demo.beckon", "extra-agent-pw").await.unwrap();
    let denied = http
        .put(app.http("/v1/admin/routing-rules"))
        .header("cookie", sam_cookie)
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
}

#[tokio::test]
async fn outside_operating_hours_the_widget_knows_and_no_chat_starts() {
    // The test clock starts on Thursday 2026-01-01 at 00:00 UTC.
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let queues: Value = http
        .get(app.http("/v1/admin/queues"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let general = queues["queues"][0]["id"].clone();
    let weekdays: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "open": "09:00", "close": "17:00"}))
        .collect();
    let set = |hours: Value| {
        http.put(app.http(&format!("/v1/admin/queues/{general}/hours")))
            .header("cookie", &admin)
            .json(&json!({ "hours": hours }))
            .send()
    };
    let bad = set(json!({"time_zone": "Mars/Olympus", "weekly": weekdays})).await.unwrap();
    assert_eq!(bad.status(), 400);
    let ok = set(json!({"time_zone": "UTC", "weekly": weekdays})).await.unwrap();
    assert_eq!(ok.status(), 200);
    let _alex = app.available_agent().await;

    let (mut v, welcome) = app.new_visitor().await;
    assert_eq!(welcome["queue"]["open"], false);
    assert_eq!(welcome["queue"]["opens_at"], 1_767_258_000_000_i64, "09:00 UTC the same day");
    assert_eq!(welcome["widget"]["out_of_hours"], "message");
    let a = v.request(json!({"type": "get_availability"})).await.unwrap();
    assert_eq!(
        (a["is_queue_available"].as_bool(), a["is_agent_available"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(a["start_time_of_next_operating_hour"], 1_767_258_000_000_i64);
    let closed = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(closed["code"], "queue_closed");

    // At 09:00 the queue opens.
    app.advance(9 * 3_600_000);
    let (mut v, welcome) = app.new_visitor().await;
    assert_eq!(welcome["queue"]["open"], true);
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(chat["type"], "chat");
    let a = v.request(json!({"type": "get_availability"})).await.unwrap();
    assert_eq!(a["end_time_of_next_operating_hour"], 1_767_286_800_000_i64, "17:00 UTC");
}

#[tokio::test]
async fn waiting_visitors_hear_their_place_in_line() {
    let app = spawn_app().await;
    let in_line = |f: &Value| f["type"] == "message" && f["message"]["tags"][0] == "queueposition";
    let (mut first, _) = app.new_visitor().await;
    first.request(json!({"type": "start_chat"})).await.unwrap();
    let m = first.wait_for("position", in_line).await.unwrap();
    // Nobody is at work yet: the visitor is told so, not promised a short wait.
    assert_eq!(
        m["message"]["text"],
        "No agent is available right now. You're next in line: an agent will join as soon as one is available."
    );
    let (mut second, _) = app.new_visitor().await;
    second.request(json!({"type": "start_chat"})).await.unwrap();
    let m = second.wait_for("position", in_line).await.unwrap();
    assert_eq!(m["message"]["text"], "No agent is available right now. You are number 2 in line.");

    // An agent takes the first chat after 20 s (inside the offer timeout); the second moves up.
    let mut alex = app.available_agent().await;
    let offer = alex.expect("offer").await.unwrap();
    app.advance(20_000);
    let accepted = alex
        .request(json!({"type": "accept", "conversation_id": offer["conversation"]["id"]}))
        .await
        .unwrap();
    assert_eq!(accepted["type"], "chat", "{accepted}");
    // Alex has room for the second chat too, so it is offered rather than kept in line. Alex then
    // goes busy: a newcomer waits, and now also hears the average wait (20 s, rounded up to a minute).
    alex.request(json!({"type": "presence", "status": "busy"})).await.unwrap();
    let (mut third, _) = app.new_visitor().await;
    third.request(json!({"type": "start_chat"})).await.unwrap();
    let m = third.wait_for("position", in_line).await.unwrap();
    assert_eq!(m["message"]["text"], "You are number 2 in line.", "behind the chat offered to Alex");
    let avg = third
        .wait_for("average", |f| f["type"] == "message" && f["message"]["tags"][0] == "averagewaittime")
        .await
        .unwrap();
    assert_eq!(avg["message"]["text"], "The average wait is about 1 minute.");

    // Alex goes Away: a newcomer is told nobody is available, and hears no average wait (there
    // is one to quote, but nobody to keep it). Start_chat replies once the newcomer's notices are
    // stored, so the store shows all of them.
    alex.request(json!({"type": "presence", "status": "away"})).await.unwrap();
    let (mut fourth, _) = app.new_visitor().await;
    let chat = fourth.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = beckon_domain::ConversationId(chat["conversation"]["id"].as_i64().unwrap());
    let state = app.app.as_ref().unwrap().state();
    let notices: Vec<_> = state.store.messages_after(cid, 0, 10).await.unwrap();
    let texts: Vec<&str> = notices.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["No agent is available right now. You are number 3 in line."]);
}

#[tokio::test]
async fn a_closed_or_unstaffed_queue_sends_new_chats_to_its_fallback() {
    // The test clock starts on Thursday 2026-01-01 at 00:00 UTC.
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let queues = app.get_json("/v1/admin/queues", &admin).await;
    let general = queues["queues"][0]["id"].clone();
    let night: Value = http
        .post(app.http("/v1/admin/queues"))
        .header("cookie", &admin)
        .json(&json!({"name": "Night desk"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let night = night["queue"]["id"].clone();
    let put =
        |path: String, body: Value| http.put(app.http(&path)).header("cookie", &admin).json(&body).send();

    // Bad fallbacks are refused with the field named.
    let own = put(format!("/v1/admin/queues/{general}/fallback"), json!({"fallback_queue_id": general}))
        .await
        .unwrap();
    assert_eq!(own.status(), 400);
    let unknown = put(format!("/v1/admin/queues/{general}/fallback"), json!({"fallback_queue_id": 999_999}))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let set = put(format!("/v1/admin/queues/{general}/fallback"), json!({"fallback_queue_id": night}))
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let listed = app.get_json("/v1/admin/queues", &admin).await;
    assert_eq!(
        listed["queues"].as_array().unwrap().iter().find(|q| q["id"] == general).unwrap()["fallback_queue_id"],
        night
    );

    // Nobody of General is at work (the demo agent is signed out); Nia of the night desk is.
    let mut nia = app.extra_agent("nia@demo.beckon", "Nia", 3).await;
    let state = app.app.as_ref().unwrap().state();
    let nia_id = state.store.agent_credentials("nia@demo.beckon").await.unwrap().unwrap().0.id;
    let now = state.clock.now();
    state
        .store
        .set_agent_queues(nia_id, &[beckon_domain::QueueId(night.as_i64().unwrap())], now)
        .await
        .unwrap();
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(chat["conversation"]["queue_id"], night, "unstaffed General → the night desk: {chat}");
    let offer = nia.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], chat["conversation"]["id"]);

    // General closed for the night (09:00–17:00 on weekdays; it is 00:00): the widget does not
    // say "we're away" (its chats go to the night desk), and a chat starts there.
    let weekdays: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "open": "09:00", "close": "17:00"}))
        .collect();
    let hours = put(
        format!("/v1/admin/queues/{general}/hours"),
        json!({"hours": {"time_zone": "UTC", "weekly": weekdays}}),
    )
    .await
    .unwrap();
    assert_eq!(hours.status(), 200);
    let _alex = app.available_agent().await; // at work, but General is closed
    let (mut v2, welcome) = app.new_visitor().await;
    assert_eq!(welcome["queue"]["open"], true, "the fallback is open: {welcome}");
    let chat = v2.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(chat["conversation"]["queue_id"], night);

    // Without the fallback, General's hours apply again.
    let cleared = put(format!("/v1/admin/queues/{general}/fallback"), json!({"fallback_queue_id": null}))
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let (mut v3, welcome) = app.new_visitor().await;
    assert_eq!(welcome["queue"]["open"], false);
    assert_eq!(v3.request(json!({"type": "start_chat"})).await.unwrap()["code"], "queue_closed");
}

/// A rush: ten visitors start chats at the same moment while two agents of capacity 2 are
/// available. Nobody is ever offered or given more chats than their capacity, no chat is offered
/// to two agents, and a freed slot goes to a chat still waiting.
#[tokio::test]
async fn a_rush_of_chats_never_exceeds_any_agents_capacity() {
    let app = spawn_app_with(without_flood_limits).await;
    let mut ann = app.extra_agent("ann@rush.test", "Ann", 2).await;
    let mut bob = app.extra_agent("bob@rush.test", "Bob", 2).await;
    let state = app.app.as_ref().unwrap().state();
    let id_of = |email: &'static str| {
        let store = state.store.clone();
        async move { store.agent_credentials(email).await.unwrap().unwrap().0.id }
    };
    let (ann_id, bob_id) = (id_of("ann@rush.test").await, id_of("bob@rush.test").await);

    let mut visitors = Vec::new();
    for _ in 0..10 {
        visitors.push(app.new_visitor().await.0);
    }
    let started =
        futures_util::future::join_all(visitors.iter_mut().map(|v| v.request(json!({"type": "start_chat"}))))
            .await;
    assert!(started.iter().all(|s| s.as_ref().is_ok_and(|f| f["type"] == "chat")), "{started:?}");

    // Two offers each, no more, and never the same chat twice.
    let mut offered = std::collections::HashSet::new();
    let mut anns = Vec::new();
    for (i, agent) in [&mut ann, &mut bob].into_iter().enumerate() {
        for _ in 0..2 {
            let offer = agent.expect("offer").await.unwrap();
            let id = offer["conversation"]["id"].as_i64().unwrap();
            assert!(offered.insert(id), "offered twice: {offer}");
            if i == 0 {
                anns.push(id);
            }
        }
    }
    let loads = state.store.agent_loads(&[ann_id, bob_id]).await.unwrap();
    assert_eq!((loads[&ann_id], loads[&bob_id]), (2, 2));

    // Ann accepts one and ends it: her freed slot goes to a chat that was still waiting.
    let mine = anns[0];
    let accepted = ann.request(json!({"type": "accept", "conversation_id": mine})).await.unwrap();
    assert_ne!(accepted["type"], "error", "{accepted}");
    let ended = ann.request(json!({"type": "end", "conversation_id": mine})).await.unwrap();
    assert_ne!(ended["type"], "error", "{ended}");
    let next = ann.wait_for("a new offer", |f| f["type"] == "offer").await.unwrap();
    assert!(offered.insert(next["conversation"]["id"].as_i64().unwrap()), "a chat offered again: {next}");
    let loads = state.store.agent_loads(&[ann_id, bob_id]).await.unwrap();
    assert_eq!((loads[&ann_id], loads[&bob_id]), (2, 2));
}
