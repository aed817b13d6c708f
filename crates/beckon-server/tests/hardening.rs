//! The smaller holes an attacker's tour found: response headers, what `/healthz` tells anyone,
//! the console's CSP, inputs that used to overflow or fail with a 500, origins that are not origins.

use beckon_testkit::*;
use serde_json::{Value, json};

#[tokio::test]
async fn api_answers_are_never_cached_or_sniffed() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let http = reqwest::Client::new();
    for path in ["/v1/agent/me", "/v1/admin/agents", "/healthz", "/v1/agent/conversations/999/messages"] {
        let res = http.get(app.http(path)).header("cookie", &cookie).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{path}");
        assert_eq!(h.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
    // Static files keep their own caching, and are not sniffed either.
    let res = http.get(app.http("/widget.js")).send().await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["cache-control"].to_str().unwrap().starts_with("public"));
}

#[tokio::test]
async fn healthz_tells_anyone_only_that_the_server_is_up() {
    let app = spawn_app().await;
    let _visitor = app.new_visitor().await;
    let body: Value = reqwest::get(app.http("/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn the_console_may_connect_only_to_its_own_server() {
    let app = spawn_app().await;
    let res = reqwest::get(app.http("/console")).await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let connect = csp.split(';').map(str::trim).find(|d| d.starts_with("connect-src")).unwrap();
    let host = app.addr.to_string();
    assert_eq!(connect, format!("connect-src 'self' ws://{host} wss://{host}"));
}

#[tokio::test]
async fn analytics_dates_at_the_ends_of_the_number_range_are_refused_not_overflowed() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let http = reqwest::Client::new();
    for query in [
        format!("from={}", i64::MIN),
        format!("to={}", i64::MIN),
        format!("from={}&to={}", i64::MIN, i64::MAX),
        format!("to={}", i64::MAX),
        "from=5&to=4".to_owned(),
    ] {
        let res = http
            .get(app.http(&format!("/v1/admin/analytics/invites?{query}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_field")), "{query}: {body}");
    }
}

#[tokio::test]
async fn a_control_character_in_a_history_search_is_a_clear_400() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    for query in ["q=a%00b", "visitor=%00", "q=%1b"] {
        let res = reqwest::Client::new()
            .get(app.http(&format!("/v1/agent/conversations?{query}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 400, "{query}");
    }
    assert!(app.get_json("/v1/agent/conversations?q=ordinary", &cookie).await["conversations"].is_array());
}

#[tokio::test]
async fn widget_origins_must_be_real_origins() {
    let app = spawn_app().await;
    let cookie = app.sign_in(DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD).await.unwrap();
    let widgets = app.get_json("/v1/admin/widgets", &cookie).await;
    let id = widgets["widgets"][0]["id"].as_i64().unwrap();
    let patch = |origins: Value| {
        let url = app.http(&format!("/v1/admin/widgets/{id}"));
        let cookie = cookie.clone();
        async move {
            let res = reqwest::Client::new()
                .patch(url)
                .header("cookie", cookie)
                .json(&json!({"allowed_origins": origins}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    for bad in ["http://-", "https://shop.example:99999", "https://shop..example", "http://1.2.3.999"] {
        let (status, body) = patch(json!([bad])).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("allowed_origins[0]: "), "{body}");
    }
    let (status, body) = patch(json!(["https://shop.example:8443", "http://[::1]:3000"])).await;
    assert_eq!(status, 200, "{body}");
}
