//! The live visitors list and agent-initiated proactive invites: agents see who is on the site
//! and where, live; an agent invites a visitor; the invite's outcomes are recorded under the
//! agent's name even if the widget claims otherwise.

use beckon_domain::WidgetKey;
use beckon_testkit::*;
use serde_json::{Value, json};

fn is_visitor(f: &Value, id: &Value) -> bool {
    f["type"] == "visitor" && f["visitor"]["visitor_id"] == *id
}

#[tokio::test]
async fn agents_watch_visitors_live_and_invite_them() {
    let app = spawn_app().await;
    let (mut agent, _) = app.agent().await;
    let mut v = app.visitor().await;
    let page = json!({"url": "https://shop.example/surface", "title": "Surface Book", "referrer": ""});
    let welcome = v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": page})).await.unwrap();
    let vid = welcome["visitor_id"].clone();

    let arrived = agent.wait_for("arrival", |f| is_visitor(f, &vid)).await.unwrap();
    assert_eq!(arrived["visitor"]["page"]["title"], "Surface Book");
    assert_eq!(
        (arrived["visitor"]["tabs"].as_i64(), arrived["visitor"]["visit_number"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(arrived["visitor"]["conversation_id"].is_null());

    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let list: Value = app.get_json("/v1/agent/visitors", &cookie).await;
    assert_eq!(list["visitors"].as_array().unwrap().len(), 1);
    assert_eq!(list["visitors"][0]["visitor_id"], vid);

    v.send(json!({"type": "page_view", "url": "https://shop.example/support", "title": "Support", "referrer": ""})).await.unwrap();
    agent
        .wait_for("moved", |f| is_visitor(f, &vid) && f["visitor"]["page"]["title"] == "Support")
        .await
        .unwrap();

    // The agent invites; the visitor's widget gets the message exactly as typed.
    let sent = agent
        .request(json!({"type": "invite", "visitor_id": vid, "message": "<b>Need help</b> with Support?"}))
        .await
        .unwrap();
    assert_eq!(sent["type"], "invite_sent");
    let invite_id = sent["invite_id"].as_str().unwrap().to_owned();
    let shown = v.expect("invite").await.unwrap();
    assert_eq!(shown["invite_id"], invite_id.as_str());
    assert_eq!(shown["message"], "<b>Need help</b> with Support?");
    assert_eq!((shown["source"].as_str(), shown["expiry_ms"].as_i64()), (Some("agent:1"), Some(60_000)));

    // The widget reports outcomes; a wrong source claim does not relabel the agent's invite.
    for outcome in ["shown", "accepted"] {
        let ok = v
            .request(json!({"type": "invite", "invite_id": invite_id, "source": "sdk", "outcome": outcome, "message": "x"}))
            .await
            .unwrap();
        assert_eq!(ok["type"], "ok");
    }
    let accepted = agent
        .wait_for("accepted", |f| is_visitor(f, &vid) && f["visitor"]["last_invite"]["outcome"] == "accepted")
        .await
        .unwrap();
    assert_eq!(accepted["visitor"]["last_invite"]["source"], "agent:1");
    let chat =
        v.request(json!({"type": "start_chat", "proactive": true, "invite_id": invite_id})).await.unwrap();
    assert_eq!(chat["conversation"]["proactive"], true);
    agent
        .wait_for("chatting", |f| {
            is_visitor(f, &vid) && f["visitor"]["conversation_id"] == chat["conversation"]["id"]
        })
        .await
        .unwrap();

    let again =
        agent.request(json!({"type": "invite", "visitor_id": vid, "message": "Hello?"})).await.unwrap();
    assert_eq!(again["code"], "visitor_chatting");
    let nobody =
        agent.request(json!({"type": "invite", "visitor_id": 9999, "message": "Hello?"})).await.unwrap();
    assert_eq!(nobody["code"], "visitor_offline");
    let empty = agent.request(json!({"type": "invite", "visitor_id": vid, "message": "  "})).await.unwrap();
    assert_eq!(empty["code"], "invalid_field");

    // Everything was recorded, under the agent's name.
    let state = app.app.as_ref().unwrap().state();
    let widget =
        state.store.widget_by_key(&WidgetKey::parse(DEMO_WIDGET_KEY).unwrap()).await.unwrap().unwrap();
    let events = state.store.invite_events(widget.id).await.unwrap();
    let got: Vec<_> = events.iter().map(|e| (e.outcome.as_str(), e.source.as_str())).collect();
    assert_eq!(got, [("offered", "agent:1"), ("shown", "agent:1"), ("accepted", "agent:1")]);

    // The visitor leaves.
    v.drop_connection();
    let left = agent.expect("visitor_left").await.unwrap();
    assert_eq!(left["visitor_id"], vid);
}

#[tokio::test]
async fn a_visitor_with_two_tabs_is_one_live_visitor() {
    let app = spawn_app().await;
    let (mut agent, _) = app.agent().await;
    let (tab1, welcome) = app.new_visitor().await;
    let vid = welcome["visitor_id"].clone();
    let mut tab2 = app.visitor().await;
    tab2.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": welcome["visitor_token"]}))
        .await
        .unwrap();
    agent.wait_for("two tabs", |f| is_visitor(f, &vid) && f["visitor"]["tabs"] == 2).await.unwrap();
    tab1.drop_connection();
    agent.wait_for("one tab", |f| is_visitor(f, &vid) && f["visitor"]["tabs"] == 1).await.unwrap();
    tab2.drop_connection();
    agent.expect("visitor_left").await.unwrap();
}

#[tokio::test]
async fn admins_read_the_invite_funnel_as_json_and_csv() {
    let app = spawn_app().await;
    let mut alex = app.available_agent().await;
    let (mut v, _) = app.new_visitor().await;
    for outcome in ["shown", "accepted"] {
        v.request(json!({"type": "invite", "invite_id": "sdk-1", "source": "sdk", "outcome": outcome, "message": "Hi!"})).await.unwrap();
    }
    let chat =
        v.request(json!({"type": "start_chat", "proactive": true, "invite_id": "sdk-1"})).await.unwrap();
    alex.expect("offer").await.unwrap();
    alex.request(json!({"type": "accept", "conversation_id": chat["conversation"]["id"]})).await.unwrap();
    let (mut other, _) = app.new_visitor().await;
    other.request(json!({"type": "invite", "invite_id": "sdk-2", "source": "sdk", "outcome": "suppressed", "reason": "chat_active", "message": "Hi!"})).await.unwrap();

    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let http = reqwest::Client::new();
    let body: Value = http
        .get(app.http("/v1/admin/analytics/invites"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!((r["day"].as_str(), r["source"].as_str()), (Some("2026-01-01"), Some("sdk")));
    assert_eq!(
        (r["shown"].as_i64(), r["accepted"].as_i64(), r["conversations"].as_i64(), r["answered"].as_i64()),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert_eq!(r["suppressed"]["chat_active"], 1);
    assert_eq!(r["eligible"], 2, "shown, plus the one held back");
    assert_eq!(r["acceptance_rate"], 1.0);
    let csv = http
        .get(app.http("/v1/admin/analytics/invites?format=csv"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.text().await.unwrap(),
        "day,source,eligible,offered,shown,accepted,declined,expired,suppressed,conversations,answered\n2026-01-01,sdk,2,0,1,1,0,0,1,1,1\n"
    );

    // Agents without the admin role may not.
    let _sam = app.extra_agent("sam@demo.beckon", "Sam", 1).await;
    let sam = app.sign_in("sam@demo.beckon", "extra-agent-pw").await.unwrap();
    let denied =
        http.get(app.http("/v1/admin/analytics/invites")).header("cookie", sam).send().await.unwrap();
    assert_eq!(denied.status(), 403);
}

/// The agent invites the visitor and returns the invite's id once the widget has it.
async fn invite(agent: &mut WsClient, visitor: &mut WsClient, vid: &Value) -> String {
    let sent =
        agent.request(json!({"type": "invite", "visitor_id": vid, "message": "Can I help?"})).await.unwrap();
    assert_eq!(sent["type"], "invite_sent", "{sent}");
    let shown = visitor.expect("invite").await.unwrap();
    shown["invite_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_chat_from_an_agents_own_invite_is_theirs_at_once_unless_they_went_offline() {
    let app = spawn_app().await;
    let mut alex = app.available_agent().await;
    let (mut v, welcome) = app.new_visitor().await;
    let vid = welcome["visitor_id"].clone();
    alex.wait_for("arrival", |f| is_visitor(f, &vid)).await.unwrap();

    // Accepting Alex's invite: no offer for Alex to accept, no "waiting for an agent".
    let invite_id = invite(&mut alex, &mut v, &vid).await;
    let chat =
        v.request(json!({"type": "start_chat", "proactive": true, "invite_id": invite_id})).await.unwrap();
    let cid = chat["conversation"]["id"].clone();
    assert_eq!(chat["conversation"]["state"], "active", "{chat}");
    let joined = v
        .wait_for("joined", |f| {
            f["type"] == "message"
                && f["message"]["text"].as_str().is_some_and(|t| t.ends_with(" joined the chat."))
        })
        .await
        .unwrap();
    assert!(!joined["message"]["tags"].as_array().unwrap().iter().any(|t| t == "queueposition"));
    let mine =
        alex.wait_for("the chat", |f| f["type"] == "chat" && f["conversation"]["id"] == cid).await.unwrap();
    assert_eq!(mine["conversation"]["state"], "active");
    assert!(alex.take_pending().iter().all(|f| f["type"] != "offer"), "nothing to accept");
    let close = v.request(json!({"type": "close_chat"})).await.unwrap();
    assert_eq!(close["type"], "ok");

    // An inviter who went offline before the visitor accepted: the chat is routed as any other
    // (here to Sam, the one available agent).
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 3).await;
    let (mut v2, welcome) = app.new_visitor().await;
    let vid2 = welcome["visitor_id"].clone();
    alex.wait_for("arrival", |f| is_visitor(f, &vid2)).await.unwrap();
    let invite_id = invite(&mut alex, &mut v2, &vid2).await;
    let off = alex.request(json!({"type": "presence", "status": "offline"})).await.unwrap();
    assert_eq!(off["status"], "offline");
    let chat =
        v2.request(json!({"type": "start_chat", "proactive": true, "invite_id": invite_id})).await.unwrap();
    assert_eq!(chat["conversation"]["state"], "queued");
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], chat["conversation"]["id"]);
}
