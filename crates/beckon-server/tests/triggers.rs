//! No-code trigger rules running in the real server: an admin saves rules over HTTP, visitors'
//! page views, signals and the (manual) clock make them fire, the invite reaches the widget with
//! the rule's text, and the limits (frequency, dismissal cooldown, capacity) hold — each visible
//! in the "why" view and counted in the invite analytics.

use beckon_testkit::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Admin {
    http: reqwest::Client,
    cookie: String,
}

impl Admin {
    async fn new(app: &TestApp) -> Self {
        let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
        Self { http: reqwest::Client::new(), cookie }
    }
    async fn put_rules(&self, app: &TestApp, rules: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .put(app.http("/v1/admin/trigger-rules"))
            .header("cookie", &self.cookie)
            .json(&json!({ "rules": rules }))
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }
    async fn get(&self, app: &TestApp, path: &str) -> Value {
        let res = self.http.get(app.http(path)).header("cookie", &self.cookie).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }
    /// The verdict of rule `id` for the visitor in the "why" view.
    async fn verdict(&self, app: &TestApp, visitor: &Value, id: i64) -> Value {
        let why = self.get(app, &format!("/v1/agent/visitors/{visitor}/why")).await;
        let rule = why["rules"].as_array().unwrap().iter().find(|r| r["rule_id"] == id).cloned();
        rule.unwrap_or_else(|| panic!("rule {id} in {why}"))["verdict"].clone()
    }
}

/// Sends a signal and waits until the server has handled it (frames are handled in order, so
/// the reply to a ping that follows it means it is done).
async fn signal(v: &mut WsClient, frame: Value) {
    v.send(frame).await.unwrap();
    assert_eq!(v.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
}

fn page(url: &str) -> Value {
    json!({"url": url, "title": "Page", "referrer": ""})
}

fn pricing_rule() -> Value {
    json!({
        "id": 1,
        "name": "Pricing page for 20 s",
        "conditions": {"all": [
            {"page_url": {"op": "contains", "value": "/pricing"}},
            {"time_on_page": {"at_least_s": 20}}
        ]},
        "invite": {"message": "Questions about <b>pricing</b>?"},
        "limits": {"frequency": "once_per_page_view"}
    })
}

#[tokio::test]
async fn a_time_rule_fires_when_its_time_comes_and_respects_dismissals() {
    let app = spawn_app().await;
    let admin = Admin::new(&app).await;
    let _alex = app.available_agent().await;
    let (status, saved) = admin.put_rules(&app, json!([pricing_rule()])).await;
    assert_eq!(status, 200, "{saved}");

    let mut v = app.visitor().await;
    let welcome = v
        .hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": page("https://shop.example/pricing")}))
        .await
        .unwrap();
    let vid = welcome["visitor_id"].clone();
    let verdict = admin.verdict(&app, &vid, 1).await;
    assert_eq!(verdict["kind"], "no_match", "not 20 s yet: {verdict}");

    // A background tab does not count: 30 s hidden, then 19 s visible is still short.
    signal(&mut v, json!({"type": "activity", "visible": false})).await;
    app.advance(30_000);
    signal(&mut v, json!({"type": "activity", "visible": true})).await;
    app.advance(19_000);
    let verdict = admin.verdict(&app, &vid, 1).await;
    assert_eq!(verdict["kind"], "no_match", "{verdict}");
    app.advance(1_000);
    let invite = v.expect("invite").await.unwrap();
    assert_eq!(invite["message"], "Questions about <b>pricing</b>?", "the rule's text, as text");
    assert_eq!((invite["source"].as_str(), invite["expiry_ms"].as_i64()), (Some("rule:1"), Some(60_000)));
    let id = invite["invite_id"].as_str().unwrap().to_owned();

    // The visitor closes it: a later view of the page gets no new invite (cooldown).
    let outcome =
        |o: &str| json!({"type": "invite", "invite_id": id, "source": "sdk", "outcome": o, "message": "x"});
    assert_eq!(v.request(outcome("shown")).await.unwrap()["type"], "ok");
    assert_eq!(v.request(outcome("declined")).await.unwrap()["type"], "ok");
    app.advance(1_000);
    signal(&mut v, json!({"type": "page_view", "url": "https://shop.example/pricing", "title": "Pricing", "referrer": ""})).await;
    app.advance(25_000);
    let verdict = admin.verdict(&app, &vid, 1).await;
    assert_eq!(
        (verdict["kind"].as_str(), verdict["reason"]["code"].as_str()),
        (Some("suppressed"), Some("cooldown")),
        "{verdict}"
    );

    // The funnel counts the rule's offer, display and dismissal.
    let funnel = admin.get(&app, "/v1/admin/analytics/invites").await;
    let row = funnel["rows"].as_array().unwrap().iter().find(|r| r["source"] == "rule:1").cloned().unwrap();
    assert_eq!(
        (row["offered"].as_i64(), row["shown"].as_i64(), row["declined"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{row}"
    );
}

#[tokio::test]
async fn no_invite_when_no_agent_is_free_and_the_suppression_is_counted() {
    let app = spawn_app().await;
    let admin = Admin::new(&app).await;
    let rule = json!({
        "id": 7,
        "name": "Everyone",
        "conditions": {"all": []},
        "invite": {"message": "Hello!"}
    });
    assert_eq!(admin.put_rules(&app, json!([rule])).await.0, 200);
    // Nobody is available: the rule matches but is held back — and counted once the visitor is
    // stored, as it is when it does anything (here: asks whether an agent is free).
    let (mut v, welcome) = app.new_visitor().await;
    v.request(json!({"type": "get_availability"})).await.unwrap();
    let vid = welcome["visitor_id"].clone();
    let verdict = admin.verdict(&app, &vid, 7).await;
    assert_eq!(verdict["reason"]["code"], "no_free_agent", "{verdict}");
    let funnel = admin.get(&app, "/v1/admin/analytics/invites").await;
    let row = funnel["rows"].as_array().unwrap().iter().find(|r| r["source"] == "rule:7").cloned().unwrap();
    assert_eq!(row["suppressed"]["no_free_agent"], 1, "{row}");

    // An agent becomes available: the retry finds the free slot and invites.
    let _alex = app.available_agent().await;
    app.advance(10_000);
    let invite = v.expect("invite").await.unwrap();
    assert_eq!(invite["message"], "Hello!");
}

#[tokio::test]
async fn an_accepted_rule_invite_goes_to_the_rules_queue_and_none_come_while_chatting() {
    let app = spawn_app().await;
    let admin = Admin::new(&app).await;
    let res = admin
        .http
        .post(app.http("/v1/admin/queues"))
        .header("cookie", &admin.cookie)
        .json(&json!({"name": "Sales"}))
        .send()
        .await
        .unwrap();
    let sales = res.json::<Value>().await.unwrap()["queue"]["id"].clone();
    let rules = json!([
        {
            "id": 3,
            "name": "Case page",
            "conditions": {"all": [
                {"context": {"name": "Case Id", "op": "exists"}},
                {"event": {"name": "viewed-case"}}
            ]},
            "invite": {"message": "About case {context:Case Id}?", "queue_id": sales},
            "limits": {"require_free_agent": false, "frequency": "once_per_page_view"}
        }
    ]);
    let (status, body) = admin.put_rules(&app, rules).await;
    assert_eq!(status, 200, "{body}");
    let (mut v, _) = app.new_visitor().await;
    v.send(json!({"type": "set_context", "context": {"Case Id": {"value": "C-42", "isDisplayable": true}}}))
        .await
        .unwrap();
    v.send(json!({"type": "track", "name": "viewed-case", "data": {"x": 1}})).await.unwrap();
    let invite = v.expect("invite").await.unwrap();
    assert_eq!(invite["message"], "About case C-42?");
    let id = invite["invite_id"].as_str().unwrap();
    let chat = v
        .request(
            json!({"type": "start_chat", "proactive": true, "invite_id": id, "context": {"Case Id": "C-42"}}),
        )
        .await
        .unwrap();
    assert_eq!(chat["conversation"]["queue_id"], sales, "{chat}");
    assert_eq!(chat["conversation"]["proactive"], true);
    // While chatting, the same signals invite no one.
    v.send(json!({"type": "page_view", "url": "https://shop.example/case", "title": "Case", "referrer": ""}))
        .await
        .unwrap();
    v.send(json!({"type": "track", "name": "viewed-case"})).await.unwrap();
    let vid = chat["conversation"]["visitor_id"].clone();
    let verdict = admin.verdict(&app, &vid, 3).await;
    assert_eq!(verdict["reason"]["code"], "chatting", "{verdict}");
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_field_path_and_nothing_changes() {
    let app = spawn_app().await;
    let admin = Admin::new(&app).await;
    assert_eq!(admin.put_rules(&app, json!([pricing_rule()])).await.0, 200);
    let mut bad = pricing_rule();
    bad["conditions"]["all"][0]["page_url"] = json!({"op": "regex", "value": "("});
    let (status, body) = admin.put_rules(&app, json!([bad])).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_rule");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("rules[0].conditions.all[0].page_url"), "{message}");
    let (status, body) = admin.put_rules(&app, json!([pricing_rule(), pricing_rule()])).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("rules[1].id: 1 is used twice"))
    );
    let mut elsewhere = pricing_rule();
    elsewhere["invite"]["queue_id"] = json!(999);
    assert_eq!(admin.put_rules(&app, json!([elsewhere])).await.0, 400);
    // The saved rules are untouched.
    let saved = admin.get(&app, "/v1/admin/trigger-rules").await;
    assert_eq!(saved["rules"].as_array().unwrap().len(), 1);
    assert_eq!(saved["rules"][0]["name"], "Pricing page for 20 s");

    // The preview says who on the site now a draft would catch.
    let (_v, _) = app.visitor_at(&page("https://shop.example/pricing")).await;
    let (_w, _) = app.visitor_at(&page("https://shop.example/about")).await;
    let mut draft = pricing_rule();
    draft["conditions"] = json!({"page_url": {"op": "contains", "value": "/pricing"}});
    let res = admin
        .http
        .post(app.http("/v1/admin/trigger-rules/preview"))
        .header("cookie", &admin.cookie)
        .json(&json!({"rule": draft}))
        .send()
        .await
        .unwrap();
    let preview: Value = res.json().await.unwrap();
    assert_eq!(
        (preview["live_visitors"].as_i64(), preview["matching"].as_i64()),
        (Some(2), Some(1)),
        "{preview}"
    );
}

#[tokio::test]
async fn a_reconnecting_widget_keeps_its_time_on_the_page_and_is_not_another_page_view() {
    let app = spawn_app().await;
    let admin = Admin::new(&app).await;
    let mut rule = pricing_rule();
    rule["conditions"]["all"]
        .as_array_mut()
        .unwrap()
        .push(json!({"page_views_of_page": {"op": "eq", "value": 1}}));
    rule["limits"]["require_free_agent"] = json!(false);
    assert_eq!(admin.put_rules(&app, json!([rule])).await.0, 200);
    let at = page("https://shop.example/pricing");
    let mut v = app.visitor().await;
    let welcome = v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": at})).await.unwrap();
    let token = welcome["visitor_token"].clone();
    app.advance(15_000);
    // A visitor who stays is stored after 5 s even if it does nothing.
    app.wait_for_visitors_stored().await;
    // The socket drops (a network blip, a server restart); the widget comes back on the same page.
    v.drop_connection();
    app.wait_for_sessions(0).await;
    let mut v = app.visitor().await;
    let hello = json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "page": at, "reconnect": true});
    assert_eq!(v.hello(hello).await.unwrap()["type"], "welcome");
    // 15 s before + 5 s after = 20 s on the page, still its first view.
    app.advance(5_000);
    let invite = v.expect("invite").await.unwrap();
    assert_eq!(invite["source"], "rule:1");
}

#[tokio::test]
async fn an_invite_left_behind_on_the_previous_page_blocks_nothing() {
    let app = spawn_app().await;
    let admin = Admin::new(&app).await;
    let rule = json!({
        "id": 5,
        "name": "Every page",
        "conditions": {"all": []},
        "invite": {"message": "Hello again"},
        "limits": {"frequency": "once_per_page_view", "require_free_agent": false}
    });
    assert_eq!(admin.put_rules(&app, json!([rule])).await.0, 200);
    let (mut v, _) = app.visitor_at(&page("https://shop.example/a")).await;
    let first = v.expect("invite").await.unwrap();
    // The visitor follows a link before the widget could show it: the next page is free to invite.
    signal(
        &mut v,
        json!({"type": "page_view", "url": "https://shop.example/b", "title": "B", "referrer": ""}),
    )
    .await;
    let second = v.expect("invite").await.unwrap();
    assert_ne!(first["invite_id"], second["invite_id"]);
}
