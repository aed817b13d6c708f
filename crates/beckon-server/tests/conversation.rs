//! A whole conversation through the real server: a visitor starts a proactive chat with context,
//! the available agent is offered it, accepts, both sides chat and type, the agent ends it.

use beckon_testkit::*;
use serde_json::json;

#[tokio::test]
async fn visitor_and_agent_hold_a_whole_conversation() {
    let app = spawn_app().await;
    let mut agent = app.available_agent().await;
    let (mut visitor, welcome) = app.new_visitor().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["visit_number"], 1);
    assert!(welcome["conversation"].is_null());
    assert_eq!(welcome["widget"]["invite_expiry_ms"], 60_000);
    assert!(welcome["visitor_token"].as_str().unwrap().len() >= 43);

    let context = json!({
        "Proactive Chat": {"value": "True", "isDisplayable": true},
        "Time On Page": {"value": 20000, "isDisplayable": true},
        "Secret": "hidden",
    });
    let chat =
        visitor.request(json!({"type": "start_chat", "proactive": true, "context": context})).await.unwrap();
    assert_eq!(chat["type"], "chat");
    assert_eq!(chat["existing"], false);
    assert_eq!(chat["conversation"]["state"], "queued");
    assert_eq!(chat["conversation"]["proactive"], true);
    let cid = chat["conversation"]["id"].as_i64().unwrap();

    // The agent is offered the conversation, context and all; a bare value is normalised to a
    // non-displayable variable.
    let offer = agent.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
    let mut expected = context.clone();
    expected["Secret"] = json!({"value": "hidden", "isDisplayable": false});
    assert_eq!(offer["conversation"]["context"], expected);
    assert_eq!(offer["conversation"]["proactive"], true);

    // Starting again returns the same open conversation: one per visitor.
    let again = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!((again["existing"].as_bool(), again["conversation"]["id"].as_i64()), (Some(true), Some(cid)));

    let accepted = agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert_eq!(accepted["conversation"]["state"], "active");
    assert_eq!(accepted["conversation"]["agent"]["name"], "Alex (demo agent)");
    let joined = visitor
        .wait_for("agentaccepted", |f| f["type"] == "message" && f["message"]["tags"][0] == "agentaccepted")
        .await
        .unwrap();
    assert_eq!(joined["message"]["text"], "Alex (demo agent) joined the chat.");
    assert_eq!(joined["message"]["seq"], 1);
    let state = visitor
        .wait_for("active chat", |f| f["type"] == "chat" && f["conversation"]["state"] == "active")
        .await
        .unwrap();
    assert_eq!(state["conversation"]["agent"]["name"], "Alex (demo agent)");

    // Visitor → agent.
    let ack = visitor
        .request(json!({"type": "send", "client_msg_id": "v1", "text": "My Surface Book is broken"}))
        .await
        .unwrap();
    assert_eq!(
        (ack["type"].as_str(), ack["seq"].as_i64(), ack["duplicate"].as_bool()),
        (Some("ack"), Some(2), Some(false))
    );
    let got = agent.expect_message("My Surface Book is broken").await.unwrap();
    assert_eq!(got["message"]["sender"]["kind"], "visitor");
    assert_eq!(got["message"]["seq"], 2);

    // Typing, both ways, reaches only the other side.
    visitor.send(json!({"type": "typing", "typing": true})).await.unwrap();
    let t = agent.expect("typing").await.unwrap();
    assert_eq!((t["from"].as_str(), t["typing"].as_bool()), (Some("visitor"), Some(true)));
    agent.send(json!({"type": "typing", "conversation_id": cid, "typing": true})).await.unwrap();
    let t = visitor.expect("typing").await.unwrap();
    assert_eq!(t["from"], "agent");

    // Agent → visitor; markup is carried as text, untouched.
    let ack = agent.request(json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "<b>Sorry</b> to hear that"})).await.unwrap();
    assert_eq!(ack["seq"], 3);
    let got = visitor.expect_message("<b>Sorry</b> to hear that").await.unwrap();
    assert_eq!(got["message"]["sender"]["name"], "Alex (demo agent)");

    // The accepting console got the "joined" message live too.
    let own_join = agent
        .wait_for("joined (agent)", |f| f["type"] == "message" && f["message"]["seq"] == 1)
        .await
        .unwrap();
    assert_eq!(own_join["message"]["tags"][0], "agentaccepted");

    // The agent ends the chat; the visitor is told, and can start a new one later.
    let ok = agent.request(json!({"type": "end", "conversation_id": cid})).await.unwrap();
    assert_eq!(ok["type"], "ok");
    // The ending console sees the closing message and the ended conversation too.
    agent
        .wait_for("ended message (agent)", |f| {
            f["type"] == "message" && f["message"]["tags"][0] == "conversationended"
        })
        .await
        .unwrap();
    agent
        .wait_for("ended chat (agent)", |f| f["type"] == "chat" && f["conversation"]["state"] == "ended")
        .await
        .unwrap();
    let ended = visitor
        .wait_for("ended message", |f| {
            f["type"] == "message" && f["message"]["tags"][0] == "conversationended"
        })
        .await
        .unwrap();
    assert_eq!(ended["message"]["text"], "Alex (demo agent) ended the chat.");
    visitor
        .wait_for("ended chat", |f| f["type"] == "chat" && f["conversation"]["state"] == "ended")
        .await
        .unwrap();
    let late =
        visitor.request(json!({"type": "send", "client_msg_id": "v2", "text": "hello?"})).await.unwrap();
    assert_eq!(late["code"], "no_open_conversation");
    let next = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    assert_eq!(next["existing"], false);
    assert_ne!(next["conversation"]["id"], cid);
}

#[tokio::test]
async fn a_conversation_waits_for_an_agent_and_a_visitor_who_leaves_abandons_it() {
    let app = spawn_app().await;
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    // No agent is available yet: the conversation waits. An agent who becomes available gets it.
    let (mut agent, welcome) = app.agent().await;
    assert_eq!(welcome["presence"], "offline");
    assert_eq!(welcome["conversations"], json!([]));
    agent.send(json!({"type": "presence", "status": "available"})).await.unwrap();
    let offer = agent.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
    // The visitor gives up before anyone answers.
    let ok = visitor.request(json!({"type": "close_chat"})).await.unwrap();
    assert_eq!(ok["type"], "ok");
    let gone =
        agent.wait_for("withdrawn", |f| f["type"] == "chat" && f["conversation"]["id"] == cid).await.unwrap();
    assert_eq!(gone["conversation"]["state"], "abandoned");
    let late = agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert_eq!(late["code"], "offer_gone");
}

#[tokio::test]
async fn a_declined_offer_is_not_offered_to_the_same_agent_again() {
    let app = spawn_app().await;
    let mut agent = app.available_agent().await;
    let (mut visitor, _) = app.new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    agent.expect("offer").await.unwrap();
    let ok = agent.request(json!({"type": "reject", "conversation_id": cid})).await.unwrap();
    assert_eq!(ok["type"], "ok");
    // Another visitor's chat is still offered to this agent (capacity was freed).
    let (mut other, _) = app.new_visitor().await;
    let chat2 = other.request(json!({"type": "start_chat"})).await.unwrap();
    let offer = agent.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], chat2["conversation"]["id"]);
}

#[tokio::test]
async fn a_second_tab_sees_the_same_conversation_and_messages() {
    let app = spawn_app().await;
    let (mut tab1, welcome) = app.new_visitor().await;
    let token = welcome["visitor_token"].as_str().unwrap().to_owned();
    let mut tab2 = app.visitor().await;
    let w2 = tab2.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token})).await.unwrap();
    assert_eq!(w2["visitor_id"], welcome["visitor_id"]);
    let chat = tab1.request(json!({"type": "start_chat"})).await.unwrap();
    let pushed = tab2.expect("chat").await.unwrap();
    assert_eq!(pushed["conversation"]["id"], chat["conversation"]["id"]);
    tab1.request(json!({"type": "send", "client_msg_id": "t1", "text": "from tab one"})).await.unwrap();
    tab2.expect_message("from tab one").await.unwrap();
}

#[tokio::test]
async fn agents_sign_in_with_a_cookie_and_the_api_answers_in_json() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let health: serde_json::Value =
        http.get(app.http("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");

    let bad = http
        .post(app.http("/v1/agent/login"))
        .json(&json!({"email": DEMO_AGENT_EMAIL, "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let unknown = http
        .post(app.http("/v1/agent/login"))
        .json(&json!({"email": "who@x.test", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);

    let anon = http.get(app.http("/v1/agent/me")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    assert_eq!(anon.json::<serde_json::Value>().await.unwrap()["error"]["code"], "unauthenticated");
    let no_cookie = WsClient::connect(&app.ws_url("/v1/agent/ws"), None).await;
    assert!(no_cookie.is_err(), "the agent socket needs a session");

    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let me: serde_json::Value = http
        .get(app.http("/v1/agent/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["agent"]["email"], DEMO_AGENT_EMAIL);
    assert_eq!(me["agent"]["role"], "admin");
    assert!(me["agent"].get("password_hash").is_none());

    let out = http.post(app.http("/v1/agent/logout")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(out.status(), 204);
    let after = http.get(app.http("/v1/agent/me")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(after.status(), 401, "the session is gone on the server, not just the cookie");
}

#[tokio::test]
async fn the_agent_sees_who_the_visitor_is_and_what_they_browsed() {
    let app = spawn_app().await;
    let mut agent = app.available_agent().await;
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    let mut v = WsClient::connect_with_headers(
        &app.ws_url("/v1/visitor/ws"),
        &[("user-agent", ua), ("accept-language", "fr-FR,fr;q=0.9")],
    )
    .await
    .unwrap();
    let page = |url: &str, title: &str| json!({"url": url, "title": title, "referrer": "https://www.contoso.com/FAQ"});
    v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": page("https://shop.example/", "Home")}))
        .await
        .unwrap();
    for (url, title) in
        [("https://shop.example/surface", "Surface Book"), ("https://shop.example/support", "Support")]
    {
        let mut frame = page(url, title);
        frame["type"] = json!("page_view");
        v.send(frame).await.unwrap();
    }
    v.request(json!({"type": "ping"})).await.unwrap(); // the page views before it are processed
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    agent.expect("offer").await.unwrap();

    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let panel: serde_json::Value =
        app.get_json(&format!("/v1/agent/conversations/{cid}/visitor"), &cookie).await;
    let titles: Vec<_> =
        panel["pages"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Home", "Surface Book", "Support"]);
    assert_eq!(panel["current_page"]["url"], "https://shop.example/support");
    assert_eq!(panel["visit"]["number"], 1);
    assert_eq!(panel["visit"]["browser"], "Chrome 126");
    assert_eq!(panel["visit"]["os"], "Windows 10");
    assert_eq!(panel["visit"]["device"], "desktop");
    assert_eq!(panel["visit"]["language"], "fr-FR");
    assert_eq!(
        (panel["visitor"]["visits"].as_i64(), panel["visitor"]["conversations"].as_i64()),
        (Some(1), Some(1))
    );

    let missing = reqwest::Client::new()
        .get(app.http("/v1/agent/conversations/999/visitor"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn availability_follows_agent_presence_and_the_queue() {
    let app = spawn_app().await;
    let (mut first, _) = app.new_visitor().await;
    let a = first.request(json!({"type": "get_availability"})).await.unwrap();
    assert_eq!(a["type"], "availability");
    assert_eq!(
        (a["is_agent_available"].as_bool(), a["is_queue_available"].as_bool()),
        (Some(false), Some(true))
    );
    assert!(a["queue_id"].is_i64());
    assert!(a["position_in_queue"].is_null() && a["average_wait_time_s"].is_null());

    // Two visitors wait while nobody is available.
    first.request(json!({"type": "start_chat"})).await.unwrap();
    let (mut second, _) = app.new_visitor().await;
    second.request(json!({"type": "start_chat"})).await.unwrap();
    let a = second.request(json!({"type": "get_availability"})).await.unwrap();
    assert_eq!(a["position_in_queue"], 2);

    // The agent comes online and takes the first chat 30 s after it started.
    let mut agent = app.available_agent().await;
    let offer = agent.expect("offer").await.unwrap();
    app.clock.advance_millis(30_000);
    agent.request(json!({"type": "accept", "conversation_id": offer["conversation"]["id"]})).await.unwrap();
    let a = second.request(json!({"type": "get_availability"})).await.unwrap();
    assert_eq!(a["position_in_queue"], 1);
    assert_eq!(a["average_wait_time_s"], 30);
    assert_eq!(a["is_agent_available"], true, "the demo agent has capacity 3");
}

#[tokio::test]
async fn an_agent_transfers_a_chat_to_a_colleague_with_a_note_the_visitor_never_sees() {
    let app = spawn_app().await;
    let mut alex = app.available_agent().await;
    let (mut v, welcome) = app.new_visitor().await;
    let token = welcome["visitor_token"].clone();
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    alex.expect("offer").await.unwrap();
    alex.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    v.request(json!({"type": "send", "client_msg_id": "q", "text": "I want a refund"})).await.unwrap();
    // Sam joins later; new chats would go to Sam now (more free capacity), but this one is Alex's.
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 5).await;

    let bad = alex.request(json!({"type": "transfer", "conversation_id": cid})).await.unwrap();
    assert_eq!(bad["code"], "invalid_field");
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let dir: serde_json::Value = app.get_json("/v1/agent/directory", &cookie).await;
    let sam_entry = dir["agents"].as_array().unwrap().iter().find(|a| a["name"] == "Sam").unwrap().clone();
    assert_eq!(sam_entry["presence"], "available");
    assert_eq!(dir["queues"][0]["name"], "General");

    let ok = alex
        .request(json!({"type": "transfer", "conversation_id": cid, "agent_id": sam_entry["id"], "note": "Refund for order 1234, already approved"}))
        .await
        .unwrap();
    assert_eq!(ok["type"], "ok");
    // Alex lets go of it.
    alex.wait_for("handed over", |f| f["type"] == "chat" && f["conversation"]["state"] == "transferred")
        .await
        .unwrap();
    // Sam is offered it and, after accepting, reads the whole history including the note.
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(
        (offer["conversation"]["id"].as_i64(), offer["conversation"]["state"].as_str()),
        (Some(cid), Some("transferred"))
    );
    sam.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    sam.request(json!({"type": "sync", "conversation_id": cid, "after_seq": 0})).await.unwrap();
    sam.expect_message("Refund for order 1234, already approved").await.unwrap();
    sam.expect_message("I want a refund").await.unwrap();
    // The visitor is told about the transfer and the new agent, never the note.
    v.wait_for("transferred", |f| f["type"] == "message" && f["message"]["tags"][1] == "transferred")
        .await
        .unwrap();
    let joined = v
        .wait_for("Sam joined", |f| f["type"] == "message" && f["message"]["text"] == "Sam joined the chat.")
        .await
        .unwrap();
    // A reconnecting widget replays the conversation: without the note.
    let mut again = app.visitor().await;
    again.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "last_seq": 0})).await.unwrap();
    again.send(json!({"type": "ping"})).await.unwrap();
    let mut texts = Vec::new();
    loop {
        let f = again.next_frame().await.unwrap().unwrap();
        match f["type"].as_str() {
            Some("pong") => break,
            Some("message") => texts.push(f["message"]["text"].as_str().unwrap().to_owned()),
            _ => {}
        }
    }
    assert!(texts.iter().all(|t| !t.contains("order 1234")), "{texts:?}");
    assert!(texts.iter().any(|t| t == "I want a refund"));
    assert!(joined["message"]["seq"].as_i64().unwrap() > 3);
    // Alex cannot write to it any more; Sam can.
    let f = alex
        .request(json!({"type": "send", "conversation_id": cid, "client_msg_id": "x", "text": "hi"}))
        .await
        .unwrap();
    assert_eq!(f["code"], "not_your_conversation");
    let f = sam
        .request(
            json!({"type": "send", "conversation_id": cid, "client_msg_id": "s1", "text": "Refund done"}),
        )
        .await
        .unwrap();
    assert_eq!(f["type"], "ack");
}

#[tokio::test]
async fn an_offer_nobody_accepts_in_time_moves_to_the_next_agent() {
    let app = spawn_app().await;
    let mut alex = app.available_agent().await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    alex.expect("offer").await.unwrap();
    // Sam comes online; the chat is still Alex's offer.
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    app.advance(29_000);
    let pong = sam.request(json!({"type": "ping"})).await.unwrap();
    assert_eq!(pong["type"], "pong", "nothing for Sam before the timeout");
    // 30 s after the offer, Alex has not answered: it goes to Sam, and Alex sees it withdrawn.
    app.advance(1_000);
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
    let gone =
        alex.wait_for("withdrawn", |f| f["type"] == "chat" && f["conversation"]["id"] == cid).await.unwrap();
    assert_ne!(gone["conversation"]["offered_agent_id"], json!(1), "no longer offered to Alex (agent 1)");
    let late = alex.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert_eq!(late["code"], "offer_gone");
    let ok = sam.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert_eq!(ok["conversation"]["agent"]["name"], "Sam");
    // Sam's accepted chat does not time out.
    app.advance(60_000);
    let ack = sam
        .request(
            json!({"type": "send", "conversation_id": cid, "client_msg_id": "s", "text": "Hi, Sam here"}),
        )
        .await
        .unwrap();
    assert_eq!(ack["type"], "ack");
}

#[tokio::test]
async fn agents_search_their_history_and_admins_everyones() {
    let app = spawn_app().await;
    let mut alex = app.available_agent().await;
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    alex.expect("offer").await.unwrap();
    alex.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    v.request(json!({"type": "send", "client_msg_id": "m", "text": "Where is my Surface Pen?"}))
        .await
        .unwrap();
    alex.request(json!({"type": "end", "conversation_id": cid})).await.unwrap();

    let http = reqwest::Client::new();
    let admin = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let get = |cookie: String, query: &'static str| {
        let (http, url) = (http.clone(), app.http(&format!("/v1/agent/conversations{query}")));
        async move { http.get(url).header("cookie", cookie).send().await.unwrap() }
    };
    let found: serde_json::Value = get(admin.clone(), "?q=surface%20pen").await.json().await.unwrap();
    let list = found["conversations"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0]["id"].as_i64(), list[0]["state"].as_str()), (Some(cid), Some("ended")));
    assert_eq!(list[0]["agent_name"], "Alex (demo agent)");
    let none: serde_json::Value = get(admin.clone(), "?q=keyboard").await.json().await.unwrap();
    assert!(none["conversations"].as_array().unwrap().is_empty());
    let bad = get(admin.clone(), "?state=sleeping").await;
    assert_eq!(bad.status(), 400);

    // A plain agent who never handled it does not see it; its transcript stays closed to them.
    let _sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    let sam = app.sign_in("sam@demo.beckon", "extra-agent-pw").await.unwrap();
    let theirs: serde_json::Value = get(sam.clone(), "").await.json().await.unwrap();
    assert!(theirs["conversations"].as_array().unwrap().is_empty());
    let transcript = http
        .get(app.http(&format!("/v1/agent/conversations/{cid}/messages")))
        .header("cookie", sam)
        .send()
        .await
        .unwrap();
    assert_eq!(transcript.status(), 404);
    let transcript: serde_json::Value = http
        .get(app.http(&format!("/v1/agent/conversations/{cid}/messages")))
        .header("cookie", admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        transcript["messages"].as_array().unwrap().iter().any(|m| m["text"] == "Where is my Surface Pen?")
    );
}

#[tokio::test]
async fn a_console_reload_keeps_the_agents_offers_and_closing_it_hands_them_on() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let (mut console, _) = app.agent_with_cookie(&cookie).await;
    console.request(json!({"type": "presence", "status": "available"})).await.unwrap();
    let (mut v, _) = app.new_visitor().await;
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].clone();
    console.expect("offer").await.unwrap();

    // Reload: the socket closes and a new one opens within the grace period.
    console.drop_connection();
    app.wait_for_sessions(1).await; // the visitor's socket only
    app.advance(5_000);
    let (console, welcome) = app.agent_with_cookie(&cookie).await;
    assert_eq!(welcome["presence"], "available");
    assert_eq!(welcome["conversations"][0]["id"], cid, "the offer is still this agent's");
    assert_eq!(welcome["conversations"][0]["offered_agent_id"], welcome["agent"]["id"]);

    // Closing the console for good: after the grace period the agent is offline and the offer
    // goes to a colleague.
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    console.drop_connection();
    app.wait_for_sessions(2).await; // the visitor's and Sam's
    app.advance(14_000);
    let pong = sam.request(json!({"type": "ping"})).await.unwrap();
    assert_eq!(pong["type"], "pong", "still within the grace period");
    app.advance(1_000);
    let offer = sam.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid);
}

#[tokio::test]
async fn colleagues_see_an_agents_presence_change_live() {
    let app = spawn_app().await;
    let (mut admin, welcome) = app.agent().await;
    let admin_id = welcome["agent"]["id"].clone();
    let mut sam = app.extra_agent("sam@demo.beckon", "Sam", 2).await;
    let came = admin.expect("agent_presence").await.unwrap();
    let sam_id = came["agent_id"].clone();
    assert_eq!(came["status"], "available");
    assert_ne!(sam_id, admin_id);

    sam.request(json!({"type": "presence", "status": "away"})).await.unwrap();
    let away = admin.expect("agent_presence").await.unwrap();
    assert_eq!((&away["agent_id"], away["status"].as_str()), (&sam_id, Some("away")));

    // An agent's own consoles hear of their own changes as `presence`, never as a colleague's:
    // the first `agent_presence` Sam gets is about the admin.
    admin.request(json!({"type": "presence", "status": "busy"})).await.unwrap();
    let heard = sam.expect("agent_presence").await.unwrap();
    assert_eq!((&heard["agent_id"], heard["status"].as_str()), (&admin_id, Some("busy")));

    // Sam closes the console: offline for the colleagues once the grace period is over.
    sam.drop_connection();
    app.wait_for_sessions(1).await;
    app.advance(15_000);
    let gone = admin.expect("agent_presence").await.unwrap();
    assert_eq!((&gone["agent_id"], gone["status"].as_str()), (&sam_id, Some("offline")));
}
