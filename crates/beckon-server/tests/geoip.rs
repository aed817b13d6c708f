//! Countries from the real (CC0) GeoIP database, believing `X-Forwarded-For` only from trusted
//! proxies; only the place is stored, the address only when the admin turned retention on.

use beckon_testkit::*;
use serde_json::{Value, json};

async fn country_seen_by_agent(app: &TestApp, forwarded_for: &str) -> Value {
    visit_seen_by_agent(app, forwarded_for).await["country"].clone()
}

async fn visit_seen_by_agent(app: &TestApp, forwarded_for: &str) -> Value {
    visit_seen_with(app, &[("x-forwarded-for", forwarded_for)]).await
}

async fn visit_seen_with(app: &TestApp, headers: &[(&'static str, &str)]) -> Value {
    let mut agent = app.available_agent().await;
    let mut v = WsClient::connect_with_headers(&app.ws_url("/v1/visitor/ws"), headers).await.unwrap();
    v.hello(json!({"widget_id": DEMO_WIDGET_KEY})).await.unwrap();
    let chat = v.request(json!({"type": "start_chat"})).await.unwrap();
    let cid = chat["conversation"]["id"].as_i64().unwrap();
    agent.expect("offer").await.unwrap();
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let panel: Value = app.get_json(&format!("/v1/agent/conversations/{cid}/visitor"), &cookie).await;
    panel["visit"].clone()
}

#[tokio::test]
async fn the_country_comes_from_the_forwarded_address_of_a_trusted_proxy_only() {
    let Some(db) = geoip_database() else { return };
    // The tests connect from 127.0.0.1: as a trusted proxy, its X-Forwarded-For is believed.
    let behind_proxy = spawn_app_with(|s| {
        s.geoip_database = Some(db.clone());
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(country_seen_by_agent(&behind_proxy, "8.8.8.8").await, "US");

    // Without trusting the peer, the header is the visitor's own claim and is ignored; the
    // peer (loopback) has no country.
    let direct = spawn_app_with(|s| s.geoip_database = Some(db.clone())).await;
    assert_eq!(country_seen_by_agent(&direct, "8.8.8.8").await, Value::Null);

    // And with no database at all, no country.
    let none = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    assert_eq!(country_seen_by_agent(&none, "8.8.8.8").await, Value::Null);
}

#[tokio::test]
async fn the_address_is_stored_only_when_the_admin_keeps_addresses() {
    let trusting =
        |s: &mut beckon_server::config::Settings| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let default = spawn_app_with(trusting).await;
    let visit = visit_seen_by_agent(&default, "203.0.113.9").await;
    assert!(visit.get("ip").is_none(), "no address kept by default: {visit}");
    let keeping = spawn_app_with(|s| {
        trusting(s);
        s.retain_visitor_ip = true;
    })
    .await;
    assert_eq!(visit_seen_by_agent(&keeping, "203.0.113.9").await["ip"], "203.0.113.9");
}

/// `beckon demo` out of the box: its built-in database, and a visitor on the server's own machine
/// borrowing a sample address with the demo page's cookie (demo/visit_from.rs). Never outside
/// the demo.
#[cfg(feature = "demo-geoip")]
#[tokio::test]
async fn the_demo_places_a_local_visitor_by_the_address_its_page_borrowed() {
    let demo = spawn_app_with(|s| s.demo = true).await;
    let india = [("cookie", "theme=dark; beckon_demo_ip=49.36.0.1")];
    assert_eq!(visit_seen_with(&demo, &india).await["country"], "IN");
    assert_eq!(visit_seen_with(&demo, &[]).await["country"], Value::Null, "127.0.0.1 is in no country");
    // A private address cannot be borrowed.
    assert_eq!(
        visit_seen_with(&demo, &[("cookie", "beckon_demo_ip=10.0.0.1")]).await["country"],
        Value::Null
    );
    // `beckon serve`: the cookie means nothing, and there is no built-in database.
    let serve = spawn_app().await;
    assert_eq!(visit_seen_with(&serve, &india).await["country"], Value::Null);
}

/// A visitor the trigger rules already follow (a tab still open) who connects again from another
/// place is judged by the new connection's country (the demo's "Visiting from" switch reloads
/// the page, as a visitor changing networks would).
#[cfg(feature = "demo-geoip")]
#[tokio::test]
async fn the_rules_follow_the_country_of_the_newest_connection() {
    let demo = spawn_app_with(|s| s.demo = true).await;
    let admin = demo.admin_http().await;
    let page = json!({"url": "https://shop.example/demo/no-code/scenario-6.html", "title": "India"});
    let mut first = demo.visitor().await;
    let welcome = first.hello(json!({"widget_id": DEMO_WIDGET_KEY, "page": page})).await.unwrap();
    first.request(json!({"type": "ping"})).await.unwrap();
    let (token, visitor) = (welcome["visitor_token"].as_str().unwrap(), welcome["visitor_id"].clone());
    let country = |why: &Value| {
        let rule = why["rules"].as_array().unwrap().iter().find(|r| r["rule_id"] == 16).unwrap().clone();
        rule["conditions"]["children"][1]["observed"].clone()
    };
    let (_, why) = admin.get(&format!("/v1/agent/visitors/{visitor}/why")).await;
    assert_eq!(country(&why), "unknown", "{why}");
    let mut second = WsClient::connect_with_headers(
        &demo.ws_url("/v1/visitor/ws"),
        &[("cookie", "beckon_demo_ip=49.36.0.1")],
    )
    .await
    .unwrap();
    second.hello(json!({"widget_id": DEMO_WIDGET_KEY, "visitor_token": token, "page": page})).await.unwrap();
    second.expect("invite").await.unwrap();
    let (_, why) = admin.get(&format!("/v1/agent/visitors/{visitor}/why")).await;
    assert_eq!(country(&why), "IN", "{why}");
}

/// The rule editor warns that country conditions never hold when the server resolves no
/// countries: `geoip_enabled` says whether it does.
#[tokio::test]
async fn the_rule_editor_is_told_whether_countries_are_resolved() {
    let enabled = |app: TestApp| async move {
        let (status, body) = app.admin_http().await.get("/v1/admin/trigger-rules").await;
        assert_eq!(status, 200);
        body["geoip_enabled"].clone()
    };
    assert_eq!(enabled(spawn_app().await).await, false);
    if cfg!(feature = "demo-geoip") {
        assert_eq!(enabled(spawn_app_with(|s| s.demo = true).await).await, true);
    }
    if let Some(db) = geoip_database() {
        assert_eq!(enabled(spawn_app_with(|s| s.geoip_database = Some(db)).await).await, true);
    }
}
