//! Several nodes of one cluster in one test: each a real `Application`, sharing one database and
//! talking over a real NATS server (under a subject prefix of the test's own), with one manual
//! clock. What one node decides must hold for every node: chats across nodes, trigger rules saved
//! anywhere applying everywhere at once, one invite on a visitor's screen whichever nodes hold
//! their tabs, and an invite's queue known to the node the chat starts on.
//!
//! NATS must be running (127.0.0.1:4222, or `BECKON_TEST_NATS_URL`): these tests fail without it.

use beckon_testkit::*;
use serde_json::{Value, json};

async fn sign_in(node: &TestApp) -> String {
    node.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap()
}

async fn put_rules(node: &TestApp, cookie: &str, rules: Value) {
    let res = reqwest::Client::new()
        .put(node.http("/v1/admin/trigger-rules"))
        .header("cookie", cookie)
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_eq!(status, 200, "{}", res.text().await.unwrap());
}

async fn create_queue(node: &TestApp, cookie: &str, name: &str) -> Value {
    let res = reqwest::Client::new()
        .post(node.http("/v1/admin/queues"))
        .header("cookie", cookie)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["queue"]["id"].clone()
}

/// A rule inviting every visitor at once, free agent or not.
fn everyone(id: i64, extra_invite: Value) -> Value {
    let mut invite = json!({"message": format!("Hello from rule {id}")});
    invite.as_object_mut().unwrap().extend(extra_invite.as_object().unwrap().clone());
    json!({
        "id": id,
        "name": "Everyone",
        "conditions": {"all": []},
        "invite": invite,
        "limits": {"require_free_agent": false, "frequency": "once_per_page_view"}
    })
}

/// The invites the visitor's widget has been sent so far, in the tab's pending frames (after a
/// round trip, so everything the server sent before it is here).
async fn invites_so_far(tab: &mut WsClient) -> Vec<String> {
    assert_eq!(tab.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
    tab.take_pending()
        .into_iter()
        .filter(|f| f["type"] == "invite")
        .map(|f| f["invite_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_visitor_on_one_node_chats_with_an_agent_on_another() {
    let nodes = spawn_cluster(2, |_| {}).await;
    let mut agent = nodes[1].available_agent().await;
    let (mut visitor, _) = nodes[0].new_visitor().await;
    let chat = visitor.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].clone();
    let offer = agent.expect("offer").await.unwrap();
    assert_eq!(offer["conversation"]["id"], cid, "offered on the agent's node");
    let accepted = agent.request(json!({"type": "accept", "conversation_id": cid})).await.unwrap();
    assert_eq!(accepted["conversation"]["state"], "active");
    visitor
        .wait_for("active", |f| f["type"] == "chat" && f["conversation"]["state"] == "active")
        .await
        .unwrap();
    visitor.request(json!({"type": "send", "client_msg_id": "v1", "text": "From node 0"})).await.unwrap();
    agent.expect_message("From node 0").await.unwrap();
    agent
        .request(
            json!({"type": "send", "conversation_id": cid, "client_msg_id": "a1", "text": "From node 1"}),
        )
        .await
        .unwrap();
    visitor.expect_message("From node 1").await.unwrap();
}

#[tokio::test]
async fn rules_saved_on_one_node_apply_on_every_node_at_once() {
    let nodes = spawn_cluster(2, |_| {}).await;
    let cookie = sign_in(&nodes[1]).await;
    put_rules(&nodes[1], &cookie, json!([])).await;
    // The visitor's node reads (and caches) the rules: none.
    let (mut visitor, _) = nodes[0].new_visitor().await;
    assert!(invites_so_far(&mut visitor).await.is_empty());
    // Saved on the other node: the visitor is invited without doing anything.
    put_rules(&nodes[1], &cookie, json!([everyone(5, json!({}))])).await;
    let invite = visitor.expect("invite").await.unwrap();
    assert_eq!(invite["message"], "Hello from rule 5");
}

#[tokio::test]
async fn a_visitor_with_tabs_on_two_nodes_gets_one_invite_at_a_time() {
    let nodes = spawn_cluster(2, |_| {}).await;
    let cookie = sign_in(&nodes[0]).await;
    put_rules(&nodes[0], &cookie, json!([everyone(6, json!({}))])).await;
    let (mut first, welcome) = nodes[0].new_visitor().await;
    let token = welcome["visitor_token"].clone();
    first.expect("invite").await.unwrap();

    // The same visitor opens a tab served by the other node: that node's rules match too, but
    // the screen is taken by the first node's invite. (The other node evaluates the new tab
    // before it answers `hello`, and records an invite before that.)
    let mut second = nodes[1].visitor().await;
    second.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token})).await.unwrap();
    let funnel = nodes[1].get_json("/v1/admin/analytics/invites", &cookie).await;
    let row = funnel["rows"].as_array().unwrap().iter().find(|r| r["source"] == "rule:6").cloned().unwrap();
    assert_eq!(row["offered"], 1, "one invite for the cluster: {row}");
    assert_eq!(invites_so_far(&mut second).await, Vec::<String>::new(), "no second invite");
    assert_eq!(invites_so_far(&mut first).await, Vec::<String>::new(), "no second invite");
}

#[tokio::test]
async fn an_invite_sent_by_one_node_and_accepted_on_another_goes_to_the_rules_queue() {
    let nodes = spawn_cluster(2, |_| {}).await;
    let cookie = sign_in(&nodes[0]).await;
    let sales = create_queue(&nodes[0], &cookie, "Sales").await;
    put_rules(&nodes[0], &cookie, json!([everyone(8, json!({"queue_id": sales}))])).await;
    let (mut first, welcome) = nodes[0].new_visitor().await;
    let invite = first.expect("invite").await.unwrap();
    let id = invite["invite_id"].clone();
    // The widget reconnected to the other node (a deploy, a blip) before the visitor clicked.
    drop(first);
    let mut again = nodes[1].visitor().await;
    again
        .hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": welcome["visitor_token"]}))
        .await
        .unwrap();
    let chat =
        again.request(json!({"type": "start_chat", "proactive": true, "invite_id": id})).await.unwrap();
    assert_eq!(chat["conversation"]["queue_id"], sales, "{chat}");
}

#[tokio::test]
async fn time_on_the_page_goes_on_when_the_widget_reconnects_to_another_node() {
    let nodes = spawn_cluster(2, |_| {}).await;
    let cookie = sign_in(&nodes[0]).await;
    let rule = json!({
        "id": 9,
        "name": "Pricing for 20 s",
        "conditions": {"all": [
            {"page_url": {"op": "contains", "value": "/pricing"}},
            {"time_on_page": {"at_least_s": 20}},
            {"page_views_of_page": {"op": "eq", "value": 1}}
        ]},
        "invite": {"message": "Questions about pricing?"},
        "limits": {"require_free_agent": false, "frequency": "once_per_page_view"}
    });
    put_rules(&nodes[0], &cookie, json!([rule])).await;
    let at = json!({"url": "https://shop.example/pricing", "title": "Pricing", "referrer": ""});
    let mut v = nodes[0].visitor().await;
    let welcome = v.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": at})).await.unwrap();
    nodes[0].advance(15_000);
    nodes[0].wait_for_visitors_stored().await;
    // The node goes away (here: the socket drops) and the widget comes back through the balancer
    // to the other node, on the same page, having counted 15 s of it.
    v.drop_connection();
    nodes[0].wait_for_sessions(0).await;
    let mut at_again = at.clone();
    at_again["visible_ms"] = json!(15_000);
    let mut v = nodes[1].visitor().await;
    let hello = json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": welcome["visitor_token"], "page": at_again, "reconnect": true});
    assert_eq!(v.hello(hello).await.unwrap()["type"], "welcome");
    nodes[1].advance(4_999);
    assert!(invites_so_far(&mut v).await.is_empty(), "19.999 s on the page");
    nodes[1].advance(1);
    let invite = v.expect("invite").await.unwrap();
    assert_eq!(invite["source"], "rule:9", "20 s on the page, still its first view");
}

#[tokio::test]
async fn the_console_sees_explains_and_invites_visitors_on_every_node() {
    let nodes = spawn_cluster(3, |_| {}).await;
    let cookie = sign_in(&nodes[2]).await;
    let pricing = json!({
        "id": 4,
        "name": "Pricing for a minute",
        "conditions": {"all": [
            {"page_url": {"op": "contains", "value": "/pricing"}},
            {"time_on_page": {"at_least_s": 60}}
        ]},
        "invite": {"message": "Questions?"}
    });
    put_rules(&nodes[2], &cookie, json!([pricing])).await;
    let at =
        |path: &str| json!({"url": format!("https://shop.example{path}"), "title": "Page", "referrer": ""});
    let (mut on_0, w0) = nodes[0].visitor_at(&at("/pricing")).await;
    let (_on_1, w1) = nodes[1].visitor_at(&at("/about")).await;
    let (v0, v1) = (w0["visitor_id"].clone(), w1["visitor_id"].clone());

    // The list on the agent's node (which holds no visitor) has both.
    let list = nodes[2].get_json("/v1/agent/visitors", &cookie).await;
    let mut ids: Vec<Value> =
        list["visitors"].as_array().unwrap().iter().map(|v| v["visitor_id"].clone()).collect();
    ids.sort_by_key(|v| v.as_i64());
    let mut expected = vec![v0.clone(), v1.clone()];
    expected.sort_by_key(|v| v.as_i64());
    assert_eq!(ids, expected, "{list}");

    // The "why" view, from the node that holds the visitor.
    let why = nodes[2].get_json(&format!("/v1/agent/visitors/{v0}/why"), &cookie).await;
    assert_eq!(why["rules"][0]["rule_id"], 4, "{why}");
    assert_eq!(why["rules"][0]["verdict"]["kind"], "no_match", "{why}");

    // A draft's preview counts the visitors of every node.
    let res = reqwest::Client::new()
        .post(nodes[2].http("/v1/admin/trigger-rules/preview"))
        .header("cookie", &cookie)
        .json(&json!({"rule": {"id": 5, "name": "About", "conditions": {"page_url": {"op": "contains", "value": "/about"}}, "invite": {"message": "Hi"}}}))
        .send()
        .await
        .unwrap();
    let preview: Value = res.json().await.unwrap();
    assert_eq!(
        (preview["live_visitors"].as_i64(), preview["matching"].as_i64()),
        (Some(2), Some(1)),
        "{preview}"
    );

    // The agent invites the visitor on another node; the live list shows it.
    let (mut agent, _) = nodes[2].agent_with_cookie(&cookie).await;
    let sent =
        agent.request(json!({"type": "invite", "visitor_id": v0, "message": "Need help?"})).await.unwrap();
    assert_eq!(sent["type"], "invite_sent", "{sent}");
    let shown = on_0.expect("invite").await.unwrap();
    assert_eq!(shown["message"], "Need help?");
    agent
        .wait_for("invited", |f| {
            f["type"] == "visitor"
                && f["visitor"]["visitor_id"] == v0
                && f["visitor"]["last_invite"]["outcome"] == "offered"
        })
        .await
        .unwrap();
}
